#pragma once
// Registry credentials: explicit user/password, docker `config.json`, containers `auth.json`, and credential
// helpers (`docker-credential-NAME get`).
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

/// The default auth file search order: `$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`,
/// `$DOCKER_CONFIG/config.json`, `~/.docker/config.json`. Only existing files are returned.
std::vector<std::string> default_auth_files();

/// One parsed auth file (docker config.json or containers auth.json; both share the `auths` shape).
class auth_file {
public:
    /// Parses `text`; `path` is only used in messages.
    static result<auth_file> parse(std::string_view text, std::string path);
    static result<auth_file> load(const std::string& path);

    /// Looks up `registry` (normalised host[:port], `docker.io` for Docker Hub). Keys may be written as URLs
    /// (`https://index.docker.io/v1/`), with paths (`quay.io/org`: longest matching namespace wins for
    /// `repository`) or as bare hosts. A `credHelpers` helper for the host runs first, then inline entries
    /// are searched, then `credsStore` runs. nullopt when nothing applies.
    result<std::optional<credential>> lookup(std::string_view registry,
                                             std::string_view repository = {}) const;

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

/// Runs `docker-credential-<helper> get` with `server` on stdin and parses `{"Username","Secret"}`. A helper
/// that answers "credentials not found" gives nullopt. The `<token>` username marks an identity token.
result<std::optional<credential>> run_credential_helper(std::string_view helper, std::string_view server);

/// Searches `files` in order (see default_auth_files) and returns the first match.
result<std::optional<credential>> lookup_credentials(const std::vector<std::string>& files,
                                                     std::string_view registry,
                                                     std::string_view repository = {});

} // namespace libregistry
