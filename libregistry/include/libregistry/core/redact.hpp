#pragma once
// Keeps secrets out of messages and logs.
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace libregistry {

/// A URL fit for messages: userinfo removed, and query values other than the harmless ones (`n`, `last`,
/// `digest`, `mount`, `from`, `service`, `scope`) replaced by `REDACTED` (upload `_state`, signed storage
/// URLs).
std::string redact_url(std::string_view url);

/// A header value fit for `--debug`. Only headers known to carry no secret are shown: the HTTP framing and
/// content headers, the distribution API's (`Docker-Content-Digest`, `Docker-Upload-UUID`, `Range`, ...),
/// challenges, rate limits and retry hints; `Location`, `Content-Location` and the URLs in `Link` go through
/// redact_url. Every other value, `Authorization` and cookies included, becomes `REDACTED`: a header the
/// allow-list does not know (`X-Echo: Basic ...` from a proxy that echoes requests) may hold anything.
std::string redact_header(std::string_view name, std::string_view value);

/// The secrets a process knows (passwords, the base64 `user:password` of Basic auth, identity, refresh and
/// bearer tokens) and their removal from text bound for output, whatever the text: a registry or proxy may
/// echo a request's credentials in its error messages. Thread-safe.
///
/// Secrets shorter than `min_length` (4) characters are not kept: scrubbing two or three characters would
/// mangle digests and names everywhere, and such a password is not worth protecting by this. The base64 form
/// and `user:password` are kept whatever the password's length, so an echoed Basic header is always removed.
class secret_set {
public:
    static constexpr std::size_t min_length = 4;

    /// Keeps `secret`, its percent-encoded form (as it travels in a form body or a query) and its
    /// JSON-escaped form (as it appears in a JSON text quoted raw) when those differ. Empty and short secrets
    /// are ignored.
    void add(std::string_view secret);

    /// The password, `username:password` and its base64 (padded and unpadded), as in a Basic `Authorization`
    /// header and an auth file's `auth` field; nothing for an empty password.
    void add_basic(std::string_view username, std::string_view password);

    /// `text` with every occurrence of a kept secret replaced by `REDACTED`; overlapping or adjacent
    /// occurrences become one `REDACTED`.
    std::string scrub(std::string_view text) const;

    bool empty() const;

private:
    void insert(std::string secret); // under mutex_

    mutable std::mutex mutex_;
    /// The secrets, indexed by their first min_length bytes; each list is longest first.
    std::unordered_map<std::string, std::vector<std::string>> by_prefix_;
};

/// The process's secret set: the registry client adds the credentials it sends and the tokens it obtains,
/// applications add what they read from flags and files, and every output sink scrubs through it.
secret_set& known_secrets();

/// known_secrets().scrub(text).
std::string scrub_secrets(std::string_view text);

} // namespace libregistry
