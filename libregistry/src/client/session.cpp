#include "client/session.hpp"

#include "libregistry/core/digest.hpp"
#include "libregistry/core/duration.hpp"
#include "libregistry/core/printable.hpp"
#include "libregistry/core/rate_limit.hpp"
#include "libregistry/core/redact.hpp"
#include "libregistry/core/reference.hpp"
#include "libregistry/core/registry_error.hpp"
#include "libregistry/core/retry.hpp"

#include "client/detail/for_each_bounded.hpp"

#include <boost/url.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <optional>

namespace libregistry::detail {

namespace asio = boost::asio;
namespace urls = boost::urls;

namespace {

constexpr std::size_t ping_body_limit = 64 * 1024;
constexpr std::size_t token_body_limit = 1024 * 1024;
constexpr std::size_t error_body_limit = 64 * 1024;

// Resolves a Location or Link target (relative or absolute) against the registry's base URL.
result<std::string> resolve_url(std::string_view base, std::string_view target) {
    auto ref = urls::parse_uri_reference(target);
    if (!ref)
        return make_error(errc::bad_response,
                          fmt::format("registry sent an unusable URL \"{}\"", redact_url(target)));
    if (ref->has_scheme()) return std::string(target);
    auto b = urls::parse_uri(base);
    if (!b) return make_error(errc::bad_response, fmt::format("bad base URL \"{}\"", redact_url(base)));
    urls::url out;
    auto r = urls::resolve(*b, *ref, out);
    if (!r) return make_error(errc::bad_response, fmt::format("cannot resolve \"{}\"", redact_url(target)));
    return std::string(out.buffer());
}

std::string host_of(std::string_view url) {
    auto u = urls::parse_uri(url);
    if (!u) return {};
    return std::string(u->encoded_host_and_port());
}

// How the one retry loop reads the two kinds of answer the HTTP client gives.
struct buffered {
    using value_type = http::response;
    static asio::awaitable<result<value_type>> send(http::client& client, http::request req,
                                                    std::size_t limit) {
        return client.send(std::move(req), limit);
    }
    static int status(const value_type& r) { return r.status; }
    static std::string_view header(const value_type& r, std::string_view name) { return r.header(name); }
    static asio::awaitable<std::string> body(value_type& r) { co_return r.body; }
};

struct streamed {
    using value_type = std::unique_ptr<http::response_stream>;
    static asio::awaitable<result<value_type>> send(http::client& client, http::request req, std::size_t) {
        return client.open(std::move(req));
    }
    static int status(const value_type& r) { return r->status(); }
    static std::string_view header(const value_type& r, std::string_view name) { return r->header(name); }
    static asio::awaitable<std::string> body(value_type& r) { return read_error_body(*r); }
};

} // namespace

result<void> check_names(std::string_view registry, std::string_view repository, std::string_view reference) {
    if (!is_valid_repository_path(repository))
        return make_error(errc::invalid_reference,
                          fmt::format("not sending a request to {} for repository \"{}\": it is not a valid "
                                      "repository name (lowercase path components separated by '/')",
                                      printable(registry), printable(repository, 300)));
    if (!reference.empty() && !is_valid_tag(reference) && !digest::parse(reference))
        return make_error(errc::invalid_reference,
                          fmt::format("not sending a request to {}/{} for \"{}\": it is neither a valid tag "
                                      "(letters, digits, '_', '.', '-'; at most 128 characters) nor a digest",
                                      printable(registry), repository, printable(reference, 300)));
    return {};
}

asio::awaitable<std::string> read_error_body(http::response_stream& stream) {
    std::string out;
    std::array<std::byte, 4096> chunk{};
    while (out.size() < error_body_limit) {
        auto n = co_await stream.read_some(chunk);
        if (!n || *n == 0) break;
        out.append(reinterpret_cast<const char*>(chunk.data()), *n);
    }
    co_return out;
}

registry_session::registry_session(http::client& client, remote_options options)
    : client_(client), options_(std::move(options)), api_host_(api_host_of(options_.registry)) {
    credentials_ = options_.keychain;
    if (!credentials_) {
        // The order skopeo and image-syncer users expect: explicit credentials, then the per-repository
        // rules, then the auth files.
        std::vector<std::shared_ptr<credential_source>> chain;
        if (options_.credentials) chain.push_back(fixed_credentials(*options_.credentials));
        if (!options_.credential_rules.empty())
            chain.push_back(credential_rules_source(options_.credential_rules));
        if (!options_.auth_files.empty()) chain.push_back(auth_files_source(options_.auth_files));
        credentials_ = first_of(std::move(chain));
    }
}

bool registry_session::plain_http_allowed() const {
    return options_.insecure || http::is_loopback_host(api_host_);
}

asio::awaitable<void> registry_session::pause(std::chrono::milliseconds delay) {
    co_await client_.pause(delay);
}

asio::awaitable<rate_limit_verdict> registry_session::await_rate_limit(bool pull) {
    for (;;) {
        const auto now = std::chrono::system_clock::now();
        const auto verdict = admit(rate_limit_, pull, now, options_.max_wait);
        if (verdict.action != rate_limit_action::wait) co_return verdict;
        const auto delay = std::chrono::ceil<std::chrono::milliseconds>(verdict.until - now);
        ++stats_.rate_limit_waits;
        if (on_throttle_) on_throttle_();
        const auto started = std::chrono::steady_clock::now();
        co_await pause(delay);
        // Only abort() ends a pause early: the client is shutting down, and the request goes out to fail (or
        // to clean up) at once instead of waiting on.
        if (std::chrono::steady_clock::now() - started < delay) co_return rate_limit_verdict{};
    }
}

error registry_session::rate_limit_refusal(const rate_limit_verdict& verdict, verb method,
                                           std::string_view target) const {
    auto e = make_error(errc::too_many_requests,
                        fmt::format("{}: {}", describe(method, target),
                                    refusal_message(options_.registry, verdict,
                                                    std::chrono::system_clock::now(), options_.max_wait)),
                        429);
    e.attempts = options_.retry.max_attempts; // nothing above should try again either
    return e;
}

// GET /v2/ tells whether and how to authenticate (distribution-spec "Determining support"), and which scheme
// works: HTTPS first, plain HTTP only where allowed, as docker does for insecure registries. Concurrent
// callers share one ping; a failed ping is tried again by the next caller.
asio::awaitable<result<void>> registry_session::ensure_pinged() {
    while (!pinged_) {
        std::function<asio::awaitable<result<void>>()> work = [this] { return ping(); };
        auto r = co_await ping_flight_.run("ping", work);
        if (!r) co_return r;
        pinged_ = true;
    }
    co_return result<void>{};
}

// Where plain HTTP is allowed (loopback, insecure registries), both schemes are asked at once: HTTPS still
// wins when it answers, but a plain registry no longer waits a connection and a failed handshake for it.
// The plain probe does not retry a failed connection (a TLS server may drop it); if HTTPS fails too, plain
// HTTP is asked again with retries, as a registry's only way in.
asio::awaitable<result<void>> registry_session::ping() {
    if (!plain_http_allowed()) {
        auto https = co_await ping_scheme("https", false);
        if (!https) {
            auto e = https.error();
            e.message = fmt::format("cannot reach registry {}: {}", options_.registry, e.message);
            co_return e;
        }
        co_return adopt(std::move(*https));
    }
    std::optional<result<ping_answer>> https;
    std::optional<result<ping_answer>> plain;
    std::function<asio::awaitable<void>()> probe_https = [&]() -> asio::awaitable<void> {
        https = co_await ping_scheme("https", true);
    };
    std::function<asio::awaitable<void>()> probe_plain = [&]() -> asio::awaitable<void> {
        plain = co_await ping_scheme("http", true);
    };
    co_await both(probe_https, probe_plain);
    if (*https) co_return adopt(std::move(**https));
    if (*plain) co_return adopt(std::move(**plain));
    if (plain->error().http_status == 0) {
        plain = co_await ping_scheme("http", false);
        if (*plain) co_return adopt(std::move(**plain));
    }
    // A host that answered plain HTTP with a status speaks HTTP: its answer says what is wrong. So does one
    // whose plain answer was over a size limit (1 MiB of headers), which no TLS server sends. But a 400 is
    // what TLS servers (Go's, nginx) say to plain HTTP on their port, and then the HTTPS failure (an
    // untrusted certificate, say) is the one that explains more.
    const int plain_status = plain->error().http_status;
    const bool plain_spoke_http =
        (plain_status != 0 && plain_status != 400) || plain->error().code == errc::too_large;
    auto e = plain_spoke_http ? plain->error() : https->error();
    e.message = fmt::format("cannot reach registry {}: {}", options_.registry, e.message);
    co_return e;
}

result<void> registry_session::adopt(ping_answer answer) {
    base_ = std::move(answer.base);
    challenges_ = std::move(answer.challenges);
    return {};
}

// Requests outside the API (the ping, token requests) carry no registry auth; they go through the same retry
// decision as API requests.
asio::awaitable<result<http::response>>
registry_session::send_unauthenticated(http::request req, std::size_t body_limit, bool fallback_available) {
    // Connections to a token service count as this registry's, like its own.
    req.tally = options_.registry;
    for (int attempt = 1;; ++attempt) {
        ++stats_.requests;
        auto resp = co_await client_.send(req, body_limit);
        attempt_outcome outcome;
        attempt_context context;
        context.attempt = attempt;
        context.fallback_available = fallback_available;
        if (!resp) {
            outcome.failure = resp.error();
        } else {
            outcome.status = resp->status;
            outcome.retry_after =
                parse_retry_after(resp->header("Retry-After"), std::chrono::system_clock::now());
        }
        auto decision = decide_retry(outcome, context, options_.retry, jitter());
        if (decision.action == retry_action::retry) {
            ++stats_.retries;
            co_await pause(decision.delay);
            continue;
        }
        if (!resp) {
            auto e = resp.error();
            e.attempts = attempt;
            co_return e;
        }
        co_return resp;
    }
}

asio::awaitable<result<registry_session::ping_answer>>
registry_session::ping_scheme(std::string scheme, bool fallback_available) {
    auto url = scheme + "://" + api_host_ + "/v2/";
    http::request req;
    req.method = verb::get;
    req.url = url;
    auto resp = co_await send_unauthenticated(std::move(req), ping_body_limit, fallback_available);
    if (!resp) co_return resp.error();
    if (resp->status == 200 || resp->status == 401) {
        ping_answer answer{scheme + "://" + api_host_, {}};
        if (resp->status == 401) {
            auto parsed = parse_www_authenticate(resp->header("WWW-Authenticate"));
            if (parsed) answer.challenges = std::move(*parsed);
        }
        co_return answer;
    }
    auto e = registry_error(resp->status, resp->body, resp->header("Retry-After"),
                            fmt::format("GET {}", redact_url(url)));
    co_return make_error(static_cast<errc>(e.code.value()),
                         fmt::format("{} is not an OCI registry or refused the version check: {}",
                                     options_.registry, e.message),
                         e.http_status);
}

const challenge* registry_session::find_challenge(std::string_view scheme) const {
    for (const auto& c : challenges_)
        if (c.scheme == scheme) return &c;
    return nullptr;
}

// Docker token auth spec: GET realm?service=&scope= with Basic credentials, or the OAuth2 form POST with a
// refresh (identity) token.
asio::awaitable<result<token>> registry_session::fetch_token(challenge bearer, std::vector<scope> scopes,
                                                             std::optional<credential> cred) {
    auto realm = bearer.param("realm");
    auto parsed = urls::parse_uri(realm);
    if (realm.empty() || !parsed)
        co_return make_error(
            errc::bad_response,
            fmt::format("registry {} asked for a bearer token without a usable realm", options_.registry));
    urls::url url(*parsed);
    auto service = bearer.param("service");
    http::request req;
    if (cred && !cred->identity_token.empty()) {
        req.method = verb::post;
        urls::url form;
        form.params().append({"grant_type", "refresh_token"});
        if (!service.empty()) form.params().append({"service", service});
        form.params().append({"client_id", "syncer"});
        form.params().append({"refresh_token", cred->identity_token});
        std::string joined;
        // Appended piecewise: `"" + std::string` here trips g++ 12's false -Wrestrict.
        for (const auto& s : scopes) {
            if (!joined.empty()) joined += ' ';
            joined += s.str();
        }
        if (!joined.empty()) form.params().append({"scope", joined});
        req.body = std::string(form.encoded_query());
        req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    } else {
        req.method = verb::get;
        if (!service.empty()) url.params().append({"service", service});
        for (const auto& s : scopes)
            url.params().append({"scope", s.str()});
        if (cred && !cred->username.empty())
            req.headers.emplace_back("Authorization", basic_authorization(cred->username, cred->password));
    }
    req.url = std::string(url.buffer());
    ++stats_.token_fetches;
    auto what = fmt::format("token request to {} for registry {}", redact_url(realm), options_.registry);
    auto resp = co_await send_unauthenticated(std::move(req), token_body_limit, false);
    if (!resp) {
        auto e = resp.error();
        e.message = fmt::format("{} failed: {}", what, e.message);
        co_return e;
    }
    if (resp->status == 200) {
        auto t = parse_token_response(resp->body);
        if (!t) {
            auto e = t.error();
            e.message = fmt::format("{}: {}", what, e.message);
            co_return e;
        }
        known_secrets().add(t->value);
        known_secrets().add(t->refresh_token);
        co_return *t;
    }
    if (resp->status == 401 || resp->status == 403)
        co_return make_error(errc::unauthorized,
                             fmt::format("authentication to registry {} failed ({} answered {}); check the "
                                         "username and password or token for it",
                                         options_.registry, redact_url(realm), resp->status),
                             resp->status);
    co_return registry_error(resp->status, resp->body, resp->header("Retry-After"), what);
}

// The Authorization header for `scopes`, fetching a token when the cache has none. Parallel transfers that
// need the same scopes share one token request.
asio::awaitable<result<std::string>> registry_session::authorization(std::string repository,
                                                                     std::vector<scope> scopes,
                                                                     std::optional<std::string> rejected) {
    if (challenges_.empty()) co_return std::string{};
    auto cred = co_await credentials_->find(options_.registry, repository);
    if (!cred) co_return cred.error();
    // Whatever is sent may come back in an error message or header: output scrubs it (known_secrets).
    if (*cred) {
        known_secrets().add_basic((*cred)->username, (*cred)->password);
        known_secrets().add((*cred)->identity_token);
    }
    if (const auto* bearer = find_challenge("bearer")) {
        scopes = normalize_scopes(std::move(scopes));
        auto cached = tokens_.get(options_.registry, scopes, token_cache::clock::now());
        // Only the token the registry refused is dropped: another request may have fetched a fresh one since.
        if (cached && rejected && "Bearer " + *cached == *rejected) {
            tokens_.invalidate(options_.registry, scopes);
            cached.reset();
        }
        if (cached) co_return "Bearer " + *cached;
        challenge current = *bearer;
        std::function<asio::awaitable<result<token>>()> work = [&]() -> asio::awaitable<result<token>> {
            auto now = token_cache::clock::now();
            auto t = co_await fetch_token(current, scopes, *cred);
            if (t) tokens_.put(options_.registry, scopes, *t, now);
            co_return t;
        };
        auto t = co_await token_flights_.run(scopes_key(scopes), work);
        if (!t) co_return t.error();
        co_return "Bearer " + t->value;
    }
    if (find_challenge("basic") && *cred && !(*cred)->username.empty())
        co_return basic_authorization((*cred)->username, (*cred)->password);
    co_return std::string{};
}

// Docker token auth takes several `scope=` parameters in one request; the token then carries them all. A run
// that knows its repositories asks for them in a few requests, sent at once, instead of one per repository,
// and caches the token under each scope alone, as the requests for one repository look it up. Batches stay
// small (a URL of a few KiB at most): token services and proxies cap request lines.
asio::awaitable<void> registry_session::prepare(std::vector<std::string> repositories, bool push) {
    constexpr std::size_t max_scopes = 10;
    constexpr std::size_t max_scope_bytes = 2000;
    std::sort(repositories.begin(), repositories.end());
    repositories.erase(std::unique(repositories.begin(), repositories.end()), repositories.end());
    const std::size_t ahead = std::min(repositories.size(), options_.warm_connections);
    // A request per repository is about to start. Their TCP connections open while the ping finds out the
    // scheme (when the port does not depend on it), and once it has answered they are completed (a TLS
    // handshake resuming the ping's session) or opened, while tokens are fetched and tags listed.
    const auto colon = api_host_.rfind(':');
    const auto bracket = api_host_.rfind(']'); // [v6]:port
    const bool port_given = colon != std::string::npos && (bracket == std::string::npos || colon > bracket);
    if (!pinged_ && ahead > 1 && (port_given || !plain_http_allowed())) // the ping's connection is one
        client_.preconnect("https://" + api_host_ + "/v2/", ahead - 1, options_.registry);
    if (auto p = co_await ensure_pinged(); !p) co_return;
    client_.warm(base_ + "/v2/", ahead, options_.registry);
    const auto* bearer = find_challenge("bearer");
    if (!bearer) co_return;
    const challenge current = *bearer; // a 401 meanwhile may replace challenges_
    struct batch {
        std::optional<credential> cred;
        std::vector<scope> scopes;
        std::size_t bytes = 0;
    };
    const auto same = [](const std::optional<credential>& a, const std::optional<credential>& b) {
        if (a.has_value() != b.has_value()) return false;
        return !a || (a->username == b->username && a->password == b->password &&
                      a->identity_token == b->identity_token);
    };
    std::vector<batch> batches;
    for (const auto& repository : repositories) {
        if (!is_valid_repository_path(repository)) continue;
        auto wanted = push ? push_scope(repository) : pull_scope(repository);
        const std::vector<scope> alone{wanted};
        if (tokens_.get(options_.registry, alone, token_cache::clock::now())) continue;
        auto cred = co_await credentials_->find(options_.registry, repository);
        if (!cred) continue; // the request itself reports a credential lookup that fails
        if (*cred) {
            known_secrets().add_basic((*cred)->username, (*cred)->password);
            known_secrets().add((*cred)->identity_token);
        }
        const auto bytes = wanted.str().size();
        auto open = std::find_if(batches.begin(), batches.end(), [&](const batch& b) {
            return same(b.cred, *cred) && b.scopes.size() < max_scopes && b.bytes + bytes <= max_scope_bytes;
        });
        if (open == batches.end()) {
            batches.push_back(batch{*cred, {}, 0});
            open = std::prev(batches.end());
        }
        open->scopes.push_back(std::move(wanted));
        open->bytes += bytes;
    }
    std::function<asio::awaitable<void>(std::size_t)> fetch_one =
        [&](std::size_t i) -> asio::awaitable<void> {
        const auto& b = batches[i];
        const auto now = token_cache::clock::now();
        auto t = co_await fetch_token(current, b.scopes, b.cred);
        if (!t) co_return; // each request fetches its own token, as without the hint
        for (const auto& sc : b.scopes) {
            const std::vector<scope> alone{sc};
            tokens_.put(options_.registry, alone, *t, now);
            // A token with push also reads: HEADs and GETs of the repository use it too.
            if (push) {
                const std::vector<scope> read{pull_scope(sc.name)};
                tokens_.put(options_.registry, read, *t, now);
            }
        }
    };
    co_await for_each_bounded(batches.size(), batches.size(), fetch_one);
}

// Adds Authorization to `req`, but only when it goes to the registry's own host: credentials never follow a
// Location to another host.
asio::awaitable<result<void>> registry_session::authorize(http::request& req, std::string repository,
                                                          std::vector<scope> scopes,
                                                          std::optional<std::string> rejected) {
    if (host_of(req.url) != api_host_) co_return result<void>{};
    auto auth = co_await authorization(std::move(repository), std::move(scopes), std::move(rejected));
    if (!auth) co_return auth.error();
    if (!auth->empty()) req.headers.emplace_back("Authorization", *auth);
    co_return result<void>{};
}

result<std::string> registry_session::url_for(std::string_view path_or_url) const {
    if (path_or_url.starts_with("/")) return base_ + std::string(path_or_url);
    return resolve_url(base_ + "/v2/", path_or_url);
}

std::string registry_session::describe(verb method, std::string_view target) const {
    auto url = url_for(target);
    return fmt::format("{} {}", http::method_name(method), redact_url(url ? *url : std::string(target)));
}

error registry_session::error_from(const http::response& resp, verb method, std::string_view target) const {
    auto e = registry_error(resp.status, resp.body, resp.header("Retry-After"), describe(method, target),
                            resp.header("Content-Type"));
    // After re-authenticating, a 401 that names insufficient_scope means the account lacks the permission,
    // not that the password is wrong.
    if (resp.status == 401) {
        auto parsed = parse_www_authenticate(resp.header("WWW-Authenticate"));
        if (parsed && std::any_of(parsed->begin(), parsed->end(), is_insufficient_scope))
            e = make_error(
                errc::denied,
                fmt::format("{}: registry answered 401 insufficient_scope: the credentials for {} are "
                            "valid but lack the permission this needs (push or pull on the "
                            "repository)",
                            describe(method, target), options_.registry),
                401);
    }
    return e;
}

// The one retry loop for API requests: auth, then decide_retry on every outcome. It acts on the decision in
// one place: wait and resend (bringing a resumable request up to date first), re-authenticate from the 401's
// challenge, or note that this registry wants chunked uploads.
template <class Exchange>
asio::awaitable<result<typename Exchange::value_type>> registry_session::execute(api_call c) {
    if (auto p = co_await ensure_pinged(); !p) co_return p.error();
    bool reauthenticated = false;
    std::optional<std::string> rejected; ///< the Authorization a 401 refused
    for (int attempt = 1;;) {
        auto url = url_for(c.target);
        if (!url) co_return url.error();
        const bool same_host = host_of(*url) == api_host_;
        http::request req;
        req.method = c.method;
        req.url = *url;
        req.headers = c.headers;
        req.body = c.body;
        req.source = c.source;
        req.content_length = c.content_length;
        req.tally = options_.registry;
        // Before authorizing, so that a token is not left to expire during the wait.
        if (auto admitted = co_await await_rate_limit(c.pull); admitted.action == rate_limit_action::refuse)
            co_return rate_limit_refusal(admitted, c.method, c.target);
        if (auto a = co_await authorize(req, c.repository, c.scopes, rejected); !a) co_return a.error();
        const std::string sent_authorization(http::find_header(req.headers, "Authorization"));
        ++stats_.requests;
        auto resp = co_await Exchange::send(client_, std::move(req), c.body_limit);

        attempt_outcome outcome;
        attempt_context context;
        context.attempt = attempt;
        context.replayable = c.replayable && !c.source;
        context.may_reauthenticate = same_host && !reauthenticated;
        context.monolithic_upload = c.monolithic_upload;
        std::string body;
        rate_limit_verdict refusal;
        if (!resp) {
            outcome.failure = resp.error();
        } else {
            outcome.status = Exchange::status(*resp);
            const auto now = std::chrono::system_clock::now();
            const auto retry_after = Exchange::header(*resp, "Retry-After");
            const rate_limit_headers limits{Exchange::header(*resp, "RateLimit-Remaining"),
                                            Exchange::header(*resp, "RateLimit-Reset"), retry_after};
            rate_limit_.observe(outcome.status, limits, c.pull, now);
            if (auto left = parse_rate_limit_remaining(limits.remaining))
                stats_.rate_limit_remaining = left->remaining;
            if (outcome.status == 429 || outcome.status == 503) {
                if (on_throttle_) on_throttle_();
                refusal = admit(rate_limit_, c.pull, now, options_.max_wait);
                outcome.beyond_max_wait = refusal.action == rate_limit_action::refuse;
            }
            outcome.retry_after = parse_retry_after(retry_after, now);
            if (c.monolithic_upload && outcome.status >= 400) {
                body = co_await Exchange::body(*resp);
                auto e = registry_error(outcome.status, body, "", "");
                outcome.body_code = static_cast<errc>(e.code.value());
            }
        }
        auto decision = decide_retry(outcome, context, options_.retry, jitter());
        if (decision.action == retry_action::reauthenticate) {
            // The token expired or lacked a scope: the 401's challenge is the current one.
            auto fresh = parse_www_authenticate(Exchange::header(*resp, "WWW-Authenticate"));
            if (fresh && !fresh->empty()) challenges_ = std::move(*fresh);
            reauthenticated = true;
            rejected = sent_authorization;
            continue;
        }
        if (decision.action == retry_action::retry) {
            ++stats_.retries;
            co_await pause(decision.delay);
            ++attempt;
            if (c.before_resend) {
                auto hook = c.before_resend; // it may replace `c`, itself included
                auto ready = co_await hook(c);
                if (!ready) co_return ready.error();
            }
            continue;
        }
        if (decision.action == retry_action::switch_to_chunked) monolithic_refused_ = true;
        if (!resp) {
            auto e = resp.error();
            e.attempts = attempt;
            co_return e;
        }
        // A streamed body cannot be resent with a fresh token here; drop the rejected one so that the copy
        // engine's next try fetches another.
        if (outcome.status == 401 && same_host && !context.replayable) {
            auto scopes = normalize_scopes(c.scopes);
            auto cached = tokens_.get(options_.registry, scopes, token_cache::clock::now());
            if (cached && "Bearer " + *cached == sent_authorization)
                tokens_.invalidate(options_.registry, scopes);
        }
        if (outcome.status == 429 || outcome.status >= 500) {
            if (body.empty()) body = co_await Exchange::body(*resp);
            http::response answer;
            answer.status = outcome.status;
            answer.body = std::move(body);
            for (auto name : {"Retry-After", "Content-Type"})
                if (auto v = Exchange::header(*resp, name); !v.empty()) answer.headers.emplace_back(name, v);
            if (outcome.beyond_max_wait) co_return rate_limit_refusal(refusal, c.method, c.target);
            auto e = error_from(answer, c.method, c.target);
            e.attempts = attempt;
            // Docker Hub's used-up pull limit: nothing says when it resets, so it was retried like any 429.
            auto remaining = parse_rate_limit_remaining(Exchange::header(*resp, "RateLimit-Remaining"));
            if (outcome.status == 429 && remaining && remaining->remaining == 0)
                e.message += fmt::format(
                    "; its pull limit is used up (RateLimit-Remaining 0{}) and it did not say when the limit "
                    "resets",
                    remaining->window_seconds > 0
                        ? fmt::format(" in a window of {}",
                                      format_duration(std::chrono::seconds(remaining->window_seconds)))
                        : std::string());
            co_return e;
        }
        co_return std::move(*resp);
    }
}

asio::awaitable<result<http::response>> registry_session::send(api_call c) {
    auto r = co_await execute<buffered>(std::move(c));
    if (!r) ++stats_.errors;
    co_return r;
}

asio::awaitable<result<std::unique_ptr<http::response_stream>>> registry_session::open(api_call c) {
    auto r = co_await execute<streamed>(std::move(c));
    if (!r) ++stats_.errors;
    co_return r;
}

} // namespace libregistry::detail
