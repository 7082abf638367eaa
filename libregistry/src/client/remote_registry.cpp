#include "libregistry/client/remote_registry.hpp"

#include "libregistry/core/challenge.hpp"
#include "libregistry/core/link_header.hpp"
#include "libregistry/core/redact.hpp"
#include "libregistry/core/reference.hpp"
#include "libregistry/core/registry_error.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/url.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <charconv>

namespace libregistry {

namespace asio = boost::asio;
namespace urls = boost::urls;
using boost::beast::http::verb;

namespace {

std::string base64(std::string_view in) {
    std::string out(4 * ((in.size() + 2) / 3), '\0');
    auto n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                             reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::string_view verb_name(verb v) {
    return boost::beast::http::to_string(v);
}

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
    std::string host(u->encoded_host_and_port());
    return host;
}

bool is_digest_ref(std::string_view ref) {
    return ref.find(':') != std::string_view::npos;
}

std::string content_type_base(std::string_view ct) {
    auto semi = ct.find(';');
    auto out = ct.substr(0, semi);
    while (!out.empty() && out.back() == ' ')
        out.remove_suffix(1);
    return std::string(out);
}

// Streams a blob into an upload request while hashing and counting it. The bytes that complete the declared
// size are handed over only after the digest checked out, so a corrupt blob never reaches a registry commit:
// the request is aborted instead (distribution-spec: the registry would otherwise verify `digest=` itself,
// but not every registry does).
class verifying_source final : public http::body_source {
public:
    verifying_source(blob_reader& reader, const descriptor& desc, std::int64_t limit, std::size_t buffer_size)
        : reader_(reader), desc_(desc), limit_(limit), hasher_(desc.digest.algorithm()),
          buffer_(buffer_size) {}

    asio::awaitable<result<std::span<const std::byte>>> next() override {
        if (limit_ >= 0 && sent_ >= limit_) co_return std::span<const std::byte>{};
        if (done_) co_return std::span<const std::byte>{};
        std::size_t want = buffer_.size();
        if (limit_ >= 0) want = std::min<std::size_t>(want, static_cast<std::size_t>(limit_ - sent_));
        auto n = co_await reader_.read(std::span<std::byte>(buffer_.data(), want));
        if (!n) {
            failure_ = n.error();
            co_return std::move(n).error();
        }
        total_ += static_cast<std::int64_t>(*n);
        if (*n == 0 || (desc_.size >= 0 && total_ >= desc_.size)) {
            if (desc_.size >= 0 && total_ != desc_.size) {
                failure_ =
                    make_error(errc::size_mismatch,
                               fmt::format("blob {} is {} bytes at the source, but its descriptor says {}",
                                           desc_.digest.str(), total_, desc_.size));
                co_return *failure_;
            }
            hasher_.update(buffer_.data(), *n);
            auto got = hasher_.finish();
            done_ = true;
            if (got != desc_.digest) {
                failure_ = make_error(errc::digest_mismatch,
                                      fmt::format("blob {} from the source hashes to {}; not uploading it",
                                                  desc_.digest.str(), got.str()));
                co_return *failure_;
            }
        } else {
            hasher_.update(buffer_.data(), *n);
        }
        sent_ += static_cast<std::int64_t>(*n);
        co_return std::span<const std::byte>(buffer_.data(), *n);
    }

    /// Starts the next PATCH chunk: `limit` more bytes.
    void next_chunk(std::int64_t limit) {
        limit_ = limit;
        sent_ = 0;
    }
    bool done() const { return done_; }
    std::int64_t total() const { return total_; }
    const std::optional<error>& failure() const { return failure_; }

private:
    blob_reader& reader_;
    descriptor desc_;
    std::int64_t limit_;
    std::int64_t sent_ = 0;
    std::int64_t total_ = 0;
    digester hasher_;
    std::vector<std::byte> buffer_;
    bool done_ = false;
    std::optional<error> failure_;
};

constexpr std::size_t transfer_buffer_size = 256 * 1024;
constexpr std::int64_t default_chunk_size = 8 * 1024 * 1024; // held in memory while it is sent

} // namespace

struct remote_registry::impl {
    http::client& client;
    remote_options options;
    std::string api_host;
    std::string base; ///< scheme://api_host, known after the ping
    std::vector<challenge> challenges;
    bool pinged = false;
    bool pinging = false;
    std::optional<asio::steady_timer> ping_done;
    token_cache tokens;
    struct token_fetch {
        explicit token_fetch(asio::any_io_executor ex) : timer(ex, asio::steady_timer::time_point::max()) {}
        asio::steady_timer timer;
        bool done = false;
        std::string value;
        std::optional<error> failure;
    };
    std::map<std::string, std::shared_ptr<token_fetch>> token_fetches; ///< by scope set, while in flight
    std::map<std::string, std::optional<credential>, std::less<>> credentials_by_repository;
    bool monolithic_refused = false;
    /// The last RateLimit-Remaining the registry sent (Docker Hub: pulls left in the window), and the window.
    std::optional<long long> rate_remaining;
    long long rate_window_seconds = 0;
    remote_statistics stats;

    // `RateLimit-Remaining: 76;w=21600` (the IETF RateLimit header fields draft, as Docker Hub sends them).
    void note_rate_limit(std::string_view header) {
        if (header.empty()) return;
        auto semi = header.find(';');
        auto count = header.substr(0, semi);
        long long n = 0;
        auto [p, ec] = std::from_chars(count.data(), count.data() + count.size(), n);
        if (ec != std::errc{} || p != count.data() + count.size()) return;
        rate_remaining = n;
        if (auto w = header.find("w=", semi == std::string_view::npos ? header.size() : semi);
            w != std::string_view::npos) {
            auto rest = header.substr(w + 2);
            std::from_chars(rest.data(), rest.data() + rest.size(), rate_window_seconds);
        }
    }

    // With the pull quota used up, every further counted request would be refused for hours: fail at once.
    std::optional<error> quota_exhausted(std::string_view what) const {
        if (!rate_remaining || *rate_remaining > 0) return std::nullopt;
        return make_error(
            errc::too_many_requests,
            fmt::format("{}: registry {} reports its pull limit used up (RateLimit-Remaining 0 in a "
                        "{} s window); not sending more pulls in this run. Run again later, or use "
                        "credentials with a higher limit",
                        what, options.registry, rate_window_seconds),
            429);
    }

    impl(http::client& c, remote_options o) : client(c), options(std::move(o)) {
        api_host =
            options.registry == docker_hub_registry ? std::string(docker_hub_api_host) : options.registry;
    }

    bool plain_http_allowed() const { return options.insecure || http::is_loopback_host(api_host); }

    result<std::optional<credential>> credentials_for(std::string_view repository) {
        if (options.credentials) return options.credentials;
        if (auto rule = match_credential_rule(options.credential_rules, options.registry, repository))
            return std::optional<credential>{rule->cred};
        auto it = credentials_by_repository.find(repository);
        if (it != credentials_by_repository.end()) return it->second;
        auto found = lookup_credentials(options.auth_files, options.registry, repository);
        if (!found) return found;
        credentials_by_repository.emplace(std::string(repository), *found);
        return found;
    }

    // GET /v2/ tells whether and how to authenticate (distribution-spec "Determining support"), and which
    // scheme works: HTTPS first, plain HTTP only where allowed, as docker does for insecure registries.
    asio::awaitable<result<void>> ensure_pinged() {
        while (pinging) {
            co_await ping_done->async_wait(asio::as_tuple(asio::use_awaitable));
        }
        if (pinged) co_return result<void>{};
        pinging = true;
        ping_done.emplace(co_await asio::this_coro::executor, std::chrono::steady_clock::time_point::max());
        auto r = co_await ping();
        pinging = false;
        ping_done->cancel();
        if (r) pinged = true;
        co_return r;
    }

    asio::awaitable<result<void>> ping() {
        std::optional<error> https_failure;
        for (std::string scheme : {"https", "http"}) {
            if (scheme == "http" && !plain_http_allowed()) break;
            auto url = scheme + "://" + api_host + "/v2/";
            std::optional<error> failure;
            for (int attempt = 1;; ++attempt) {
                http::request req;
                req.method = verb::get;
                req.url = url;
                ++stats.requests;
                auto resp = co_await client.send(std::move(req), 64 * 1024);
                if (!resp) {
                    failure = resp.error();
                    // A TLS or connection failure on HTTPS may just mean the registry speaks plain HTTP.
                    bool retry = resp.error().retryable() && attempt < options.retry.max_attempts &&
                                 !(scheme == "https" && plain_http_allowed());
                    if (retry) {
                        ++stats.retries;
                        co_await client.pause(backoff_delay(options.retry, attempt, std::nullopt, jitter()));
                        continue;
                    }
                    break;
                }
                if (resp->status == 200 || resp->status == 401) {
                    base = scheme + "://" + api_host;
                    challenges.clear();
                    if (resp->status == 401) {
                        auto parsed = parse_www_authenticate(resp->header("WWW-Authenticate"));
                        if (parsed) challenges = std::move(*parsed);
                    }
                    co_return result<void>{};
                }
                auto e = registry_error(resp->status, resp->body, resp->header("Retry-After"),
                                        fmt::format("GET {}", redact_url(url)));
                if (e.retryable() && attempt < options.retry.max_attempts) {
                    ++stats.retries;
                    co_await client.pause(backoff_delay(options.retry, attempt, e.retry_after, jitter()));
                    continue;
                }
                failure = make_error(static_cast<errc>(e.code.value()),
                                     fmt::format("{} is not an OCI registry or refused the version check: {}",
                                                 options.registry, e.message),
                                     e.http_status);
                break;
            }
            if (scheme == "https")
                https_failure = failure;
            else if (https_failure)
                failure = https_failure; // the HTTPS error is the one that explains more
            if (scheme == "http" || !plain_http_allowed()) {
                auto e = *failure;
                e.message = fmt::format("cannot reach registry {}: {}", options.registry, e.message);
                co_return e;
            }
        }
        co_return *https_failure;
    }

    const challenge* find_challenge(std::string_view scheme) const {
        for (const auto& c : challenges)
            if (c.scheme == scheme) return &c;
        return nullptr;
    }

    // Docker token auth spec: GET realm?service=&scope= with Basic credentials, or the OAuth2 form POST with
    // a refresh (identity) token.
    asio::awaitable<result<token>> fetch_token(const challenge& bearer, std::vector<scope> scopes,
                                               std::optional<credential> cred) {
        auto realm = bearer.param("realm");
        auto parsed = urls::parse_uri(realm);
        if (realm.empty() || !parsed)
            co_return make_error(
                errc::bad_response,
                fmt::format("registry {} asked for a bearer token without a usable realm", options.registry));
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
            for (const auto& s : scopes)
                joined += (joined.empty() ? "" : " ") + s.str();
            if (!joined.empty()) form.params().append({"scope", joined});
            req.body = std::string(form.encoded_query());
            req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
        } else {
            req.method = verb::get;
            if (!service.empty()) url.params().append({"service", service});
            for (const auto& s : scopes)
                url.params().append({"scope", s.str()});
            if (cred && !cred->username.empty())
                req.headers.emplace_back("Authorization",
                                         "Basic " + base64(cred->username + ":" + cred->password));
        }
        req.url = std::string(url.buffer());
        ++stats.requests;
        ++stats.token_fetches;
        auto what = fmt::format("token request to {} for registry {}", redact_url(realm), options.registry);
        for (int attempt = 1;; ++attempt) {
            auto resp = co_await client.send(req, 1024 * 1024);
            if (!resp) {
                if (resp.error().retryable() && attempt < options.retry.max_attempts) {
                    ++stats.retries;
                    co_await client.pause(backoff_delay(options.retry, attempt, std::nullopt, jitter()));
                    continue;
                }
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
                co_return *t;
            }
            auto e = registry_error(resp->status, resp->body, resp->header("Retry-After"), what);
            if (e.retryable() && attempt < options.retry.max_attempts) {
                ++stats.retries;
                co_await client.pause(backoff_delay(options.retry, attempt, e.retry_after, jitter()));
                continue;
            }
            if (resp->status == 401 || resp->status == 403)
                e = make_error(errc::unauthorized,
                               fmt::format("authentication to registry {} failed ({} answered {}); check the "
                                           "username and password or token for it",
                                           options.registry, redact_url(realm), resp->status),
                               resp->status);
            co_return e;
        }
    }

    // The Authorization header for `scopes`, fetching a token when the cache has none.
    asio::awaitable<result<std::string>> authorization(std::string repository, std::vector<scope> scopes,
                                                       bool refresh) {
        if (challenges.empty()) co_return std::string{};
        auto cred = credentials_for(repository);
        if (!cred) co_return cred.error();
        if (const auto* bearer = find_challenge("bearer")) {
            scopes = normalize_scopes(std::move(scopes));
            auto now = token_cache::clock::now();
            if (refresh) tokens.invalidate(options.registry, scopes);
            if (auto cached = tokens.get(options.registry, scopes, now)) co_return "Bearer " + *cached;
            // Parallel transfers that need the same scopes wait for one token request instead of each sending
            // one.
            auto key = scopes_key(scopes);
            if (auto it = token_fetches.find(key); it != token_fetches.end()) {
                auto pending = it->second;
                while (!pending->done)
                    co_await pending->timer.async_wait(asio::as_tuple(asio::use_awaitable));
                if (pending->failure) co_return *pending->failure;
                co_return "Bearer " + pending->value;
            }
            auto pending = std::make_shared<token_fetch>(co_await asio::this_coro::executor);
            token_fetches.emplace(key, pending);
            auto t = co_await fetch_token(*bearer, scopes, *cred);
            token_fetches.erase(key);
            if (t) {
                pending->value = t->value;
                tokens.put(options.registry, scopes, *t, now);
            } else {
                pending->failure = t.error();
            }
            pending->done = true;
            pending->timer.cancel();
            if (!t) co_return t.error();
            co_return "Bearer " + t->value;
        }
        if (find_challenge("basic") && *cred && !(*cred)->username.empty())
            co_return "Basic " + base64((*cred)->username + ":" + (*cred)->password);
        co_return std::string{};
    }

    // Adds Authorization to `req`, but only when it goes to the registry's own host: credentials never follow
    // a Location to another host.
    asio::awaitable<result<void>> authorize(http::request& req, std::string repository,
                                            std::vector<scope> scopes, bool refresh) {
        if (host_of(req.url) != api_host) co_return result<void>{};
        auto auth = co_await authorization(std::move(repository), std::move(scopes), refresh);
        if (!auth) co_return auth.error();
        if (!auth->empty()) req.headers.emplace_back("Authorization", *auth);
        co_return result<void>{};
    }

    result<std::string> url_for(std::string_view path_or_url) const {
        if (path_or_url.starts_with("/")) return base + std::string(path_or_url);
        return resolve_url(base + "/v2/", path_or_url);
    }

    struct call {
        verb method = verb::get;
        std::string target; ///< "/v2/..." or a URL from Location/Link
        http::fields headers;
        std::string body;
        std::string repository;
        std::vector<scope> scopes;
        std::size_t body_limit = 16 * 1024 * 1024;
        bool retry = true;
    };

    // Adds auth, retries transport failures, 429 and 5xx with backoff, and re-authenticates once on 401.
    // Statuses other than those are returned for the caller to interpret.
    template <class Send>
    asio::awaitable<result<typename Send::value_type>> execute(call c, Send send) {
        if (auto p = co_await ensure_pinged(); !p) co_return p.error();
        auto url = url_for(c.target);
        if (!url) co_return url.error();
        bool same_host = host_of(*url) == api_host;
        bool reauthenticated = false;
        for (int attempt = 1;; ++attempt) {
            http::request req;
            req.method = c.method;
            req.url = *url;
            req.headers = c.headers;
            req.body = c.body;
            if (auto a = co_await authorize(req, c.repository, c.scopes, reauthenticated); !a)
                co_return a.error();
            ++stats.requests;
            auto resp = co_await send(std::move(req), c.body_limit);
            if (!resp) {
                if (c.retry && resp.error().retryable() && attempt < options.retry.max_attempts) {
                    ++stats.retries;
                    co_await client.pause(
                        backoff_delay(options.retry, attempt, resp.error().retry_after, jitter()));
                    continue;
                }
                co_return resp.error();
            }
            int status = Send::status(*resp);
            note_rate_limit(Send::header(*resp, "RateLimit-Remaining"));
            if (status == 429 && rate_remaining == 0) co_return std::move(*resp);
            if (status == 401 && same_host && !reauthenticated) {
                // The token expired or lacked a scope: the 401's challenge is the current one.
                auto fresh = parse_www_authenticate(Send::header(*resp, "WWW-Authenticate"));
                if (fresh && !fresh->empty()) challenges = std::move(*fresh);
                reauthenticated = true;
                --attempt;
                continue;
            }
            if ((status == 429 || status >= 500) && c.retry && attempt < options.retry.max_attempts) {
                auto delay =
                    parse_retry_after(Send::header(*resp, "Retry-After"), std::chrono::system_clock::now());
                ++stats.retries;
                co_await client.pause(backoff_delay(options.retry, attempt, delay, jitter()));
                continue;
            }
            co_return std::move(*resp);
        }
    }

    struct buffered {
        using value_type = http::response;
        http::client* client;
        asio::awaitable<result<http::response>> operator()(http::request req, std::size_t limit) const {
            return client->send(std::move(req), limit);
        }
        static int status(const http::response& r) { return r.status; }
        static std::string_view header(const http::response& r, std::string_view name) {
            return r.header(name);
        }
    };

    struct streamed {
        using value_type = std::unique_ptr<http::response_stream>;
        http::client* client;
        asio::awaitable<result<value_type>> operator()(http::request req, std::size_t) const {
            return client->open(std::move(req));
        }
        static int status(const value_type& r) { return r->status(); }
        static std::string_view header(const value_type& r, std::string_view name) { return r->header(name); }
    };

    asio::awaitable<result<http::response>> send(call c) { return execute(std::move(c), buffered{&client}); }
    asio::awaitable<result<std::unique_ptr<http::response_stream>>> open(call c) {
        return execute(std::move(c), streamed{&client});
    }

    std::string describe(verb method, std::string_view target) const {
        auto url = url_for(target);
        return fmt::format("{} {}", verb_name(method), redact_url(url ? *url : std::string(target)));
    }

    error error_from(const http::response& resp, verb method, std::string_view target) const {
        auto e = registry_error(resp.status, resp.body, resp.header("Retry-After"), describe(method, target),
                                resp.header("Content-Type"));
        // After re-authenticating, a 401 that names insufficient_scope means the account lacks the
        // permission, not that the password is wrong.
        if (resp.status == 401) {
            auto parsed = parse_www_authenticate(resp.header("WWW-Authenticate"));
            if (parsed && std::any_of(parsed->begin(), parsed->end(), is_insufficient_scope))
                e = make_error(
                    errc::denied,
                    fmt::format("{}: registry answered 401 insufficient_scope: the credentials for {} are "
                                "valid but lack the permission this needs (push or pull on the "
                                "repository)",
                                describe(method, target), options.registry),
                    401);
        }
        return e;
    }

    asio::awaitable<result<std::vector<std::string>>> paged_list(std::string first, std::string repository,
                                                                 std::vector<scope> scopes, std::string key) {
        std::vector<std::string> out;
        std::string target = std::move(first);
        for (int page = 0; page < 100000; ++page) {
            call c;
            c.target = target;
            c.repository = repository;
            c.scopes = scopes;
            auto resp = co_await send(c);
            if (!resp) co_return resp.error();
            if (resp->status != 200) co_return error_from(*resp, verb::get, target);
            auto json = nlohmann::json::parse(resp->body, nullptr, false);
            if (json.is_discarded() || !json.is_object())
                co_return make_error(errc::bad_response,
                                     fmt::format("{}: the registry's answer is not a JSON object",
                                                 describe(verb::get, target)));
            auto items = json.find(key);
            if (items != json.end() && !items->is_null()) {
                if (!items->is_array())
                    co_return make_error(errc::bad_response, fmt::format("{}: \"{}\" is not a list",
                                                                         describe(verb::get, target), key));
                for (const auto& item : *items)
                    if (item.is_string()) out.push_back(item.get<std::string>());
            }
            auto next = next_link(resp->header("Link"));
            if (!next || *next == target) break;
            target = *next;
        }
        co_return out;
    }
};

remote_registry::remote_registry(http::client& client, remote_options options)
    : impl_(std::make_unique<impl>(client, std::move(options))) {}
remote_registry::~remote_registry() = default;

std::string remote_registry::name() const {
    return impl_->options.registry;
}

remote_statistics remote_registry::stats() const noexcept {
    return impl_->stats;
}

asio::awaitable<result<std::optional<descriptor>>> remote_registry::head_manifest(std::string repository,
                                                                                  std::string ref) {
    impl::call c;
    c.method = verb::head;
    c.target = fmt::format("/v2/{}/manifests/{}", repository, ref);
    c.headers.emplace_back("Accept", manifest_accept_header());
    c.repository = repository;
    c.scopes = {pull_scope(repository)};
    auto resp = co_await impl_->send(c);
    if (!resp) co_return resp.error();
    if (resp->status == 404) co_return std::optional<descriptor>{};
    if (resp->status != 200) co_return impl_->error_from(*resp, verb::head, c.target);
    auto header = resp->header("Docker-Content-Digest");
    if (header.empty()) {
        // Some registries omit the digest on HEAD (the spec only says SHOULD): fall back to a GET.
        auto m = co_await get_manifest(repository, ref);
        if (!m) co_return m.error();
        co_return std::optional<descriptor>{m->as_descriptor()};
    }
    auto d = digest::parse(header);
    if (!d)
        co_return make_error(errc::bad_response,
                             fmt::format("{}: bad Docker-Content-Digest: {}",
                                         impl_->describe(verb::head, c.target), d.error().message));
    if (is_digest_ref(ref) && d->str() != ref)
        co_return make_error(errc::digest_mismatch,
                             fmt::format("{}: registry reports digest {} for {}",
                                         impl_->describe(verb::head, c.target), d->str(), ref));
    descriptor out;
    out.digest = *d;
    out.media_type = content_type_base(resp->header("Content-Type"));
    auto length = resp->header("Content-Length");
    out.size = length.empty() ? -1 : std::strtoll(std::string(length).c_str(), nullptr, 10);
    co_return std::optional<descriptor>{std::move(out)};
}

asio::awaitable<result<manifest>> remote_registry::get_manifest(std::string repository, std::string ref) {
    if (auto quota = impl_->quota_exhausted(
            fmt::format("GET manifest {}/{}:{}", impl_->options.registry, repository, ref)))
        co_return *quota;
    impl::call c;
    c.target = fmt::format("/v2/{}/manifests/{}", repository, ref);
    c.headers.emplace_back("Accept", manifest_accept_header());
    c.repository = repository;
    c.scopes = {pull_scope(repository)};
    c.body_limit = max_manifest_size;
    auto resp = co_await impl_->send(c);
    auto where = fmt::format("{}/{}:{}", impl_->options.registry, repository, ref);
    if (!resp) {
        auto e = resp.error();
        if (e.code == errc::too_large)
            e.message =
                fmt::format("manifest {} is larger than {} bytes; refusing it", where, max_manifest_size);
        co_return e;
    }
    if (resp->status == 404) {
        auto e = impl_->error_from(*resp, verb::get, c.target);
        e.code = make_error_code(errc::manifest_unknown);
        e.message = fmt::format("manifest {} not found: {}", where, e.message);
        co_return e;
    }
    if (resp->status != 200) co_return impl_->error_from(*resp, verb::get, c.target);
    auto m = parse_manifest(std::move(resp->body), resp->header("Content-Type"));
    if (!m) {
        auto e = m.error();
        e.message = fmt::format("manifest {}: {}", where, e.message);
        co_return e;
    }
    if (is_digest_ref(ref) && m->digest.str() != ref && m->kind != manifest_kind::schema1)
        co_return make_error(
            errc::digest_mismatch,
            fmt::format("manifest {} has digest {}: the registry sent different bytes than asked for", where,
                        m->digest.str()));
    // Signed schema 1 manifests are identified by the digest of their payload without the signatures, which
    // the registry computes; the bytes are still copied unchanged.
    if (auto header = resp->header("Docker-Content-Digest");
        !header.empty() && m->kind != manifest_kind::schema1) {
        auto d = digest::parse(header);
        if (d && d->algorithm() == m->digest.algorithm() && *d != m->digest)
            co_return make_error(
                errc::digest_mismatch,
                fmt::format("manifest {}: body hashes to {} but Docker-Content-Digest says {}", where,
                            m->digest.str(), d->str()));
    }
    co_return std::move(*m);
}

asio::awaitable<result<digest>> remote_registry::put_manifest(std::string repository, std::string ref,
                                                              manifest m) {
    impl::call c;
    c.method = verb::put;
    c.target = fmt::format("/v2/{}/manifests/{}", repository, ref);
    c.headers.emplace_back("Content-Type", m.media_type);
    c.body = m.bytes;
    c.repository = repository;
    c.scopes = {push_scope(repository)};
    auto resp = co_await impl_->send(c);
    if (!resp) co_return resp.error();
    if (resp->status != 201 && resp->status != 200) {
        auto e = impl_->error_from(*resp, verb::put, c.target);
        e.message = fmt::format("pushing manifest {} to {}/{}:{} failed: {}", m.digest.str(),
                                impl_->options.registry, repository, ref, e.message);
        co_return e;
    }
    if (auto header = resp->header("Docker-Content-Digest");
        !header.empty() && m.kind != manifest_kind::schema1) {
        auto d = digest::parse(header);
        if (d && d->algorithm() == m.digest.algorithm() && *d != m.digest)
            co_return make_error(errc::digest_mismatch,
                                 fmt::format("{}/{}:{} stored manifest {} as {}: the registry rewrote it",
                                             impl_->options.registry, repository, ref, m.digest.str(),
                                             d->str()));
    }
    co_return m.digest;
}

asio::awaitable<result<bool>> remote_registry::has_blob(std::string repository, digest d) {
    impl::call c;
    c.method = verb::head;
    c.target = fmt::format("/v2/{}/blobs/{}", repository, d.str());
    c.repository = repository;
    c.scopes = {pull_scope(repository)};
    auto resp = co_await impl_->send(c);
    if (!resp) co_return resp.error();
    if (resp->status == 200) co_return true;
    if (resp->status == 404) co_return false;
    co_return impl_->error_from(*resp, verb::head, c.target);
}

namespace {

// A blob answer whose Content-Length disagrees with the descriptor carries another blob, or a broken one: it
// is refused, rather than trusting its first `desc.size` bytes or waiting for bytes that cannot all come.
std::optional<error> length_mismatch(const http::response_stream& stream, const descriptor& desc,
                                     std::int64_t offset, std::string_view registry,
                                     std::string_view repository) {
    auto length = stream.content_length();
    if (length < 0 || desc.size < 0 || length == desc.size - offset) return std::nullopt;
    auto from = offset > 0 ? fmt::format(" from byte {} on", offset) : std::string{};
    return make_error(errc::size_mismatch,
                      fmt::format("blob {} in {}/{}: the registry announces {} bytes{}, but the blob has {} "
                                  "bytes; not using this answer",
                                  desc.digest.str(), registry, repository, length, from, desc.size));
}

// A blob download that resumes with Range after a broken connection (RFC 9110 section 14.2).
class remote_blob_reader final : public blob_reader {
public:
    remote_blob_reader(remote_registry::impl& reg, std::string repository, descriptor desc,
                       std::unique_ptr<http::response_stream> stream)
        : reg_(reg), repository_(std::move(repository)), desc_(std::move(desc)), stream_(std::move(stream)) {}

    asio::awaitable<result<std::size_t>> read(std::span<std::byte> buffer) override;

private:
    asio::awaitable<result<void>> reopen();

    remote_registry::impl& reg_;
    std::string repository_;
    descriptor desc_;
    std::unique_ptr<http::response_stream> stream_;
    std::int64_t offset_ = 0;
    int resumes_ = 0;
};

} // namespace

asio::awaitable<result<std::unique_ptr<blob_reader>>> remote_registry::get_blob(std::string repository,
                                                                                descriptor desc) {
    impl::call c;
    c.target = fmt::format("/v2/{}/blobs/{}", repository, desc.digest.str());
    c.repository = repository;
    c.scopes = {pull_scope(repository)};
    auto resp = co_await impl_->open(c);
    if (!resp) co_return resp.error();
    auto& stream = *resp;
    if (stream->status() != 200) {
        // Error bodies are small; read what there is for the message.
        std::string body;
        std::array<std::byte, 4096> chunk{};
        while (body.size() < 64 * 1024) {
            auto n = co_await stream->read_some(chunk);
            if (!n || *n == 0) break;
            body.append(reinterpret_cast<const char*>(chunk.data()), *n);
        }
        auto e = registry_error(stream->status(), body, stream->header("Retry-After"),
                                impl_->describe(verb::get, c.target));
        if (stream->status() == 404) {
            e.code = make_error_code(errc::blob_unknown);
            e.message = fmt::format("blob {} not found in {}/{}: {}", desc.digest.str(),
                                    impl_->options.registry, repository, e.message);
        }
        co_return e;
    }
    if (auto e = length_mismatch(*stream, desc, 0, impl_->options.registry, repository)) co_return *e;
    co_return std::unique_ptr<blob_reader>(std::make_unique<remote_blob_reader>(
        *impl_, std::move(repository), std::move(desc), std::move(stream)));
}

asio::awaitable<result<void>> remote_blob_reader::reopen() {
    remote_registry::impl::call c;
    c.target = fmt::format("/v2/{}/blobs/{}", repository_, desc_.digest.str());
    c.repository = repository_;
    c.scopes = {pull_scope(repository_)};
    c.headers.emplace_back("Range", fmt::format("bytes={}-", offset_));
    auto resp = co_await reg_.open(c);
    if (!resp) co_return resp.error();
    auto& stream = *resp;
    if (stream->status() == 206) {
        if (auto e = length_mismatch(*stream, desc_, offset_, reg_.options.registry, repository_))
            co_return *e;
        stream_ = std::move(stream);
        co_return result<void>{};
    }
    if (stream->status() == 200) {
        if (auto e = length_mismatch(*stream, desc_, 0, reg_.options.registry, repository_)) co_return *e;
        // The server ignored Range: skip what was already read.
        std::vector<std::byte> discard(transfer_buffer_size);
        std::int64_t skipped = 0;
        while (skipped < offset_) {
            auto want = std::min<std::int64_t>(offset_ - skipped, static_cast<std::int64_t>(discard.size()));
            auto n = co_await stream->read_some(
                std::span<std::byte>(discard.data(), static_cast<std::size_t>(want)));
            if (!n) co_return n.error();
            if (*n == 0) co_return make_error(errc::size_mismatch, "blob ended early while resuming");
            skipped += static_cast<std::int64_t>(*n);
        }
        stream_ = std::move(stream);
        co_return result<void>{};
    }
    co_return registry_error(stream->status(), "", stream->header("Retry-After"),
                             reg_.describe(verb::get, c.target) + " (resuming at byte " +
                                 std::to_string(offset_) + ")");
}

asio::awaitable<result<std::size_t>> remote_blob_reader::read(std::span<std::byte> buffer) {
    for (;;) {
        if (!stream_) {
            if (auto r = co_await reopen(); !r) co_return r.error();
        }
        auto n = co_await stream_->read_some(buffer);
        if (n && (*n > 0 || desc_.size < 0 || offset_ >= desc_.size)) {
            offset_ += static_cast<std::int64_t>(*n);
            co_return *n;
        }
        // A broken connection, or a body that ended before the declared size: resume from where it stopped.
        error failure =
            n ? make_error(errc::connection_failed, fmt::format("blob {} ended after {} of {} bytes",
                                                                desc_.digest.str(), offset_, desc_.size))
              : n.error();
        stream_.reset();
        if (!failure.retryable() || resumes_ >= reg_.options.retry.max_attempts) {
            failure.message = fmt::format("downloading blob {} from {}/{}: {}", desc_.digest.str(),
                                          reg_.options.registry, repository_, failure.message);
            co_return failure;
        }
        ++resumes_;
        ++reg_.stats.retries;
        co_await reg_.client.pause(
            backoff_delay(reg_.options.retry, resumes_, failure.retry_after, jitter()));
    }
}

asio::awaitable<result<std::optional<upload_session>>>
remote_registry::start_upload(std::string repository, std::optional<digest> d,
                              std::optional<std::string> mount_from) {
    impl::call c;
    c.method = verb::post;
    c.target = fmt::format("/v2/{}/blobs/uploads/", repository);
    c.repository = repository;
    c.scopes = {push_scope(repository)};
    if (mount_from && d) {
        // distribution-spec "Mounting a blob from another repository": one token with push on the target and
        // pull on the source.
        c.target += fmt::format("?mount={}&from={}", d->str(), *mount_from);
        c.scopes.push_back(pull_scope(*mount_from));
    }
    c.headers.emplace_back("Content-Length", "0");
    auto resp = co_await impl_->send(c);
    if (!resp) co_return resp.error();
    if (resp->status == 201 && mount_from) co_return std::optional<upload_session>{};
    if (resp->status != 202) {
        auto e = impl_->error_from(*resp, verb::post, c.target);
        e.message = fmt::format("starting a blob upload to {}/{} failed: {}", impl_->options.registry,
                                repository, e.message);
        co_return e;
    }
    auto location = resp->header("Location");
    if (location.empty())
        co_return make_error(errc::bad_response,
                             fmt::format("{}: the registry opened an upload without a Location",
                                         impl_->describe(verb::post, c.target)));
    upload_session session;
    session.repository = repository;
    session.location = std::string(location);
    if (auto min = resp->header("OCI-Chunk-Min-Length"); !min.empty())
        session.min_chunk = std::strtoll(std::string(min).c_str(), nullptr, 10);
    co_return std::optional<upload_session>{std::move(session)};
}

namespace {

/// The offset after the last byte an upload session holds, from its Range header ("0-N"). Registries write
/// "0-0" for both an empty session and a one-byte one; `hint` (where the client thinks it is) settles that.
std::optional<std::int64_t> upload_offset(std::string_view range, std::int64_t hint) {
    auto dash = range.find('-');
    if (dash == std::string_view::npos || range.substr(0, dash) != "0") return std::nullopt;
    auto last = range.substr(dash + 1);
    std::int64_t end = 0;
    auto [ptr, ec] = std::from_chars(last.data(), last.data() + last.size(), end);
    if (ec != std::errc() || ptr != last.data() + last.size() || end < 0) return std::nullopt;
    if (end == 0) return std::min<std::int64_t>(hint, 1);
    return end + 1;
}

// PATCHes `data` as the bytes from `offset` on; returns the session's next location. After a broken or
// refused PATCH, asks the registry how much it holds and sends the rest of the chunk from there.
asio::awaitable<result<std::string>> send_chunk(remote_registry::impl& reg, const std::string& repository,
                                                std::string location, std::int64_t offset,
                                                const std::string& data, const std::string& where) {
    const std::int64_t end = offset + static_cast<std::int64_t>(data.size());
    std::int64_t from = offset;
    for (int attempt = 1;; ++attempt) {
        remote_registry::impl::call c;
        c.method = verb::patch;
        c.target = location;
        c.repository = repository;
        c.scopes = {push_scope(repository)};
        c.headers.emplace_back("Content-Type", "application/octet-stream");
        c.headers.emplace_back("Content-Range", fmt::format("{}-{}", from, end - 1));
        c.body = data.substr(static_cast<std::size_t>(from - offset));
        c.retry = false;
        auto resp = co_await reg.send(c);
        std::optional<error> failure;
        if (!resp) {
            failure = resp.error();
        } else if (resp->status == 202) {
            auto next = resp->header("Location");
            co_return next.empty() ? location : std::string(next);
        } else {
            failure = reg.error_from(*resp, verb::patch, location);
            if (resp->status == 429 || resp->status >= 500)
                failure->retry_after =
                    parse_retry_after(resp->header("Retry-After"), std::chrono::system_clock::now());
        }
        if (!failure->retryable() || attempt >= reg.options.retry.max_attempts) {
            failure->message = fmt::format("{} failed: {}", where, failure->message);
            co_return *failure;
        }
        ++reg.stats.retries;
        co_await reg.client.pause(backoff_delay(reg.options.retry, attempt, failure->retry_after, jitter()));
        // Where does the session stand? A registry that dropped it, or kept part of a chunk it cannot take
        // the rest of, fails the upload; the copy engine then starts a new one.
        remote_registry::impl::call status;
        status.method = verb::get;
        status.target = location;
        status.repository = repository;
        status.scopes = {push_scope(repository)};
        auto progress = co_await reg.send(status);
        if (!progress || progress->status != 204) {
            failure->message = fmt::format("{} failed: {}; the upload session could not be resumed", where,
                                           failure->message);
            co_return *failure;
        }
        auto held = upload_offset(progress->header("Range"), from);
        if (!held || *held < offset || *held > end) {
            failure->message =
                fmt::format("{} failed: {}; the registry holds {} of the upload, outside the chunk {}-{}",
                            where, failure->message, progress->header("Range"), offset, end - 1);
            co_return *failure;
        }
        if (auto next = progress->header("Location"); !next.empty()) location = std::string(next);
        ++reg.stats.upload_resumes;
        if (*held == end) co_return location;
        from = *held;
    }
}

} // namespace

asio::awaitable<result<void>> remote_registry::finish_upload(upload_session session, descriptor desc,
                                                             blob_reader& reader) {
    auto& reg = *impl_;
    auto where = fmt::format("uploading blob {} to {}/{}", desc.digest.str(), reg.options.registry,
                             session.repository);
    auto with_digest = [&](std::string location) {
        location += location.find('?') == std::string::npos ? '?' : '&';
        return location + "digest=" + desc.digest.str();
    };
    bool chunked = reg.monolithic_refused || session.min_chunk > 0;
    verifying_source source(reader, desc, chunked ? 0 : desc.size, transfer_buffer_size);

    auto push = [&](verb method, std::string target, std::int64_t length,
                    http::fields extra) -> asio::awaitable<result<http::response>> {
        if (auto p = co_await reg.ensure_pinged(); !p) co_return p.error();
        auto url = reg.url_for(target);
        if (!url) co_return url.error();
        http::request req;
        req.method = method;
        req.url = *url;
        req.headers = std::move(extra);
        req.headers.emplace_back("Content-Type", "application/octet-stream");
        std::vector<scope> scopes{push_scope(session.repository)};
        if (auto a = co_await reg.authorize(req, session.repository, std::move(scopes), false); !a)
            co_return a.error();
        req.source = &source;
        req.content_length = length;
        ++reg.stats.requests;
        auto resp = co_await reg.client.send(std::move(req), 64 * 1024);
        if (!resp) {
            if (source.failure()) co_return *source.failure();
            auto e = resp.error();
            e.message = fmt::format("{} failed: {}", where, e.message);
            co_return e;
        }
        if (source.failure()) co_return *source.failure();
        co_return std::move(*resp);
    };

    if (!chunked) {
        http::fields no_extra;
        auto resp = co_await push(verb::put, with_digest(session.location), desc.size, std::move(no_extra));
        if (!resp) co_return resp.error();
        if (resp->status == 201) co_return result<void>{};
        if (resp->status == 401) {
            reg.tokens.invalidate(reg.options.registry, normalize_scopes({push_scope(session.repository)}));
        }
        auto e = reg.error_from(*resp, verb::put, session.location);
        if (resp->status == 400 || resp->status == 405 || resp->status == 413 || resp->status == 416) {
            // Some registries take blobs only in PATCH chunks; later uploads to this registry use them.
            if (static_cast<errc>(e.code.value()) != errc::digest_invalid) {
                reg.monolithic_refused = true;
                e.code = make_error_code(errc::unsupported);
            }
        }
        e.message = fmt::format("{} failed: {}", where, e.message);
        co_return e;
    }

    // Chunked upload (distribution-spec "Pushing a blob in chunks"): PATCH ranges, then PUT ?digest= with no
    // body. Each chunk is read into memory first, so a PATCH broken off by the network or refused with
    // 429/5xx is resent from the offset the registry reports having (GET on the session), not from the blob's
    // start.
    std::int64_t chunk = std::max<std::int64_t>(session.min_chunk, default_chunk_size);
    std::string location = session.location;
    std::int64_t offset = session.offset;
    std::string pending;
    while (!source.done()) {
        std::int64_t length = desc.size >= 0 ? std::min(chunk, desc.size - offset) : chunk;
        if (desc.size >= 0 && length <= 0) break;
        source.next_chunk(length);
        pending.clear();
        for (;;) {
            auto piece = co_await source.next();
            if (!piece) co_return piece.error();
            if (piece->empty()) break;
            pending.append(reinterpret_cast<const char*>(piece->data()), piece->size());
        }
        if (pending.empty()) break;
        auto sent = co_await send_chunk(reg, session.repository, location, offset, pending, where);
        if (!sent) co_return sent.error();
        location = std::move(*sent);
        offset += static_cast<std::int64_t>(pending.size());
        if (desc.size >= 0 && offset >= desc.size) break;
    }
    impl::call c;
    c.method = verb::put;
    c.target = with_digest(location);
    c.repository = session.repository;
    c.scopes = {push_scope(session.repository)};
    c.headers.emplace_back("Content-Length", "0");
    c.retry = false;
    auto resp = co_await reg.send(c);
    if (!resp) co_return resp.error();
    if (resp->status != 201) {
        auto e = reg.error_from(*resp, verb::put, location);
        e.message = fmt::format("{} failed: {}", where, e.message);
        co_return e;
    }
    co_return result<void>{};
}

asio::awaitable<void> remote_registry::cancel_upload(upload_session session) {
    impl::call c;
    c.method = verb::delete_;
    c.target = session.location;
    c.repository = session.repository;
    c.scopes = {push_scope(session.repository)};
    c.retry = false;
    co_await impl_->send(c);
}

asio::awaitable<result<std::vector<std::string>>> remote_registry::list_tags(std::string repository) {
    auto first = fmt::format("/v2/{}/tags/list?n=1000", repository);
    std::vector<scope> scopes{pull_scope(repository)};
    auto r = co_await impl_->paged_list(std::move(first), repository, std::move(scopes), "tags");
    if (!r && r.error().code == errc::not_found) {
        auto e = r.error();
        e.code = make_error_code(errc::name_unknown);
        e.message =
            fmt::format("repository {}/{} not found: {}", impl_->options.registry, repository, e.message);
        co_return e;
    }
    co_return r;
}

asio::awaitable<result<std::vector<std::string>>> remote_registry::catalog() {
    scope s;
    s.type = "registry";
    s.name = "catalog";
    s.actions = {"*"};
    std::vector<scope> scopes{s};
    co_return co_await impl_->paged_list("/v2/_catalog?n=1000", "", std::move(scopes), "repositories");
}

} // namespace libregistry
