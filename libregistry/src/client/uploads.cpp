// Blob uploads (distribution-spec "Pushing blobs"): POST (with a cross-repository mount when possible), then
// one streamed PUT, or PATCH chunks for registries that refuse one-shot uploads. The bytes are hashed on the
// way and the digest checked before the last byte is sent, so a corrupt blob is never committed.
#include "libregistry/client/remote_registry.hpp"
#include "libregistry/core/registry_error.hpp"

#include "client/session.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>

namespace libregistry {

namespace asio = boost::asio;
using detail::api_call;
using detail::verb;

namespace {

constexpr std::size_t transfer_buffer_size = 256 * 1024;
constexpr std::int64_t default_chunk_size = 8 * 1024 * 1024; // held in memory while it is sent

// Streams a blob into an upload request while hashing and counting it. The bytes that complete the declared
// size are handed over only after the digest checked out, so a corrupt blob never reaches a registry commit:
// the request is aborted instead (distribution-spec: the registry would otherwise verify `digest=` itself,
// but not every registry does).
class verifying_source final : public http::body_source {
public:
    verifying_source(blob_reader& reader, const descriptor& desc, std::int64_t limit)
        : reader_(reader), desc_(desc), limit_(limit), hasher_(desc.digest.algorithm()),
          buffer_(transfer_buffer_size) {}

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
        hasher_.update(buffer_.data(), *n);
        if (*n == 0 || (desc_.size >= 0 && total_ >= desc_.size)) {
            done_ = true;
            if (desc_.size >= 0 && total_ != desc_.size) {
                failure_ =
                    make_error(errc::size_mismatch,
                               fmt::format("blob {} is {} bytes at the source, but its descriptor says {}",
                                           desc_.digest.str(), total_, desc_.size));
                co_return *failure_;
            }
            if (auto got = hasher_.finish(); got != desc_.digest) {
                failure_ = make_error(errc::digest_mismatch,
                                      fmt::format("blob {} from the source hashes to {}; not uploading it",
                                                  desc_.digest.str(), got.str()));
                co_return *failure_;
            }
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

std::string with_digest(std::string location, const digest& d) {
    location += location.find('?') == std::string::npos ? '?' : '&';
    return location + "digest=" + d.str();
}

api_call upload_call(verb method, std::string target, const std::string& repository) {
    api_call c;
    c.method = method;
    c.target = std::move(target);
    c.repository = repository;
    c.scopes = {push_scope(repository)};
    return c;
}

// One PATCH chunk: `data` is the bytes from `offset` on. When a PATCH breaks off or is refused with 429/5xx,
// the retry loop waits, and before resending this asks the registry (GET on the session) how much it holds,
// then sends the rest of the chunk from there. A registry that dropped the session, or kept part of a chunk
// it cannot take the rest of, fails the upload; the copy engine then starts a new one.
class chunk_sender {
public:
    chunk_sender(detail::registry_session& session, std::string repository, std::string location,
                 std::int64_t offset, const std::string& data)
        : session_(session), repository_(std::move(repository)), location_(std::move(location)),
          offset_(offset), end_(offset + static_cast<std::int64_t>(data.size())), from_(offset), data_(data) {
    }

    /// The session's next location.
    asio::awaitable<result<std::string>> send() {
        auto c = upload_call(verb::patch, location_, repository_);
        fill(c);
        c.before_resend = [this](api_call& again) { return resume(again); };
        auto resp = co_await session_.send(std::move(c));
        if (!resp) co_return resp.error();
        if (resp->status == 202) {
            auto next = resp->header("Location");
            co_return next.empty() ? location_ : std::string(next);
        }
        if (resp->status == 204 && from_ == end_) co_return location_; // a resume found the chunk complete
        co_return session_.error_from(*resp, verb::patch, location_);
    }

private:
    void fill(api_call& c) const {
        c.target = location_;
        c.headers = {{"Content-Type", "application/octet-stream"},
                     {"Content-Range", fmt::format("{}-{}", from_, end_ - 1)}};
        c.body = data_.substr(static_cast<std::size_t>(from_ - offset_));
    }

    asio::awaitable<result<void>> resume(api_call& c) {
        auto status = co_await session_.send(upload_call(verb::get, location_, repository_));
        if (!status || status->status != 204)
            co_return make_error(errc::blob_upload_invalid, "the upload session could not be resumed");
        auto held = upload_offset(status->header("Range"), from_);
        if (!held || *held < offset_ || *held > end_)
            co_return make_error(errc::blob_upload_invalid,
                                 fmt::format("the registry holds {} of the upload, outside the chunk {}-{}",
                                             status->header("Range"), offset_, end_ - 1));
        if (auto next = status->header("Location"); !next.empty()) location_ = std::string(next);
        ++session_.stats().upload_resumes;
        from_ = *held;
        if (from_ == end_) {
            // The registry took the whole chunk after all: the resend only confirms the session (204).
            c = upload_call(verb::get, location_, repository_);
            co_return result<void>{};
        }
        fill(c);
        co_return result<void>{};
    }

    detail::registry_session& session_;
    std::string repository_;
    std::string location_;
    const std::int64_t offset_;
    const std::int64_t end_;
    std::int64_t from_;
    const std::string& data_;
};

// A blob held in memory (the single POST's body), read again for the session a registry opened instead.
class memory_reader final : public blob_reader {
public:
    explicit memory_reader(const std::string& data) : data_(data) {}
    asio::awaitable<result<std::size_t>> read(std::span<std::byte> buffer) override {
        const auto n = std::min(buffer.size(), data_.size() - at_);
        std::memcpy(buffer.data(), data_.data() + at_, n);
        at_ += n;
        co_return n;
    }

private:
    const std::string& data_;
    std::size_t at_ = 0;
};

/// The session a 202 answer to a POST opened.
result<upload_session> opened_session(detail::registry_session& s, const http::response& resp,
                                      const std::string& repository, std::string_view target) {
    auto location = resp.header("Location");
    if (location.empty())
        return make_error(errc::bad_response,
                          fmt::format("{}: the registry opened an upload without a Location",
                                      s.describe(verb::post, target)));
    upload_session session;
    session.repository = repository;
    session.location = std::string(location);
    if (auto min = resp.header("OCI-Chunk-Min-Length"); !min.empty())
        session.min_chunk = std::strtoll(std::string(min).c_str(), nullptr, 10);
    return session;
}

error upload_failed(const detail::registry_session& s, const std::string& repository, error e) {
    e.message = fmt::format("starting a blob upload to {}/{} failed: {}", s.name(), repository, e.message);
    return e;
}

// POST /v2/<name>/blobs/uploads/ with no body: a session, or nullopt when `mount_from` mounted the blob.
asio::awaitable<result<std::optional<upload_session>>> open_upload(detail::registry_session& s,
                                                                   std::string repository,
                                                                   std::optional<digest> d,
                                                                   std::optional<std::string> mount_from) {
    auto c = upload_call(verb::post, fmt::format("/v2/{}/blobs/uploads/", repository), repository);
    if (mount_from && d) {
        // distribution-spec "Mounting a blob from another repository": one token with push on the target and
        // pull on the source.
        c.target += fmt::format("?mount={}&from={}", d->str(), *mount_from);
        c.scopes.push_back(pull_scope(*mount_from));
    }
    c.headers.emplace_back("Content-Length", "0");
    auto resp = co_await s.send(c);
    if (!resp) co_return upload_failed(s, repository, resp.error());
    if (resp->status == 201 && mount_from) co_return std::optional<upload_session>{};
    if (resp->status != 202)
        co_return upload_failed(s, repository, s.error_from(*resp, verb::post, c.target));
    auto session = opened_session(s, *resp, repository, c.target);
    if (!session) co_return session.error();
    co_return std::optional<upload_session>{std::move(*session)};
}

// The body goes into an open session: one streamed PUT, or PATCH chunks where the registry wants them.
asio::awaitable<result<void>> send_into(detail::registry_session& s, upload_session session, descriptor desc,
                                        blob_reader& reader) {
    auto where = fmt::format("uploading blob {} to {}/{}", desc.digest.str(), s.name(), session.repository);
    auto failed = [&](error e) {
        e.message = fmt::format("{} failed: {}", where, e.message);
        return e;
    };
    const bool chunked = s.monolithic_refused() || session.min_chunk > 0;
    verifying_source source(reader, desc, chunked ? 0 : desc.size);

    if (!chunked) {
        auto c = upload_call(verb::put, with_digest(session.location, desc.digest), session.repository);
        c.headers.emplace_back("Content-Type", "application/octet-stream");
        c.source = &source;
        c.content_length = desc.size;
        c.monolithic_upload = true;
        auto resp = co_await s.send(c);
        // The source's own failure (a digest mismatch, a broken download) is what went wrong, not the PUT.
        if (source.failure()) co_return *source.failure();
        if (!resp) co_return failed(resp.error());
        if (resp->status == 201) co_return result<void>{};
        auto e = s.error_from(*resp, verb::put, session.location);
        // The session noted the refusal; later uploads to this registry use chunks, and this one is retried.
        if (s.monolithic_refused()) e.code = make_error_code(errc::unsupported);
        co_return failed(e);
    }

    // Chunked upload (distribution-spec "Pushing a blob in chunks"): PATCH ranges, then PUT ?digest= with no
    // body. Each chunk is read into memory first, so a PATCH broken off by the network or refused with
    // 429/5xx is resent from the offset the registry reports having, not from the blob's start.
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
        chunk_sender sender(s, session.repository, location, offset, pending);
        auto sent = co_await sender.send();
        if (!sent) co_return failed(sent.error());
        location = std::move(*sent);
        offset += static_cast<std::int64_t>(pending.size());
        if (desc.size >= 0 && offset >= desc.size) break;
    }
    auto c = upload_call(verb::put, with_digest(location, desc.digest), session.repository);
    c.headers.emplace_back("Content-Length", "0");
    c.replayable = false; // the session may be committed already: a resend would find it gone
    auto resp = co_await s.send(c);
    if (!resp) co_return failed(resp.error());
    if (resp->status != 201) co_return failed(s.error_from(*resp, verb::put, location));
    co_return result<void>{};
}

// DELETE of an upload session nothing will finish (distribution-spec "Canceling an upload"); sent once, and
// its outcome does not matter: a registry purges abandoned sessions anyway.
asio::awaitable<void> give_back(detail::registry_session& s, upload_session session) {
    auto c = upload_call(verb::delete_, session.location, session.repository);
    c.replayable = false;
    co_await s.send(c);
}

// send_into a session opened here rather than by the caller's start_upload: a failure gives it back, as the
// caller's cancel_upload cannot.
asio::awaitable<result<void>> send_opened(detail::registry_session& s, upload_session session,
                                          descriptor desc, blob_reader& reader) {
    auto sent = co_await send_into(s, session, std::move(desc), reader);
    if (!sent) co_await give_back(s, std::move(session));
    co_return sent;
}

// Single POST (distribution-spec "Pushing a blob monolithically"): `POST ?digest=` with the body; 201 means
// the blob is committed, one request instead of POST then PUT. A registry without it (docker-registry 2.8)
// ignores the body and answers 202 with a session: the body, held in memory for that, goes there instead, and
// this registry's later uploads open sessions at once. Bodies up to `single_post_buffered` are held, so the
// request can also be resent after a passing failure; larger ones, once the registry is known to take single
// POSTs, are streamed.
constexpr std::int64_t single_post_buffered = 1024 * 1024;
constexpr std::int64_t single_post_limit = 64 * 1024 * 1024;

using single_post = detail::registry_session::single_post;

// Any 4xx but an auth failure or a rate limit says the registry does not take a body on POST: a 400
// UNSUPPORTED, 404, 405, 413, 415.
bool refuses_single_post(int status) {
    return status >= 400 && status < 500 && status != 401 && status != 403 && status != 429;
}

api_call single_post_call(const std::string& repository, const digest& d) {
    auto c = upload_call(verb::post, fmt::format("/v2/{}/blobs/uploads/?digest={}", repository, d.str()),
                         repository);
    c.headers.emplace_back("Content-Type", "application/octet-stream");
    return c;
}

asio::awaitable<result<void>> post_buffered(detail::registry_session& s, std::string repository,
                                            descriptor desc, blob_reader& reader) {
    const auto before = s.single_post_state();
    auto settle = [&](single_post state) {
        if (s.single_post_state() == single_post::probing) s.note_single_post(state);
    };
    verifying_source source(reader, desc, desc.size);
    std::string data;
    for (;;) {
        auto piece = co_await source.next();
        if (!piece) {
            settle(before == single_post::probing ? single_post::unknown : before);
            co_return piece.error();
        }
        if (piece->empty()) break;
        data.append(reinterpret_cast<const char*>(piece->data()), piece->size());
    }
    auto where = fmt::format("uploading blob {} to {}/{}", desc.digest.str(), s.name(), repository);
    auto c = single_post_call(repository, desc.digest);
    c.body = data;
    auto resp = co_await s.send(c);
    if (!resp || resp->status == 401 || resp->status == 403 || resp->status >= 429) {
        // Nothing learnt about single POSTs: a later upload asks again.
        settle(single_post::unknown);
        auto e = resp ? s.error_from(*resp, verb::post, c.target) : resp.error();
        e.message = fmt::format("{} failed: {}", where, e.message);
        co_return e;
    }
    if (resp->status == 201) {
        settle(single_post::works);
        co_return result<void>{};
    }
    std::optional<upload_session> session;
    if (resp->status == 202) {
        auto opened = opened_session(s, *resp, repository, c.target);
        if (!opened) {
            settle(single_post::refused);
            co_return opened.error();
        }
        session = std::move(*opened);
    } else if (!refuses_single_post(resp->status)) {
        co_return make_error(errc::bad_response, fmt::format("{} failed: {} answered {}", where,
                                                             s.describe(verb::post, c.target), resp->status));
    }
    if (s.single_post_state() != single_post::refused) s.note_single_post(single_post::refused);
    if (!session) {
        auto opened = co_await open_upload(s, repository, desc.digest, std::nullopt);
        if (!opened) co_return opened.error();
        session = std::move(**opened);
    }
    memory_reader again(data);
    co_return co_await send_opened(s, std::move(*session), std::move(desc), again);
}

asio::awaitable<result<void>> post_streamed(detail::registry_session& s, std::string repository,
                                            descriptor desc, blob_reader& reader) {
    auto where = fmt::format("uploading blob {} to {}/{}", desc.digest.str(), s.name(), repository);
    verifying_source source(reader, desc, desc.size);
    auto c = single_post_call(repository, desc.digest);
    c.source = &source;
    c.content_length = desc.size;
    auto resp = co_await s.send(c);
    if (source.failure()) co_return *source.failure();
    if (!resp) {
        auto e = resp.error();
        e.message = fmt::format("{} failed: {}", where, e.message);
        co_return e;
    }
    if (resp->status == 201) co_return result<void>{};
    auto e = s.error_from(*resp, verb::post, c.target);
    if (resp->status == 202 || refuses_single_post(resp->status)) {
        // The body is spent: give back the session the registry opened, and let the copy engine try once
        // more, which opens one itself.
        s.note_single_post(single_post::refused);
        if (auto opened = opened_session(s, *resp, repository, c.target); opened)
            co_await give_back(s, std::move(*opened));
        e = make_error(errc::unsupported,
                       fmt::format("{} answered {} instead of taking the blob in one request; uploads to {} "
                                   "open a session from now on",
                                   s.describe(verb::post, c.target), resp->status, s.name()));
    }
    e.message = fmt::format("{} failed: {}", where, e.message);
    co_return e;
}

} // namespace

// With a digest and nothing to mount, the POST waits for finish_upload: with the body at hand it may be the
// only request (single POST).
asio::awaitable<result<std::optional<upload_session>>>
remote_registry::start_upload(std::string repository, std::optional<digest> d,
                              std::optional<std::string> mount_from) {
    auto& s = *session_;
    if (auto ok = detail::check_names(s.name(), repository); !ok) co_return ok.error();
    if (mount_from)
        if (auto ok = detail::check_names(s.name(), *mount_from); !ok) co_return ok.error();
    if (d && !mount_from && s.single_post_state() != single_post::refused && !s.monolithic_refused()) {
        upload_session deferred;
        deferred.repository = std::move(repository);
        deferred.opened = false;
        co_return std::optional<upload_session>{std::move(deferred)};
    }
    co_return co_await open_upload(s, std::move(repository), std::move(d), std::move(mount_from));
}

asio::awaitable<result<void>> remote_registry::finish_upload(upload_session session, descriptor desc,
                                                             blob_reader& reader) {
    auto& s = *session_;
    if (!session.opened) {
        const auto state = s.single_post_state();
        const bool usable = desc.size >= 0 && !s.monolithic_refused();
        if (usable && desc.size <= single_post_buffered &&
            (state == single_post::works || state == single_post::unknown)) {
            if (state == single_post::unknown) s.note_single_post(single_post::probing);
            co_return co_await post_buffered(s, session.repository, std::move(desc), reader);
        }
        if (usable && desc.size <= single_post_limit && state == single_post::works)
            co_return co_await post_streamed(s, session.repository, std::move(desc), reader);
        auto opened = co_await open_upload(s, session.repository, desc.digest, std::nullopt);
        if (!opened) co_return opened.error();
        co_return co_await send_opened(s, std::move(**opened), std::move(desc), reader);
    }
    co_return co_await send_into(s, std::move(session), std::move(desc), reader);
}

asio::awaitable<void> remote_registry::cancel_upload(upload_session session) {
    if (session.opened) co_await give_back(*session_, std::move(session));
}

} // namespace libregistry
