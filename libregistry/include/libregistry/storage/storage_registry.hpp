#pragma once
// What the storage back ends (image layouts and archives) add to the registry interface: an explicit end of
// writing. The copy engine never calls it; whoever opened the back end for writing does, once the copies are
// done.
#include "libregistry/client/registry.hpp"
#include "libregistry/core/error.hpp"

#include <string>
#include <vector>

namespace libregistry {

class storage_registry : public registry {
public:
    /// Makes what was written visible and durable: a layout's index.json is replaced (atomically, after
    /// every blob and manifest it names is on disk), an archive is written and renamed into place. Until
    /// then readers see the previous state, and a writer abandoned without finish() (killed, or destroyed)
    /// leaves it as it was. May be called again after more writes. A back end opened for reading only
    /// returns success without doing anything.
    virtual result<void> finish() = 0;
    /// The repositories the bundle holds images of, in order of first appearance, as the registry catalog
    /// lists a registry's (`syncer catalog oci:DIR`).
    virtual std::vector<std::string> repositories() const = 0;
};

} // namespace libregistry
