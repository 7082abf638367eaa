#include "sync/detail/blob_copier.hpp"

#include "libregistry/core/retry.hpp"

#include "client/detail/for_each_bounded.hpp"

#include <fmt/format.h>

#include <functional>

namespace libregistry::detail {

namespace asio = boost::asio;

namespace {

// Reports transfer progress about every MiB.
class progress_reader final : public blob_reader {
public:
    progress_reader(blob_reader& inner, const copy_options& options, const digest& d)
        : inner_(inner), options_(options), digest_(d) {}

    asio::awaitable<result<std::size_t>> read(std::span<std::byte> buffer) override {
        auto n = co_await inner_.read(buffer);
        if (n && *n > 0) {
            bytes_ += static_cast<std::int64_t>(*n);
            if (options_.on_event && bytes_ - reported_ >= (1 << 20)) {
                reported_ = bytes_;
                options_.on_event(copy_event{copy_event::kind::blob_progress, digest_, bytes_});
            }
        }
        co_return n;
    }

    std::int64_t bytes() const noexcept { return bytes_; }

private:
    blob_reader& inner_;
    const copy_options& options_;
    digest digest_;
    std::int64_t bytes_ = 0;
    std::int64_t reported_ = 0;
};

} // namespace

asio::awaitable<std::optional<blob_ledger::lease>> blob_copier::claim(target& t, descriptor desc) {
    co_return co_await ledger_.claim(t.destination.name(), t.repository(), desc.digest);
}

std::optional<std::string> blob_copier::mount_source(target& t, const descriptor& desc) const {
    auto from = ledger_.holder(t.destination.name(), desc.digest, t.repository());
    if (!from && source_.name() == t.destination.name() && source_repository_ != t.repository())
        from = source_repository_;
    return from;
}

asio::awaitable<result<void>> blob_copier::copy_to(target& t, descriptor desc) {
    auto lease = co_await claim(t, desc);
    if (!lease) {
        ++t.stats.blobs_skipped;
        co_return result<void>{};
    }
    auto r = co_await transfer(t, desc, mount_source(t, desc));
    if (r) lease->arrived();
    co_return r;
}

asio::awaitable<result<void>> blob_copier::transfer(target& t, descriptor desc,
                                                    std::optional<std::string> mount_from) {
    co_await t.transfers.acquire();
    semaphore_guard guard(t.transfers);
    std::optional<error> last;
    bool second_chance_used = false;
    for (int attempt = 1;; ++attempt) {
        if (stopping()) {
            if (!last) co_return stopped("copying blob " + desc.digest.str());
            co_return stopped(fmt::format("retrying blob {} after: {}", desc.digest.str(), last->message));
        }
        auto sent = co_await send(t, desc, mount_from);
        if (sent) co_return sent;
        last = sent.error();
        if (!retry_transfer(*last, attempt, second_chance_used, options_.retry)) co_return *last;
        // The one extra try after a refused one-shot upload or a rejected token is spent.
        if (last->code == errc::unsupported || last->code == errc::unauthorized) second_chance_used = true;
    }
}

asio::awaitable<result<void>> blob_copier::send(target& t, descriptor desc,
                                                std::optional<std::string> mount_from) {
    if (!mount_from) {
        auto present = co_await t.destination.has_blob(t.repository(), desc.digest);
        if (!present) co_return present.error();
        if (*present) {
            ++t.stats.blobs_skipped;
            co_return result<void>{};
        }
        // The blob is missing: opening the upload and opening the download are independent, so both go out
        // at once, one round trip instead of two before the bytes flow.
        co_return co_await open_both(t, std::move(desc));
    }
    auto prepared = co_await prepare(t, desc, mount_from);
    if (!prepared) co_return prepared.error();
    if (!*prepared) co_return result<void>{};
    auto session = **prepared;
    // The stop came while the session was being opened: give it back rather than start sending.
    if (stopping()) {
        co_await t.destination.cancel_upload(session);
        co_return stopped("sending blob " + desc.digest.str());
    }
    auto reader = co_await source_.get_blob(source_repository_, desc);
    if (!reader) {
        co_await t.destination.cancel_upload(session);
        co_return reader.error();
    }
    co_return co_await upload(t, session, desc, **reader);
}

asio::awaitable<result<void>> blob_copier::open_both(target& t, descriptor desc) {
    std::optional<result<std::unique_ptr<blob_reader>>> reader;
    result<std::optional<upload_session>> session = std::optional<upload_session>{};
    // The download starts first, then the upload session is opened while it is under way.
    std::function<asio::awaitable<void>()> open_download = [&]() -> asio::awaitable<void> {
        reader = co_await source_.get_blob(source_repository_, desc);
    };
    std::function<asio::awaitable<void>()> open_upload = [&]() -> asio::awaitable<void> {
        session = co_await t.destination.start_upload(t.repository(), desc.digest, std::nullopt);
    };
    co_await both(open_download, open_upload);
    if (!session) co_return session.error();
    if (!*session) co_return result<void>{}; // nothing to send after all
    if (stopping() || !*reader) {
        co_await t.destination.cancel_upload(**session);
        if (!*reader) co_return reader->error();
        co_return stopped("sending blob " + desc.digest.str());
    }
    co_return co_await upload(t, **session, desc, ***reader);
}

// HEAD, then POST (with a mount when possible): an upload session, or nullopt when nothing is left to send.
// When another repository of the registry is known to hold the blob, the mount alone answers both questions
// (a registry mounts a blob the repository already has as well), so the HEAD is left out.
asio::awaitable<result<std::optional<upload_session>>>
blob_copier::prepare(target& t, descriptor desc, std::optional<std::string> mount_from) {
    if (!mount_from) {
        auto present = co_await t.destination.has_blob(t.repository(), desc.digest);
        if (!present) co_return present.error();
        if (*present) {
            ++t.stats.blobs_skipped;
            co_return std::optional<upload_session>{};
        }
    }
    auto session = co_await t.destination.start_upload(t.repository(), desc.digest, mount_from);
    if (!session) co_return session.error();
    if (!*session) {
        ++t.stats.blobs_mounted;
        co_return std::optional<upload_session>{};
    }
    co_return std::move(*session);
}

asio::awaitable<result<void>> blob_copier::upload(target& t, upload_session session, descriptor desc,
                                                  blob_reader& reader) {
    if (options_.on_event)
        options_.on_event(copy_event{copy_event::kind::blob_started, desc.digest, desc.size});
    progress_reader counted(reader, options_, desc.digest);
    auto done = co_await t.destination.finish_upload(session, desc, counted);
    if (!done) {
        co_await t.destination.cancel_upload(session);
        co_return done;
    }
    ++t.stats.blobs_uploaded;
    // Schema 1 layers have no size in their manifest (-1): count what went through instead.
    const auto sent = desc.size >= 0 ? desc.size : counted.bytes();
    t.stats.bytes_sent += static_cast<std::uint64_t>(sent);
    if (options_.on_event) options_.on_event(copy_event{copy_event::kind::blob_done, desc.digest, sent});
    co_return result<void>{};
}

} // namespace libregistry::detail
