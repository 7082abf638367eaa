#include "libregistry/sync/copy.hpp"

#include "client/detail/for_each_bounded.hpp"
#include "client/detail/semaphore.hpp"

#include <boost/asio/this_coro.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>

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

// One download feeding several uploads. Chunks are read from the source one at a time and handed to every
// consumer; the next chunk is read once all of them have taken the current one, so memory stays at one chunk
// and the slowest upload sets the pace. A consumer whose upload ends early is detached and no longer waited
// for.
class tee {
public:
    tee(blob_reader& source, std::size_t consumers, std::size_t chunk_size, asio::any_io_executor ex)
        : source_(source), chunk_(chunk_size), wake_(ex, asio::steady_timer::time_point::max()),
          states_(consumers), active_(consumers) {
        for (std::size_t i = 0; i < consumers; ++i)
            readers_.push_back(std::make_unique<reader>(*this, i));
    }

    blob_reader& consumer(std::size_t i) { return *readers_[i]; }

    void detach(std::size_t i) {
        auto& st = states_[i];
        if (st.detached) return;
        st.detached = true;
        --active_;
        if (st.next == seq_ && pending_ > 0) --pending_;
        wake_.cancel();
    }

private:
    struct state {
        std::uint64_t next = 1; ///< the chunk this consumer needs
        std::size_t offset = 0;
        bool detached = false;
    };

    class reader final : public blob_reader {
    public:
        reader(tee& t, std::size_t index) : tee_(t), index_(index) {}
        asio::awaitable<result<std::size_t>> read(std::span<std::byte> buffer) override {
            co_return co_await tee_.read(index_, buffer);
        }

    private:
        tee& tee_;
        std::size_t index_;
    };

    asio::awaitable<result<std::size_t>> read(std::size_t who, std::span<std::byte> out) {
        auto& st = states_[who];
        for (;;) {
            if (failure_) co_return *failure_;
            if (st.next == seq_ && st.offset < length_) {
                auto n = std::min(out.size(), length_ - st.offset);
                std::copy_n(chunk_.data() + st.offset, n, out.data());
                st.offset += n;
                if (st.offset == length_) {
                    ++st.next;
                    st.offset = 0;
                    if (--pending_ == 0) wake_.cancel();
                }
                co_return n;
            }
            if (eof_) co_return std::size_t{0};
            if (pending_ == 0 && !producing_) {
                producing_ = true;
                auto n = co_await source_.read(std::span<std::byte>(chunk_));
                producing_ = false;
                if (!n)
                    failure_ = n.error();
                else if (*n == 0)
                    eof_ = true;
                else {
                    ++seq_;
                    length_ = *n;
                    pending_ = active_;
                }
                wake_.cancel();
                continue;
            }
            co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
        }
    }

    blob_reader& source_;
    std::vector<std::byte> chunk_;
    asio::steady_timer wake_;
    std::vector<state> states_;
    std::vector<std::unique_ptr<reader>> readers_;
    std::size_t active_;
    std::size_t pending_ = 0;
    std::uint64_t seq_ = 0;
    std::size_t length_ = 0;
    bool producing_ = false;
    bool eof_ = false;
    std::optional<error> failure_;
};

// One destination of a copy, and what happened there.
struct target {
    target(registry& d, reference r, std::string ref, std::size_t jobs, asio::any_io_executor ex)
        : destination(d), to(std::move(r)), push_ref(std::move(ref)), transfers(ex, jobs) {}

    registry& destination;
    reference to;
    std::string push_ref;
    std::string context; ///< "copying SRC to DST", prefixed to failures inside the copy
    copy_stats stats;
    std::optional<error> failure;
    bool done = false; ///< up to date, or failed before the copy started
    detail::async_semaphore transfers;

    const std::string& repository() const { return to.repository; }
    void fail(const error& e) {
        if (failure) return;
        failure = e;
        failure->message = fmt::format("{}: {}", context, e.message);
    }
};

// Why a target stopped short when copy_options::stop was requested.
error stopped(std::string what) {
    return make_error(errc::cancelled, fmt::format("stopped before {}", what));
}

std::vector<target*> alive(const std::vector<target*>& group) {
    std::vector<target*> out;
    for (auto* t : group)
        if (!t->failure) out.push_back(t);
    return out;
}

class copy_job {
public:
    copy_job(registry& source, std::string source_repository, copy_options options)
        : source_(source), source_repository_(std::move(source_repository)), options_(std::move(options)),
          ledger_(options_.ledger ? options_.ledger : &own_ledger_) {}

    // Copies a manifest's content to every target of `group`, then pushes the manifest there under `refs[i]`.
    // Once a stop is requested nothing is pushed: content finished in the meantime stays unreferenced, and
    // the next run finds it in place.
    asio::awaitable<void> copy_tree(manifest m, std::vector<target*> group, std::vector<std::string> refs) {
        if (m.kind == manifest_kind::index) {
            auto children = m.manifests;
            std::function<asio::awaitable<void>(std::size_t)> copy_one =
                [&](std::size_t i) -> asio::awaitable<void> { co_await copy_child(children[i], group); };
            co_await detail::for_each_bounded(children.size(), options_.jobs, copy_one);
        } else {
            auto blobs = m.blobs();
            std::function<asio::awaitable<void>(std::size_t)> copy_one =
                [&](std::size_t i) -> asio::awaitable<void> { co_await copy_blob(blobs[i], group); };
            co_await detail::for_each_bounded(blobs.size(), blobs.size(), copy_one);
        }
        for (std::size_t i = 0; i < group.size(); ++i) {
            auto* t = group[i];
            if (t->failure) continue;
            if (stopping()) {
                t->fail(stopped(fmt::format("pushing manifest {} as {}", m.digest.str(), refs[i])));
                continue;
            }
            auto pushed = co_await t->destination.put_manifest(t->repository(), refs[i], m);
            if (!pushed) {
                t->fail(pushed.error());
                continue;
            }
            ++t->stats.manifests_pushed;
            if (options_.on_event)
                options_.on_event(copy_event{copy_event::kind::manifest_pushed, m.digest, 0});
        }
    }

private:
    bool stopping() const { return options_.stop.stop_requested(); }

    // Fails every live target of `group` when a stop was requested; true if so.
    bool stop_group(const std::vector<target*>& group, const std::string& what) {
        if (!stopping()) return false;
        for (auto* t : alive(group))
            t->fail(stopped(what));
        return true;
    }

    asio::awaitable<void> copy_child(descriptor child, std::vector<target*> group) {
        if (stop_group(group, "copying child manifest " + child.digest.str())) co_return;
        std::vector<target*> need;
        for (auto* t : alive(group)) {
            auto existing = co_await t->destination.head_manifest(t->repository(), child.digest.str());
            if (!existing)
                t->fail(existing.error());
            else if (!*existing || (*existing)->digest != child.digest)
                need.push_back(t);
        }
        if (need.empty()) co_return;
        auto m = co_await source_.get_manifest(source_repository_, child.digest.str());
        if (!m) {
            for (auto* t : need)
                t->fail(m.error());
            co_return;
        }
        std::vector<std::string> refs(need.size(), child.digest.str());
        co_await copy_tree(std::move(*m), std::move(need), std::move(refs));
    }

    // The first target on each registry gets the bytes; the others on that registry then mount them.
    asio::awaitable<void> copy_blob(descriptor desc, std::vector<target*> group) {
        if (stop_group(group, "copying blob " + desc.digest.str())) co_return;
        auto targets = alive(group);
        std::vector<target*> primaries, followers;
        std::set<std::string> registries;
        for (auto* t : targets)
            (registries.insert(t->destination.name()).second ? primaries : followers).push_back(t);
        if (primaries.size() > 1) {
            co_await fan_out(desc, primaries);
        } else if (primaries.size() == 1) {
            auto r = co_await copy_blob_to(*primaries[0], desc);
            if (!r) primaries[0]->fail(r.error());
        }
        for (auto* t : followers) {
            if (t->failure) continue;
            if (stopping()) {
                t->fail(stopped("copying blob " + desc.digest.str()));
                continue;
            }
            auto r = co_await copy_blob_to(*t, desc);
            if (!r) t->fail(r.error());
        }
    }

    // Waits while another copy is sending `desc` to `t`'s registry, then claims the transfer. nullopt when
    // the ledger says `t`'s repository already has it.
    asio::awaitable<std::shared_ptr<blob_ledger::transfer_slot>> claim(target& t, const descriptor& desc) {
        auto& ledger = *ledger_;
        auto registry = t.destination.name();
        auto key = registry + "@" + desc.digest.str();
        for (;;) {
            if (ledger.holds(registry, t.repository(), desc.digest)) co_return nullptr;
            auto it = ledger.inflight.find(key);
            if (it == ledger.inflight.end()) break;
            auto slot = it->second;
            while (!slot->finished)
                co_await slot->timer.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        auto slot = std::make_shared<blob_ledger::transfer_slot>(co_await asio::this_coro::executor);
        ledger.inflight.emplace(key, slot);
        co_return slot;
    }

    void release(target& t, const descriptor& desc, const std::shared_ptr<blob_ledger::transfer_slot>& slot,
                 bool success) {
        if (success) ledger_->record(t.destination.name(), t.repository(), desc.digest);
        ledger_->inflight.erase(t.destination.name() + "@" + desc.digest.str());
        slot->finished = true;
        slot->timer.cancel();
    }

    std::optional<std::string> mount_source(target& t, const descriptor& desc) const {
        auto from = ledger_->holder(t.destination.name(), desc.digest, t.repository());
        if (!from && source_.name() == t.destination.name() && source_repository_ != t.repository())
            from = source_repository_;
        return from;
    }

    // One blob to one target: skip it if the repository has it, mount it if another repository of the
    // registry holds it (the source's, when both are one registry, or one this run copied it to), else stream
    // it across. Transfers of one blob into one registry are serialised, so concurrent copies that share a
    // layer send it once and mount it everywhere else.
    asio::awaitable<result<void>> copy_blob_to(target& t, descriptor desc) {
        auto slot = co_await claim(t, desc);
        if (!slot) {
            ++t.stats.blobs_skipped;
            co_return result<void>{};
        }
        auto r = co_await transfer(t, desc, mount_source(t, desc));
        release(t, desc, slot, r.has_value());
        co_return r;
    }

    asio::awaitable<result<void>> transfer(target& t, descriptor desc,
                                           std::optional<std::string> mount_from) {
        co_await t.transfers.acquire();
        detail::semaphore_guard guard(t.transfers);
        std::optional<error> last;
        bool retried_after_refusal = false;
        for (int attempt = 0; attempt <= options_.blob_retries; ++attempt) {
            if (stopping()) {
                if (!last) co_return stopped("copying blob " + desc.digest.str());
                co_return stopped(
                    fmt::format("retrying blob {} after: {}", desc.digest.str(), last->message));
            }
            auto prepared = co_await prepare(t, desc, mount_from);
            if (!prepared) {
                last = prepared.error();
                if (last->retryable()) continue;
                break;
            }
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
                last = reader.error();
                if (last->retryable()) continue;
                break;
            }
            auto done = co_await upload(t, session, desc, **reader);
            if (done) co_return result<void>{};
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

    // HEAD, then POST (with a mount when possible): an upload session, or nullopt when nothing is left to
    // send. When another repository of the registry is known to hold the blob, the mount alone answers both
    // questions (a registry mounts a blob the repository already has as well), so the HEAD is left out.
    asio::awaitable<result<std::optional<upload_session>>> prepare(target& t, const descriptor& desc,
                                                                   std::optional<std::string> mount_from) {
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

    asio::awaitable<result<void>> upload(target& t, upload_session session, descriptor desc,
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
        if (desc.size > 0) t.stats.bytes_sent += static_cast<std::uint64_t>(desc.size);
        if (options_.on_event)
            options_.on_event(copy_event{copy_event::kind::blob_done, desc.digest, desc.size});
        co_return result<void>{};
    }

    // Targets on different registries that all lack the blob share one download.
    asio::awaitable<void> fan_out(descriptor desc, std::vector<target*> primaries) {
        struct lane {
            target* t;
            std::shared_ptr<blob_ledger::transfer_slot> slot;
            std::optional<std::string> mount_from;
            std::optional<upload_session> session;
            std::optional<error> failure;
        };
        std::vector<lane> lanes;
        for (auto* t : primaries) {
            auto slot = co_await claim(*t, desc);
            if (!slot) {
                ++t->stats.blobs_skipped;
                continue;
            }
            lanes.push_back(lane{t, slot, mount_source(*t, desc), {}, {}});
        }
        // Permits are taken in target order, the same order everywhere, so two fan-outs cannot deadlock.
        std::vector<detail::semaphore_guard> permits;
        std::vector<lane*> uploading;
        for (auto& l : lanes) {
            co_await l.t->transfers.acquire();
            permits.emplace_back(l.t->transfers);
            if (stopping()) {
                l.failure = stopped("copying blob " + desc.digest.str());
                continue;
            }
            auto prepared = co_await prepare(*l.t, desc, l.mount_from);
            if (!prepared)
                l.failure = prepared.error();
            else if (*prepared) {
                l.session = **prepared;
                uploading.push_back(&l);
            }
        }
        if (!uploading.empty() && stopping()) {
            for (auto* l : uploading) {
                co_await l->t->destination.cancel_upload(*l->session);
                l->failure = stopped("sending blob " + desc.digest.str());
            }
            uploading.clear();
        }
        if (!uploading.empty()) {
            auto reader = co_await source_.get_blob(source_repository_, desc);
            if (!reader) {
                for (auto* l : uploading) {
                    co_await l->t->destination.cancel_upload(*l->session);
                    l->failure = reader.error();
                }
            } else {
                tee shared(**reader, uploading.size(), 256 * 1024, co_await asio::this_coro::executor);
                std::function<asio::awaitable<void>(std::size_t)> send =
                    [&](std::size_t i) -> asio::awaitable<void> {
                    auto r =
                        co_await upload(*uploading[i]->t, *uploading[i]->session, desc, shared.consumer(i));
                    shared.detach(i);
                    if (!r) uploading[i]->failure = r.error();
                };
                co_await detail::for_each_bounded(uploading.size(), uploading.size(), send);
            }
        }
        permits.clear();
        // A lane that failed gets the ordinary path, with its own download and retries.
        for (auto& l : lanes) {
            bool ok = !l.failure;
            if (l.failure) {
                auto retry = co_await transfer(*l.t, desc, l.mount_from);
                ok = retry.has_value();
                if (!ok) l.t->fail(retry.error());
            }
            release(*l.t, desc, l.slot, ok);
        }
    }

    registry& source_;
    std::string source_repository_;
    copy_options options_;
    blob_ledger own_ledger_;
    blob_ledger* ledger_;
};

} // namespace

asio::awaitable<std::vector<result<copy_stats>>> copy_image_to_many(registry& source, reference from,
                                                                    std::vector<copy_target> destinations,
                                                                    copy_options options) {
    auto started = std::chrono::steady_clock::now();
    auto executor = co_await asio::this_coro::executor;
    auto src_name = fmt::format("{}/{}:{}", source.name(), from.repository, from.identifier());
    std::vector<std::unique_ptr<target>> targets;
    for (auto& d : destinations) {
        std::string push_ref = d.to.digest         ? d.to.digest->str()
                               : !d.to.tag.empty() ? d.to.tag
                                                   : from.identifier();
        auto t = std::make_unique<target>(*d.destination, d.to, push_ref,
                                          std::max<std::size_t>(options.jobs, 1), executor);
        t->context =
            fmt::format("copying {} to {}/{}:{}", src_name, d.destination->name(), d.to.repository, push_ref);
        targets.push_back(std::move(t));
    }
    auto fail_all = [&](const error& e) {
        for (auto& t : targets)
            if (!t->done && !t->failure) t->failure = e;
    };
    auto not_found = [&] {
        return make_error(
            errc::manifest_unknown,
            fmt::format("{} not found: no such tag or digest in the source repository", src_name), 404);
    };
    auto finish = [&]() {
        std::vector<result<copy_stats>> out;
        auto elapsed =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
        for (auto& t : targets) {
            t->stats.duration = elapsed;
            if (t->failure)
                out.emplace_back(*t->failure);
            else
                out.emplace_back(t->stats);
        }
        return out;
    };
    // Up to date when the destination already points at `d` under the tag (no write at all).
    auto check_targets = [&](digest d, std::string media_type) -> asio::awaitable<void> {
        for (auto& t : targets) {
            if (t->done || t->failure) continue;
            auto existing = co_await t->destination.head_manifest(t->repository(), t->push_ref);
            if (!existing)
                t->failure = existing.error();
            else if (*existing && (*existing)->digest == d) {
                t->done = true;
                t->stats.up_to_date = true;
                t->stats.manifest_digest = d;
                t->stats.media_type = media_type;
            }
        }
    };
    auto remaining = [&] {
        return std::any_of(targets.begin(), targets.end(), [](auto& t) { return !t->done && !t->failure; });
    };

    if (options.stop.stop_requested()) {
        fail_all(stopped("the copy started"));
        co_return finish();
    }

    // HEAD both sides first: when they agree nothing is fetched, which keeps a no-op run off pull quotas.
    std::string source_ref =
        options.known_source_digest ? options.known_source_digest->str() : from.identifier();
    if (options.platforms.empty() && !options.known_source_digest) {
        auto src_desc = co_await source.head_manifest(from.repository, source_ref);
        if (!src_desc)
            fail_all(src_desc.error());
        else if (!*src_desc)
            fail_all(not_found());
        else {
            source_ref = (*src_desc)->digest.str();
            if (!options.force) co_await check_targets((*src_desc)->digest, (*src_desc)->media_type);
        }
    }
    if (!remaining()) co_return finish();
    if (options.stop.stop_requested()) {
        fail_all(stopped("the source manifest was read"));
        co_return finish();
    }

    auto m = co_await source.get_manifest(from.repository, source_ref);
    if (!m) {
        bool missing = m.error().code == errc::manifest_unknown || m.error().code == errc::not_found;
        fail_all(missing ? not_found() : m.error());
        co_return finish();
    }
    bool filtered = false;
    if (!options.platforms.empty() && m->kind == manifest_kind::index) {
        auto f = filter_index(*m, options.platforms);
        if (!f) {
            auto e = f.error();
            e.message = fmt::format("{}: {}", src_name, e.message);
            fail_all(e);
            co_return finish();
        }
        filtered = f->digest != m->digest;
        m = std::move(f);
        if (!options.force) co_await check_targets(m->digest, m->media_type);
    }
    std::vector<target*> group;
    std::vector<std::string> refs;
    for (auto& t : targets) {
        if (t->done || t->failure) continue;
        t->stats.filtered = filtered;
        t->stats.manifest_digest = m->digest;
        t->stats.media_type = m->media_type;
        if (t->to.digest && *t->to.digest != m->digest) {
            t->failure = make_error(errc::invalid_argument,
                                    fmt::format("cannot push {} as {}/{}@{}: the content's digest is {}{}",
                                                src_name, t->destination.name(), t->repository(),
                                                t->to.digest->str(), m->digest.str(),
                                                filtered ? " (the platform filter rewrote the index)" : ""));
            continue;
        }
        group.push_back(t.get());
        refs.push_back(t->push_ref);
    }
    if (!group.empty()) {
        copy_job job(source, from.repository, options);
        co_await job.copy_tree(std::move(*m), std::move(group), std::move(refs));
    }
    co_return finish();
}

asio::awaitable<result<copy_stats>> copy_image(registry& source, reference from, registry& destination,
                                               reference to, copy_options options) {
    std::vector<copy_target> targets{copy_target{&destination, std::move(to)}};
    auto results =
        co_await copy_image_to_many(source, std::move(from), std::move(targets), std::move(options));
    co_return std::move(results.front());
}

} // namespace libregistry
