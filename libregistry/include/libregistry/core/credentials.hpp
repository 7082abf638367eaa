#pragma once
// Registry credentials as values: explicit user/password, and what docker `config.json` and containers
// `auth.json` say for a registry. Pure: running `docker-credential-NAME get` is the client layer's job
// (client/credential_source.hpp); this part says which helper to ask and reads its answer.
#include "libregistry/core/error.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace libregistry {

struct credential {
    std::string username;
    std::string password;
    std::string
        identity_token; ///< OAuth2 refresh token (docker `identitytoken`); used with the token POST form

    bool empty() const noexcept { return username.empty() && password.empty() && identity_token.empty(); }
};

/// Parses `USER[:PASS]` as skopeo's --creds takes it.
result<credential> parse_user_password(std::string_view text);

/// The `Authorization` value for HTTP Basic authentication (RFC 7617).
std::string basic_authorization(std::string_view username, std::string_view password);

/// The default auth file search order: `$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`,
/// `$DOCKER_CONFIG/config.json`, `~/.docker/config.json`. Only existing files are returned.
std::vector<std::string> default_auth_files();

/// One parsed auth file (docker config.json or containers auth.json; both share the `auths` shape).
class auth_file {
public:
    /// Parses `text`; `path` is only used in messages.
    static result<auth_file> parse(std::string_view text, std::string path);
    static result<auth_file> load(const std::string& path);

    /// What the file says for `registry` (normalised host[:port], `docker.io` for Docker Hub). Keys may be
    /// written as URLs (`https://index.docker.io/v1/`), with paths (`quay.io/org`: longest matching
    /// namespace wins for `repository`) or as bare hosts.
    struct lookup_plan {
        std::string helper;                     ///< credHelpers for the host: asked first; "" when none
        std::optional<credential> inline_entry; ///< the best `auths` entry, used when the helper has none
        std::string store;                      ///< credsStore: asked when neither of the above answered
        std::string server;                     ///< what a helper is asked about (docker's name for the host)
    };
    lookup_plan resolve(std::string_view registry, std::string_view repository = {}) const;

    const std::string& path() const noexcept { return path_; }

private:
    struct entry {
        std::string key; ///< normalised: host[/path]
        credential cred;
    };
    std::string path_;
    std::vector<entry> auths_;
    std::vector<std::pair<std::string, std::string>> cred_helpers_; ///< normalised host -> helper name
    std::string creds_store_;
};

/// `text` (an auth file's content; "" for a file not yet written) with `cred` stored for `registry` as
/// `skopeo login` and `docker login` store it: `auths[registry] = {"auth": base64("user:password")}`,
/// replacing the entries whose key names the same host (`https://host/`, `host`); every other key and entry
/// is kept as it was, in its order. Tab-indented, with a final newline. `path` is only used in messages.
result<std::string> auth_file_with_login(std::string_view text, std::string_view path,
                                         std::string_view registry, const credential& cred);

/// What `auth_file_without_login` did: the new content and how many `auths` entries it removed.
struct auth_file_removal {
    std::string text;
    std::size_t removed = 0;
};

/// `text` without the `auths` entries for `registry` (every key that names that host; keys with a
/// repository path, `host/org`, too), or without every `auths` entry when `registry` is empty (`logout
/// --all`); the rest as auth_file_with_login keeps it.
result<auth_file_removal> auth_file_without_login(std::string_view text, std::string_view path,
                                                  std::string_view registry);

/// The program that serves `docker-credential-<helper>`, or an error for a name that is not one (a slash
/// would make it a path to run).
result<std::string> credential_helper_program(std::string_view helper);

/// Reads what `docker-credential-<helper> get` printed and how it exited (`wait_status` as waitpid gives
/// it): `{"Username","Secret"}` on success, nullopt for "credentials not found", an error naming the
/// program otherwise. The `<token>` username marks an identity token.
result<std::optional<credential>> parse_credential_helper_answer(std::string_view program, int wait_status,
                                                                 std::string_view out, std::string_view err);

} // namespace libregistry
