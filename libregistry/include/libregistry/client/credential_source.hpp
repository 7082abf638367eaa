#pragma once
// Where a registry session gets credentials: a source answers "what are the credentials for this repository
// of this registry?" (go-containerregistry calls it a Keychain). Explicit credentials, image-syncer's auth
// rules, docker/containers auth files and their credential helpers are sources; `first_of` chains them.
//
// Credential helpers are programs that may take seconds (a desktop keychain prompt, a cloud CLI). They run on
// a credential_helper_runner's threads with a deadline, so a slow helper holds up only the requests that wait
// for its answer, never the io_context's other transfers.
#include "libregistry/core/credential_rules.hpp"
#include "libregistry/core/credentials.hpp"
#include "libregistry/core/error.hpp"

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boost::asio {
class thread_pool;
}

namespace libregistry {

class credential_source {
public:
    virtual ~credential_source() = default;
    /// Credentials for `repository` of `registry` (normalised: `docker.io`, `quay.io`, `host:port`);
    /// nullopt when this source has none for it.
    virtual boost::asio::awaitable<result<std::optional<credential>>> find(std::string registry,
                                                                           std::string repository) = 0;
};

/// Runs `docker-credential-NAME get` off the calling thread (see the file comment).
class credential_helper_runner {
public:
    explicit credential_helper_runner(std::size_t threads = 1);
    ~credential_helper_runner();
    credential_helper_runner(const credential_helper_runner&) = delete;
    credential_helper_runner& operator=(const credential_helper_runner&) = delete;

    /// Asks `helper` about `server`; resumes on the caller's executor.
    boost::asio::awaitable<result<std::optional<credential>>> get(std::string helper, std::string server);

private:
    std::unique_ptr<boost::asio::thread_pool> pool_;
};

/// The same credentials for every repository (skopeo's --creds).
std::shared_ptr<credential_source> fixed_credentials(credential cred);

/// image-syncer's auth file: the rule whose key is the longest prefix of `registry/repository`.
std::shared_ptr<credential_source> credential_rules_source(std::vector<credential_rule> rules);

/// docker config.json / containers auth.json files, searched in order (see default_auth_files). Each file is
/// read when first needed; its helpers run on `helpers` (a private runner when null). Answers are remembered
/// per repository, and concurrent lookups for one repository ask a helper once.
std::shared_ptr<credential_source> auth_files_source(std::vector<std::string> files,
                                                     std::shared_ptr<credential_helper_runner> helpers = {});

/// Asks `sources` in order; the first that has credentials answers. An error ends the search.
std::shared_ptr<credential_source> first_of(std::vector<std::shared_ptr<credential_source>> sources);

/// Runs `docker-credential-<helper> get` with `server` on stdin and reads its answer, on the calling thread
/// (blocking, at most 30 s). A helper that answers "credentials not found" gives nullopt.
result<std::optional<credential>> run_credential_helper(std::string_view helper, std::string_view server);

/// Runs `docker-credential-<helper> store` with `{"ServerURL","Username","Secret"}` on stdin, as `docker
/// login` does, on the calling thread (blocking, at most 30 s). An identity token is stored with the
/// `<token>` username.
result<void> store_with_credential_helper(std::string_view helper, std::string_view server,
                                          const credential& cred);

/// Runs `docker-credential-<helper> erase` with `server` on stdin (blocking, at most 30 s): true when the
/// helper erased an entry, false when it had none ("credentials not found").
result<bool> erase_with_credential_helper(std::string_view helper, std::string_view server);

/// What `file` gives for `registry`/`repository`: the credHelpers entry for the host first, then the inline
/// entry, then credsStore; helpers run on `helpers`.
boost::asio::awaitable<result<std::optional<credential>>>
lookup_credentials(const auth_file& file, std::string registry, std::string repository,
                   credential_helper_runner& helpers);

} // namespace libregistry
