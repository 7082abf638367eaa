#pragma once
// The per-registry session behind remote_registry: ping and scheme discovery, credentials, tokens, the rate
// limit the registry reports, and `send`/`open`, which carry every request through the one retry loop. The
// API operations (manifests.cpp, blobs.cpp, uploads.cpp, listing.cpp) only build requests and read answers.
#include "libregistry/client/credential_source.hpp"
#include "libregistry/client/remote_registry.hpp"
#include "libregistry/core/challenge.hpp"
#include "libregistry/core/rate_limit.hpp"
#include "libregistry/core/token.hpp"
#include "libregistry/http/client.hpp"

#include "client/detail/single_flight.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace libregistry::detail {

using verb = http::verb;

/// One request to the registry's API.
struct api_call {
    verb method = verb::get;
    std::string target; ///< "/v2/..." or a URL from Location/Link
    http::fields headers;
    std::string body;
    /// A streamed body (a blob upload): sent once, never replayed; `content_length` -1 sends it chunked.
    http::body_source* source = nullptr;
    std::int64_t content_length = -1;
    std::string repository;
    std::vector<scope> scopes;
    std::size_t body_limit = 16 * 1024 * 1024;
    /// False when the caller resumes the request itself; true sends it again after passing failures.
    bool replayable = true;
    /// A one-shot blob PUT: a refusal switches this registry's later uploads to chunks.
    bool monolithic_upload = false;
    /// A manifest GET: what registries count against a pull quota (Docker Hub), and so what a used-up quota
    /// holds back.
    bool pull = false;
    /// Runs before each resend (after the pause): a resumable request brings itself up to date (a PATCH asks
    /// the registry how much it holds). An error ends the request with it.
    std::function<boost::asio::awaitable<result<void>>(api_call&)> before_resend;
};

/// Checks the names put into a request path, the repository and a tag or digest, before anything is sent: a
/// name from a registry's listing or a file cannot climb out of its repository (`../`) or carry controls
/// into a request line.
result<void> check_names(std::string_view registry, std::string_view repository,
                         std::string_view reference = {});

/// What an error answer's body says, read up to a small limit (error bodies are small; a huge one is cut).
boost::asio::awaitable<std::string> read_error_body(http::response_stream& stream);

class registry_session {
public:
    registry_session(http::client& client, remote_options options);

    const std::string& name() const noexcept { return options_.registry; }
    const remote_options& options() const noexcept { return options_; }
    remote_statistics& stats() noexcept { return stats_; }
    /// Called on every 429 or 503 answer and every wait for the rate limit (registry::on_throttle).
    void on_throttle(std::function<void()> observer) { on_throttle_ = std::move(observer); }
    http::client& client() noexcept { return client_; }

    /// Fetches tokens for several repositories' scopes at once, in batches; see remote_registry::prepare.
    boost::asio::awaitable<void> prepare(std::vector<std::string> repositories, bool push);

    /// Sends `c` and reads the whole answer. Passing failures, 429 and 5xx are retried (when `replayable`);
    /// a final 429 or 5xx comes back as an error carrying its attempts. Other statuses are the caller's.
    boost::asio::awaitable<result<http::response>> send(api_call c);
    /// The same, returning once the headers are read; the body is left to the caller.
    boost::asio::awaitable<result<std::unique_ptr<http::response_stream>>> open(api_call c);

    /// Uploads after a refused one-shot PUT go in chunks.
    bool monolithic_refused() const noexcept { return monolithic_refused_; }
    /// What is known of the registry taking a blob in one `POST ?digest=` with its body (distribution-spec
    /// "Pushing a blob monolithically", single POST). `probing`: one upload is finding out; others meanwhile
    /// open a session as usual, so that at most one body is sent twice.
    enum class single_post { unknown, probing, works, refused };
    single_post single_post_state() const noexcept { return single_post_; }
    void note_single_post(single_post state) noexcept { single_post_ = state; }
    /// The registry answered a referrers API request with 404 or without an index: it has no referrers API,
    /// and later listings read the tag schema at once.
    bool referrers_api_absent() const noexcept { return referrers_api_absent_; }
    void note_referrers_api_absent() noexcept {
        referrers_api_absent_ = true;
        referrers_api_known_ = true;
    }
    /// Whether an answer said if the registry has the referrers API (a listing, or a 404 of the route).
    bool referrers_api_known() const noexcept { return referrers_api_known_; }
    void note_referrers_api_present() noexcept { referrers_api_known_ = true; }
    /// The first referrers listing of a run leads; those started meanwhile wait for it, so that a registry
    /// without the API answers one 404, not one per subject listed at once.
    single_flight<bool>& referrers_probe() noexcept { return referrers_probe_; }

    /// "GET https://registry/v2/..." with secrets redacted, for messages.
    std::string describe(verb method, std::string_view target) const;
    /// The error an unexpected answer means, with the OCI error body, and 401 insufficient_scope explained.
    error error_from(const http::response& resp, verb method, std::string_view target) const;

    /// Waits out a backoff (abort() on the client ends it early).
    boost::asio::awaitable<void> pause(std::chrono::milliseconds delay);

private:
    template <class Exchange>
    boost::asio::awaitable<result<typename Exchange::value_type>> execute(api_call c);

    boost::asio::awaitable<result<http::response>>
    send_unauthenticated(http::request req, std::size_t body_limit, bool fallback_available);
    boost::asio::awaitable<result<void>> ensure_pinged();
    /// What a ping that worked found: the base URL and the auth challenges of GET /v2/.
    struct ping_answer {
        std::string base;
        std::vector<challenge> challenges;
    };
    boost::asio::awaitable<result<void>> ping();
    boost::asio::awaitable<result<ping_answer>> ping_scheme(std::string scheme, bool fallback_available);
    result<void> adopt(ping_answer answer);
    boost::asio::awaitable<result<token>> fetch_token(challenge bearer, std::vector<scope> scopes,
                                                      std::optional<credential> cred);
    /// The Authorization value for `scopes`; `rejected` is a value a 401 refused, which is not used again.
    boost::asio::awaitable<result<std::string>>
    authorization(std::string repository, std::vector<scope> scopes, std::optional<std::string> rejected);
    boost::asio::awaitable<result<void>> authorize(http::request& req, std::string repository,
                                                   std::vector<scope> scopes,
                                                   std::optional<std::string> rejected);
    result<std::string> url_for(std::string_view path_or_url) const;
    const challenge* find_challenge(std::string_view scheme) const;
    bool plain_http_allowed() const;
    /// Waits while the registry's rate limit holds a request back (`pull`: one counted against the pull
    /// quota); one pause for all requests, as every request waits for the same time. Gives `go`, or the
    /// refusal when the wait is longer than options().max_wait.
    boost::asio::awaitable<rate_limit_verdict> await_rate_limit(bool pull);
    /// The error of a request that the rate limit refused, sent or not.
    error rate_limit_refusal(const rate_limit_verdict& verdict, verb method, std::string_view target) const;

    http::client& client_;
    remote_options options_;
    std::shared_ptr<credential_source> credentials_;
    std::string api_host_;
    std::string base_; ///< scheme://api_host, known after the ping
    std::vector<challenge> challenges_;
    bool pinged_ = false;
    single_flight<result<void>> ping_flight_;
    token_cache tokens_;
    single_flight<result<token>> token_flights_; ///< by scope set
    bool monolithic_refused_ = false;
    single_post single_post_ = single_post::unknown;
    bool referrers_api_absent_ = false;
    bool referrers_api_known_ = false;
    single_flight<bool> referrers_probe_;
    /// What the registry's answers said about its rate limit: when requests may go out again.
    rate_limit_state rate_limit_;
    remote_statistics stats_;
    std::function<void()> on_throttle_;
};

} // namespace libregistry::detail
