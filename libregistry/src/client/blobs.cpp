// Blobs: HEAD, and streamed GETs that resume with Range after a broken connection (RFC 9110 section 14.2).
#include "libregistry/client/remote_registry.hpp"
#include "libregistry/core/registry_error.hpp"
#include "libregistry/core/retry.hpp"

#include "client/session.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

namespace libregistry {

namespace asio = boost::asio;
using detail::api_call;
using detail::verb;

namespace {

constexpr std::size_t skip_buffer_size = 256 * 1024;

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

api_call blob_get(const std::string& repository, const descriptor& desc) {
    api_call c;
    c.target = fmt::format("/v2/{}/blobs/{}", repository, desc.digest.str());
    c.repository = repository;
    c.scopes = {pull_scope(repository)};
    return c;
}

class remote_blob_reader final : public blob_reader {
public:
    remote_blob_reader(detail::registry_session& session, std::string repository, descriptor desc,
                       std::unique_ptr<http::response_stream> stream)
        : session_(session), repository_(std::move(repository)), desc_(std::move(desc)),
          stream_(std::move(stream)) {}

    asio::awaitable<result<std::size_t>> read(std::span<std::byte> buffer) override {
        for (;;) {
            if (!stream_) {
                if (auto r = co_await reopen(); !r) co_return r.error();
            }
            auto n = co_await stream_->read_some(buffer);
            if (n && (*n > 0 || desc_.size < 0 || offset_ >= desc_.size)) {
                offset_ += static_cast<std::int64_t>(*n);
                co_return *n;
            }
            // A broken connection, or a body that ended before the declared size: resume from where it
            // stopped. Each resume is one more attempt of the same GET.
            error failure =
                n ? make_error(errc::connection_failed, fmt::format("blob {} ended after {} of {} bytes",
                                                                    desc_.digest.str(), offset_, desc_.size))
                  : n.error();
            stream_.reset();
            attempt_outcome outcome;
            outcome.failure = failure;
            attempt_context context;
            context.attempt = attempts_;
            auto decision = decide_retry(outcome, context, session_.options().retry, jitter());
            if (decision.action != retry_action::retry) {
                failure.message = fmt::format("downloading blob {} from {}/{}: {}", desc_.digest.str(),
                                              session_.name(), repository_, failure.message);
                failure.attempts = attempts_;
                co_return failure;
            }
            if (const auto& debug = session_.client().options().debug)
                debug(fmt::format("blob {} from {}/{}: {}; resuming at byte {}", desc_.digest.str(),
                                  session_.name(), repository_, failure.message, offset_));
            ++attempts_;
            ++session_.stats().retries;
            co_await session_.pause(decision.delay);
        }
    }

private:
    asio::awaitable<result<void>> reopen() {
        auto c = blob_get(repository_, desc_);
        c.headers.emplace_back("Range", fmt::format("bytes={}-", offset_));
        auto resp = co_await session_.open(c);
        if (!resp) co_return resp.error();
        auto& stream = *resp;
        if (stream->status() == 206) {
            if (auto e = length_mismatch(*stream, desc_, offset_, session_.name(), repository_)) co_return *e;
            stream_ = std::move(stream);
            co_return result<void>{};
        }
        if (stream->status() == 200) {
            if (auto e = length_mismatch(*stream, desc_, 0, session_.name(), repository_)) co_return *e;
            // The server ignored Range: skip what was already read.
            std::vector<std::byte> discard(skip_buffer_size);
            std::int64_t skipped = 0;
            while (skipped < offset_) {
                auto want =
                    std::min<std::int64_t>(offset_ - skipped, static_cast<std::int64_t>(discard.size()));
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
                                 session_.describe(verb::get, c.target) + " (resuming at byte " +
                                     std::to_string(offset_) + ")");
    }

    detail::registry_session& session_;
    std::string repository_;
    descriptor desc_;
    std::unique_ptr<http::response_stream> stream_;
    std::int64_t offset_ = 0;
    int attempts_ = 1;
};

} // namespace

asio::awaitable<result<bool>> remote_registry::has_blob(std::string repository, digest d) {
    auto& s = *session_;
    if (auto ok = detail::check_names(s.name(), repository); !ok) co_return ok.error();
    api_call c;
    c.method = verb::head;
    c.target = fmt::format("/v2/{}/blobs/{}", repository, d.str());
    c.repository = repository;
    c.scopes = {pull_scope(repository)};
    auto resp = co_await s.send(c);
    if (!resp) co_return resp.error();
    if (resp->status == 200) co_return true;
    if (resp->status == 404) co_return false;
    co_return s.error_from(*resp, verb::head, c.target);
}

asio::awaitable<result<std::unique_ptr<blob_reader>>> remote_registry::get_blob(std::string repository,
                                                                                descriptor desc) {
    auto& s = *session_;
    if (auto ok = detail::check_names(s.name(), repository); !ok) co_return ok.error();
    auto c = blob_get(repository, desc);
    auto resp = co_await s.open(c);
    if (!resp) co_return resp.error();
    auto& stream = *resp;
    if (stream->status() != 200) {
        auto body = co_await detail::read_error_body(*stream);
        auto e = registry_error(stream->status(), body, stream->header("Retry-After"),
                                s.describe(verb::get, c.target));
        if (stream->status() == 404) {
            e.code = make_error_code(errc::blob_unknown);
            e.message = fmt::format("blob {} not found in {}/{}: {}", desc.digest.str(), s.name(), repository,
                                    e.message);
        }
        co_return e;
    }
    if (auto e = length_mismatch(*stream, desc, 0, s.name(), repository)) co_return *e;
    co_return std::unique_ptr<blob_reader>(
        std::make_unique<remote_blob_reader>(s, std::move(repository), std::move(desc), std::move(stream)));
}

} // namespace libregistry
