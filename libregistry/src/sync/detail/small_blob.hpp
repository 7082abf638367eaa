#pragma once
// Reading a blob small enough to hold whole, such as an image config, for the planners that look inside one.
#include "libregistry/client/registry.hpp"

#include <boost/asio/awaitable.hpp>

#include <string>

namespace libregistry::detail {

/// The bytes of `d` (whose size the caller has bounded), or errc::digest_mismatch with the message "does not
/// match its digest and size" when what arrived is not exactly the blob; other errors as the registry gave
/// them.
boost::asio::awaitable<result<std::string>> read_small_blob(registry& source, std::string repository,
                                                            descriptor d);

} // namespace libregistry::detail
