#pragma once
// Files syncer reads secrets from (image-syncer --auth / --config, --authfile, docker and containers auth
// files, TLS client keys in certificate directories) should be private to their owner, as ssh insists for its
// keys; syncer warns rather than refuses.
#include <optional>
#include <string>
#include <string_view>

namespace syncer {

/// The warning for `path`, a `kind` ("credentials file") with permission bits `mode`, or nullopt when no bit
/// of 077 is set (only the owner has access).
std::optional<std::string> exposure_warning(std::string_view path, unsigned mode,
                                            std::string_view kind = "credentials file");

/// Prints exposure_warning for `path` on stderr, at most once per file per process. Files that cannot be
/// examined (missing, unreadable) are left to the code that reads them.
void warn_if_exposed(const std::string& path, std::string_view kind = "credentials file");

/// warn_if_exposed for the client keys (`*.key`) of a certificate directory.
void warn_if_keys_exposed(const std::string& cert_dir);

} // namespace syncer
