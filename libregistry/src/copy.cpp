#include "libregistry/copy.hpp"

#include "libregistry/detail/concurrency.hpp"

#include <boost/asio/this_coro.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <memory>

namespace libregistry {

namespace asio = boost::asio;

struct blob_ledger::transfer_slot {
    explicit transfer_slot(asio::any_io_executor ex) : timer(ex, asio::steady_timer::time_point::max()) {}
    asio::steady_timer timer;
    bool finished = false;
};

std::optional<std::string> blob_ledger::holder(std::string_view registry, const digest& d,
                                               std::string_view except) const {
    auto it = holders_.find(std::string(registry) + "@" + d.str());
    if (it == holders_.end()) return std::nullopt;
    for (const auto& repo : it->second)
        if (repo != except) return repo;
    return std::nullopt;
}

bool blob_ledger::holds(std::string_view registry, std::string_view repository, const digest& d) const {
    auto it = holders_.find(std::string(registry) + "@" + d.str());
    return it != holders_.end() &&
           std::find(it->second.begin(), it->second.end(), repository) != it->second.end();
}

void blob_ledger::record(std::string_view registry, std::string_view repository, const digest& d) {
    auto& repos = holders_[std::string(registry) + "@" + d.str()];
    if (std::find(repos.begin(), repos.end(), repository) == repos.end()) repos.emplace_back(repository);
}

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

private:
    blob_reader& inner_;
    const copy_options& options_;
    digest digest_;
    std::int64_t bytes_ = 0;
    std::int64_t reported_ = 0;
};

class copier {
public:
    copier(registry& source, std::string source_repository, registry& destination,
           std::string destination_repository, copy_options options, asio::any_io_executor executor)
        : source_(source), source_repository_(std::move(source_repository)), destination_(destination),
          destination_repository_(std::move(destination_repository)), options_(std::move(options)),
          transfers_(executor, std::max<std::size_t>(options_.jobs, 1)),
          ledger_(options_.ledger ? options_.ledger : &own_ledger_) {}

    copy_stats stats;

    // Copies a manifest's content, then pushes the manifest itself under `ref`.
    asio::awaitable<result<void>> copy_tree(manifest m, std::string ref) {
        std::optional<error> failure;
        if (m.kind == manifest_kind::index) {
            auto children = m.manifests;
            std::function<asio::awaitable<void>(std::size_t)> copy_one =
                [&](std::size_t i) -> asio::awaitable<void> {
                if (failure) co_return;
                auto r = co_await copy_child(children[i]);
                if (!r && !failure) failure = r.error();
            };
            co_await detail::for_each_bounded(children.size(), options_.jobs, copy_one);
        } else {
            auto blobs = m.blobs();
            std::function<asio::awaitable<void>(std::size_t)> copy_one =
                [&](std::size_t i) -> asio::awaitable<void> {
                if (failure) co_return;
                auto r = co_await copy_blob(blobs[i]);
                if (!r && !failure) failure = r.error();
            };
            co_await detail::for_each_bounded(blobs.size(), blobs.size(), copy_one);
        }
        if (failure) co_return *failure;
        auto pushed = co_await destination_.put_manifest(destination_repository_, ref, m);
        if (!pushed) co_return pushed.error();
        ++stats.manifests_pushed;
        if (options_.on_event) options_.on_event(copy_event{copy_event::kind::manifest_pushed, m.digest, 0});
        co_return result<void>{};
    }

private:
    asio::awaitable<result<void>> copy_child(descriptor child) {
        auto existing = co_await destination_.head_manifest(destination_repository_, child.digest.str());
        if (!existing) co_return existing.error();
        if (*existing && (*existing)->digest == child.digest) co_return result<void>{};
        auto m = co_await source_.get_manifest(source_repository_, child.digest.str());
        if (!m) co_return m.error();
        co_return co_await copy_tree(std::move(*m), child.digest.str());
    }

    // One blob: skip it if the destination has it, mount it if another repository of the destination registry
    // holds it (the source's, when both are one registry, or one this run copied it to), else stream it
    // across. Transfers of one blob into one registry are serialised, so concurrent copies that share a layer
    // send it once and mount it everywhere else.
    asio::awaitable<result<void>> copy_blob(descriptor desc) {
        auto& ledger = *ledger_;
        auto registry = destination_.name();
        auto key = registry + "@" + desc.digest.str();
        for (;;) {
            if (ledger.holds(registry, destination_repository_, desc.digest)) {
                ++stats.blobs_skipped;
                co_return result<void>{};
            }
            auto it = ledger.inflight.find(key);
            if (it == ledger.inflight.end()) break;
            auto slot = it->second;
            while (!slot->finished)
                co_await slot->timer.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        auto slot = std::make_shared<blob_ledger::transfer_slot>(co_await asio::this_coro::executor);
        ledger.inflight.emplace(key, slot);
        std::optional<std::string> mount_from = ledger.holder(registry, desc.digest, destination_repository_);
        if (!mount_from && source_.name() == registry && source_repository_ != destination_repository_)
            mount_from = source_repository_;
        auto r = co_await transfer(desc, mount_from);
        if (r) ledger.record(registry, destination_repository_, desc.digest);
        ledger.inflight.erase(key);
        slot->finished = true;
        slot->timer.cancel();
        co_return r;
    }

    asio::awaitable<result<void>> transfer(descriptor desc, std::optional<std::string> mount_from) {
        co_await transfers_.acquire();
        detail::semaphore_guard guard(transfers_);
        std::optional<error> last;
        bool retried_after_refusal = false;
        for (int attempt = 0; attempt <= options_.blob_retries; ++attempt) {
            auto present = co_await destination_.has_blob(destination_repository_, desc.digest);
            if (!present) {
                last = present.error();
                if (last->retryable()) continue;
                break;
            }
            if (*present) {
                ++stats.blobs_skipped;
                co_return result<void>{};
            }
            auto session =
                co_await destination_.start_upload(destination_repository_, desc.digest, mount_from);
            if (!session) {
                last = session.error();
                if (last->retryable()) continue;
                break;
            }
            if (!*session) {
                ++stats.blobs_mounted;
                co_return result<void>{};
            }
            if (options_.on_event)
                options_.on_event(copy_event{copy_event::kind::blob_started, desc.digest, desc.size});
            auto reader = co_await source_.get_blob(source_repository_, desc);
            if (!reader) {
                co_await destination_.cancel_upload(**session);
                last = reader.error();
                if (last->retryable()) continue;
                break;
            }
            progress_reader counted(**reader, options_, desc.digest);
            auto done = co_await destination_.finish_upload(**session, desc, counted);
            if (done) {
                ++stats.blobs_uploaded;
                if (desc.size > 0) stats.bytes_sent += static_cast<std::uint64_t>(desc.size);
                if (options_.on_event)
                    options_.on_event(copy_event{copy_event::kind::blob_done, desc.digest, desc.size});
                co_return result<void>{};
            }
            co_await destination_.cancel_upload(**session);
            last = done.error();
            // A registry that refused a one-shot upload or an expired token deserves one more try: the
            // registry client switches to chunks or fetches a new token.
            bool second_chance = !retried_after_refusal && (done.error().code == errc::unsupported ||
                                                            done.error().code == errc::unauthorized);
            if (second_chance) {
                retried_after_refusal = true;
                continue;
            }
            if (!last->retryable()) break;
        }
        co_return *last;
    }

    registry& source_;
    std::string source_repository_;
    registry& destination_;
    std::string destination_repository_;
    copy_options options_;
    detail::async_semaphore transfers_;
    blob_ledger own_ledger_;
    blob_ledger* ledger_;
};

} // namespace

asio::awaitable<result<copy_stats>> copy_image(registry& source, reference from, registry& destination,
                                               reference to, copy_options options) {
    auto started = std::chrono::steady_clock::now();
    std::string push_ref;
    if (to.digest)
        push_ref = to.digest->str();
    else if (!to.tag.empty())
        push_ref = to.tag;
    else
        push_ref = from.identifier();
    auto src_name = fmt::format("{}/{}:{}", source.name(), from.repository, from.identifier());
    auto dst_name = fmt::format("{}/{}:{}", destination.name(), to.repository, push_ref);

    copier c(source, from.repository, destination, to.repository, options,
             co_await asio::this_coro::executor);
    auto finish = [&]() {
        c.stats.duration =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
        return c.stats;
    };

    // HEAD both sides first: when they agree nothing is fetched, which keeps a no-op run off pull quotas.
    std::string source_ref =
        options.known_source_digest ? options.known_source_digest->str() : from.identifier();
    if (options.platforms.empty() && !options.known_source_digest) {
        auto src_desc = co_await source.head_manifest(from.repository, source_ref);
        if (!src_desc) co_return src_desc.error();
        if (!*src_desc)
            co_return make_error(
                errc::manifest_unknown,
                fmt::format("{} not found: no such tag or digest in the source repository", src_name), 404);
        source_ref = (*src_desc)->digest.str();
        if (!options.force) {
            auto existing = co_await destination.head_manifest(to.repository, push_ref);
            if (!existing) co_return existing.error();
            if (*existing && (*existing)->digest == (*src_desc)->digest) {
                c.stats.up_to_date = true;
                c.stats.manifest_digest = (*src_desc)->digest;
                c.stats.media_type = (*src_desc)->media_type;
                co_return finish();
            }
        }
    }
    auto m = co_await source.get_manifest(from.repository, source_ref);
    if (!m) {
        if (m.error().code == errc::manifest_unknown || m.error().code == errc::not_found)
            co_return make_error(
                errc::manifest_unknown,
                fmt::format("{} not found: no such tag or digest in the source repository", src_name), 404);
        co_return m.error();
    }
    if (!options.platforms.empty() && m->kind == manifest_kind::index) {
        auto filtered = filter_index(*m, options.platforms);
        if (!filtered) {
            auto e = filtered.error();
            e.message = fmt::format("{}: {}", src_name, e.message);
            co_return e;
        }
        c.stats.filtered = filtered->digest != m->digest;
        m = std::move(filtered);
        if (!options.force) {
            auto existing = co_await destination.head_manifest(to.repository, push_ref);
            if (!existing) co_return existing.error();
            if (*existing && (*existing)->digest == m->digest) {
                c.stats.up_to_date = true;
                c.stats.manifest_digest = m->digest;
                c.stats.media_type = m->media_type;
                co_return finish();
            }
        }
    }
    if (to.digest && *to.digest != m->digest)
        co_return make_error(errc::invalid_argument,
                             fmt::format("cannot push {} as {}: the content's digest is {}{}", src_name,
                                         dst_name, m->digest.str(),
                                         c.stats.filtered ? " (the platform filter rewrote the index)" : ""));
    c.stats.manifest_digest = m->digest;
    c.stats.media_type = m->media_type;
    auto r = co_await c.copy_tree(std::move(*m), push_ref);
    if (!r) {
        auto e = r.error();
        e.message = fmt::format("copying {} to {}: {}", src_name, dst_name, e.message);
        co_return e;
    }
    co_return finish();
}

} // namespace libregistry
