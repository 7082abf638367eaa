#pragma once
// `registry` over the OCI distribution HTTP API: ping and scheme discovery, Basic and Bearer auth with a
// token cache, retries, and streamed blob transfers.
#include "libregistry/client/credential_source.hpp"
#include "libregistry/client/registry.hpp"
#include "libregistry/core/credential_rules.hpp"
#include "libregistry/core/credentials.hpp"
#include "libregistry/core/retry.hpp"
#include "libregistry/http/client.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace libregistry {

namespace detail {
class registry_session;
}

struct remote_options {
    /// Normalised registry name (`docker.io`, `quay.io`, `127.0.0.1:5000`).
    std::string registry;
    /// Where credentials come from. When null, the three fields below are chained in their order.
    std::shared_ptr<credential_source> keychain;
    /// Used for every repository of this registry when set.
    std::optional<credential> credentials;
    /// Per-repository credentials by longest prefix (image-syncer's auth file), tried before `auth_files`.
    std::vector<credential_rule> credential_rules;
    /// Searched (in order) when neither of the above applies; see default_auth_files().
    std::vector<std::string> auth_files;
    /// Allow plain HTTP (tried after HTTPS fails). Loopback registries always may.
    bool insecure = false;
    retry_policy retry;
    /// The longest this registry's rate limit is waited for (a 429's or 503's Retry-After, a used-up quota's
    /// RateLimit-Reset), once for all requests to it; requests held back longer fail at once, saying when
    /// the limit ends (core/rate_limit.hpp).
    std::chrono::milliseconds max_wait{std::chrono::minutes(5)};
    /// prepare() opens connections for the repositories it is told about, one per repository up to this
    /// many (http::client::warm), while tokens are fetched; 0 opens none ahead of requests.
    std::size_t warm_connections = 16;
};

/// Counters, for reports and tests.
struct remote_statistics {
    std::uint64_t requests = 0;
    std::uint64_t token_fetches = 0;
    std::uint64_t retries = 0;
    std::uint64_t upload_resumes = 0; ///< PATCH chunks resent from the registry's reported offset
    std::uint64_t rate_limit_waits =
        0; ///< requests that waited for the registry's rate limit before going out
    /// Requests that came back as errors after their retries (no connection, a last 429 or 5xx, a refused
    /// rate limit, failed auth); answers left to the caller, a 404 say, are not errors here.
    std::uint64_t errors = 0;
    /// Connections this registry's requests opened (to it, its token service, storage it redirected to),
    /// and their TLS handshakes: full ones, and those that resumed an earlier connection's session.
    std::uint64_t connections = 0;
    std::uint64_t tls_handshakes = 0;
    std::uint64_t tls_resumed = 0;
    /// The last `RateLimit-Remaining` the registry sent (Docker Hub's pulls left); unset if it sent none.
    std::optional<long long> rate_limit_remaining;
};

class remote_registry final : public registry {
public:
    /// `client` must outlive this object. Host TLS settings come from the client's `settings_for`.
    remote_registry(http::client& client, remote_options options);
    ~remote_registry() override;

    std::string name() const override;

    /// Fetches Docker bearer tokens for the repositories' scopes in batches (at most 10 scopes and 2,000
    /// bytes of scope per token request, several requests at once) and caches each token for every scope it
    /// was asked for. A token service that grants less makes a later request answer 401 insufficient_scope;
    /// that request then fetches a token for its own repository, as without this hint. Once the registry
    /// answered its ping, connections for the requests to come open meanwhile (`warm_connections`).
    boost::asio::awaitable<void> prepare(std::vector<std::string> repositories,
                                         repository_access access) override;

    boost::asio::awaitable<result<std::optional<descriptor>>> head_manifest(std::string repository,
                                                                            std::string ref) override;
    boost::asio::awaitable<result<manifest>> get_manifest(std::string repository, std::string ref) override;
    boost::asio::awaitable<result<pushed_manifest>> put_manifest(std::string repository, std::string ref,
                                                                 manifest m) override;
    boost::asio::awaitable<result<bool>> has_blob(std::string repository, digest d) override;
    boost::asio::awaitable<result<std::unique_ptr<blob_reader>>> get_blob(std::string repository,
                                                                          descriptor desc) override;
    boost::asio::awaitable<result<std::optional<upload_session>>>
    start_upload(std::string repository, std::optional<digest> d,
                 std::optional<std::string> mount_from) override;
    boost::asio::awaitable<result<void>> finish_upload(upload_session session, descriptor desc,
                                                       blob_reader& reader) override;
    boost::asio::awaitable<void> cancel_upload(upload_session session) override;
    boost::asio::awaitable<result<std::vector<std::string>>> list_tags(std::string repository) override;
    /// GET /v2/<name>/referrers/<digest>, following `Link` pages (bounded like the tag list); a 404, or a
    /// first answer that is not an image index, means the registry has no referrers API, and the tag schema's
    /// tag is read instead (a 404 there: no referrers). The artifactType filter is sent to the registry and
    /// applied again here, since a registry may ignore it (it says so by leaving out OCI-Filters-Applied).
    /// Once the API was found absent, this registry's later listings read the tag schema's tag at once.
    boost::asio::awaitable<result<referrer_list>> list_referrers(std::string repository, digest subject,
                                                                 std::optional<std::string> artifact_type,
                                                                 bool tag_schema = true) override;
    boost::asio::awaitable<result<bool>> delete_tag(std::string repository, std::string tag) override;
    boost::asio::awaitable<result<bool>> delete_manifest(std::string repository, digest d) override;
    void on_throttle(std::function<void()> observer) override;

    /// Lists repositories (`/v2/_catalog`), following pagination.
    boost::asio::awaitable<result<std::vector<std::string>>> catalog();

    /// GET /v2/ with this registry's credentials, as `docker login` checks them: Basic, or a Bearer token
    /// asked for without a scope. Nothing when the registry accepts them; errc::unauthorized when it answers
    /// 401 (or its token service refuses them); other failures as they came.
    boost::asio::awaitable<result<void>> check_credentials();

    remote_statistics stats() const;

private:
    std::unique_ptr<detail::registry_session> session_;
};

} // namespace libregistry
