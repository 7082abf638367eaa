#pragma once
// The image layouts and archives a command reads or writes (`oci:DIR`, `oci-archive:FILE`), opened once each
// by their storage registry name (libregistry/core/transport.hpp) and finished together at the end.
#include <libregistry/core/digest.hpp>
#include <libregistry/core/transport.hpp>
#include <libregistry/storage/oci_layout_registry.hpp>
#include <libregistry/storage/storage_registry.hpp>

#include <map>
#include <memory>
#include <set>
#include <string>

namespace syncer {

class session;
struct endpoint_flags;

class storage_registries {
public:
    /// The layout or archive `name` (`oci:DIR`, `oci-archive:FILE`, `docker-archive:FILE`), opened the first
    /// time for reading or writing. Throws usage_error when it cannot be opened (the message names the path
    /// and why).
    libregistry::storage_registry&
    open(const std::string& name, bool writable,
         libregistry::layout_naming naming = libregistry::layout_naming::bundle);
    /// For a dry run: `name` opened for reading when it exists, and otherwise an empty bundle that is never
    /// written (libregistry::empty_registry), so that nothing is created on disk.
    libregistry::storage_registry& open_for_planning(const std::string& name);
    /// Already opened, or nullptr.
    libregistry::storage_registry* find(const std::string& name) const;
    /// finish() of every one opened for writing, in the order opened; the first failure.
    libregistry::result<void> finish();
    bool any_writable() const { return !writable_.empty(); }

private:
    std::map<std::string, std::unique_ptr<libregistry::storage_registry>> opened_;
    std::vector<std::string> writable_;
};

/// An image argument of a command and the registry that holds it.
struct image_argument {
    libregistry::image_location location;
    libregistry::registry& reg;
    /// The name the output shows, as a registry's `host/repository`: `oci:DIR:REPOSITORY`, or `oci:DIR`
    /// for a layout whose entries carry a tag alone.
    std::string name() const;
};

/// Opens the image argument `text` (`[docker://]host/repo:tag`, `oci:DIR:[REPO:]TAG`, `oci-archive:...`,
/// `docker-archive:...`): a registry client of `s` with `flags`, or the layout or archive through `storage`
/// (`writable` only for a command that changes it). With `repository_only` (tags) the text names a
/// repository: `host/repo`, `oci:DIR:REPO`, or `oci:DIR` for every tag of a layout written as skopeo's
/// `oci:DIR:TAG` does. Throws usage_error naming `command` for text that is none of these.
image_argument open_image_argument(session& s, storage_registries& storage, const std::string& text,
                                   const endpoint_flags& flags, bool writable, bool repository_only = false);

} // namespace syncer
