#include "libregistry/sync/sync_runner.hpp"

#include "libregistry/core/retry.hpp"
#include "libregistry/sync/referrers_copy.hpp"

#include "client/detail/adaptive_semaphore.hpp"
#include "client/detail/awaitable_event.hpp"
#include "client/detail/for_each_bounded.hpp"
#include "client/detail/single_flight.hpp"
#include "sync/detail/image_created.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <fmt/format.h>

#include <functional>
#include <map>
#include <memory>
#include <numeric>
#include <set>
#include <stop_token>

namespace libregistry {

namespace asio = boost::asio;

sync_totals tally(const std::vector<image_result>& images) {
    sync_totals t;
    for (const auto& r : images) {
        switch (r.status) {
        case image_status::copied:
            ++t.copied;
            break;
        case image_status::skipped:
            ++t.skipped;
            break;
        case image_status::failed:
            ++t.failed;
            break;
        case image_status::planned:
            ++t.planned;
            break;
        case image_status::interrupted:
            ++t.interrupted;
            break;
        case image_status::excluded:
            ++t.excluded;
            break;
        }
        t.bytes_sent += r.stats.bytes_sent;
        t.blobs_uploaded += r.stats.blobs_uploaded;
        t.blobs_mounted += r.stats.blobs_mounted;
        t.blobs_skipped += r.stats.blobs_skipped;
        t.manifests_pushed += r.stats.manifests_pushed;
        t.referrers_found += r.stats.referrers.found;
        t.referrers_copied += r.stats.referrers.copied;
    }
    return t;
}

std::string_view to_string(image_status s) {
    switch (s) {
    case image_status::copied:
        return "copied";
    case image_status::skipped:
        return "skipped";
    case image_status::failed:
        return "failed";
    case image_status::planned:
        return "planned";
    case image_status::interrupted:
        return "interrupted";
    case image_status::excluded:
        return "excluded";
    }
    return "unknown";
}

namespace {

constexpr const char* not_started = "not started: the run was stopped before this image was copied";

// Waits `delay`, or less when a stop is requested meanwhile. The stop may come from another thread, so the
// timer is cancelled on its own executor.
asio::awaitable<void> wait_or_stop(std::chrono::milliseconds delay, std::stop_token stop) {
    auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor, delay);
    std::stop_callback wake(stop,
                            [timer] { asio::post(timer->get_executor(), [timer] { timer->cancel(); }); });
    co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
}

// Bounds the concurrent calls into one registry with adaptive limits (core/concurrency_limit.hpp): one for
// metadata requests, and one each for blob uploads and downloads (both set by the blob settings). A call
// holds its permit until it returns (an upload for its whole body, a download until its body is dropped).
// Metadata latencies and the registry's throttles (registry::on_throttle, and a 429 or 503 that comes back
// after the client's retries) steer the limits; a throttle halves all three, as a registry's rate limit
// counts every request.
class limited_registry final : public registry {
public:
    limited_registry(registry& inner, asio::any_io_executor ex, concurrency_settings metadata,
                     concurrency_settings blobs)
        : inner_(inner), metadata_(ex, metadata), blobs_(ex, blobs), downloads_(ex, blobs) {
        inner_.on_throttle([this] { throttled(); });
    }
    ~limited_registry() override { inner_.on_throttle({}); }
    limited_registry(const limited_registry&) = delete;
    limited_registry& operator=(const limited_registry&) = delete;

    registry_concurrency concurrency() const {
        return registry_concurrency{inner_.name(), metadata_.summary(), blobs_.summary(),
                                    downloads_.summary()};
    }

    std::string name() const override { return inner_.name(); }
    result<void> can_store(const std::string& repository, const std::string& ref,
                           const manifest& m) const override {
        return inner_.can_store(repository, ref, m);
    }

    asio::awaitable<result<std::optional<descriptor>>> head_manifest(std::string repository,
                                                                     std::string ref) override {
        auto permit = co_await metadata_.acquire();
        auto r = co_await inner_.head_manifest(std::move(repository), std::move(ref));
        settle(permit, r, true);
        co_return r;
    }
    asio::awaitable<result<manifest>> get_manifest(std::string repository, std::string ref) override {
        auto permit = co_await metadata_.acquire();
        auto r = co_await inner_.get_manifest(std::move(repository), std::move(ref));
        settle(permit, r, true);
        co_return r;
    }
    asio::awaitable<result<pushed_manifest>> put_manifest(std::string repository, std::string ref,
                                                          manifest m) override {
        auto permit = co_await metadata_.acquire();
        auto r = co_await inner_.put_manifest(std::move(repository), std::move(ref), std::move(m));
        settle(permit, r, true);
        co_return r;
    }
    asio::awaitable<result<referrer_list>> list_referrers(std::string repository, digest subject,
                                                          std::optional<std::string> artifact_type,
                                                          bool tag_schema) override {
        auto permit = co_await metadata_.acquire();
        auto r = co_await inner_.list_referrers(std::move(repository), std::move(subject),
                                                std::move(artifact_type), tag_schema);
        // Paged, and a tag schema's index read after a missing API: its time is not one request's.
        settle(permit, r, false);
        co_return r;
    }
    asio::awaitable<result<bool>> has_blob(std::string repository, digest d) override {
        auto permit = co_await metadata_.acquire();
        auto r = co_await inner_.has_blob(std::move(repository), std::move(d));
        settle(permit, r, true);
        co_return r;
    }
    // A download holds its permit until its body is read (the reader is dropped): an open GET whose upload
    // waits for the destination's permit still holds a connection to this registry, so this bounds them.
    // Downloads have a limit of their own, not the uploads': a download waits for its upload's permit while
    // it holds its own, and with one pool a registry that is both a source and a destination (two-way
    // mirrors, a copy inside one registry) could have every permit held by downloads waiting for uploads.
    asio::awaitable<result<std::unique_ptr<blob_reader>>> get_blob(std::string repository,
                                                                   descriptor desc) override {
        auto permit = co_await downloads_.acquire();
        auto r = co_await inner_.get_blob(std::move(repository), std::move(desc));
        if (!r) {
            settle(permit, r, false); // see blob_sample below
            co_return r;
        }
        co_return std::unique_ptr<blob_reader>(
            std::make_unique<held_reader>(std::move(*r), std::move(permit)));
    }
    asio::awaitable<result<std::optional<upload_session>>>
    start_upload(std::string repository, std::optional<digest> d, std::optional<std::string> from) override {
        // Opening a session or mounting is one request that sends no bytes: a metadata call. Mounts come in
        // bursts (every repository waiting for a shared layer at once), and a new session's POST goes out
        // with its download, which holds a download permit meanwhile: queued behind upload bodies, it held
        // that permit idle. The body (finish_upload) is the upload.
        auto permit = co_await metadata_.acquire();
        auto r = co_await inner_.start_upload(std::move(repository), std::move(d), std::move(from));
        settle(permit, r, false); // see blob_sample below
        co_return r;
    }
    asio::awaitable<result<void>> finish_upload(upload_session session, descriptor desc,
                                                blob_reader& reader) override {
        auto permit = co_await blobs_.acquire();
        auto r = co_await inner_.finish_upload(std::move(session), std::move(desc), reader);
        settle(permit, r, false); // its time is the blob's size over the slower side's rate
        co_return r;
    }
    asio::awaitable<void> cancel_upload(upload_session session) override {
        co_await inner_.cancel_upload(std::move(session));
    }
    asio::awaitable<result<std::vector<std::string>>> list_tags(std::string repository) override {
        // Urgent: a repository's HEADs wait for its tag list, so listings go ahead of queued HEADs.
        auto permit = co_await metadata_.acquire(true);
        auto r = co_await inner_.list_tags(std::move(repository));
        settle(permit, r, false); // paged: as many round trips as the repository has pages of tags
        co_return r;
    }
    asio::awaitable<result<bool>> delete_tag(std::string repository, std::string tag) override {
        auto permit = co_await metadata_.acquire();
        auto r = co_await inner_.delete_tag(std::move(repository), std::move(tag));
        settle(permit, r, true);
        co_return r;
    }
    asio::awaitable<result<bool>> delete_manifest(std::string repository, digest d) override {
        auto permit = co_await metadata_.acquire();
        auto r = co_await inner_.delete_manifest(std::move(repository), std::move(d));
        settle(permit, r, true);
        co_return r;
    }

private:
    // blob_sample: the blob limit takes no latency samples, only throttles. A blob's GET answer and an
    // upload's POST wait behind the bytes other transfers have queued on the same link, so their latency
    // rises whenever the link is in full use; read as queueing at the registry, that halved the limit down
    // to one or two transfers on a 40 ms link and left the link idle between them.
    void throttled() {
        metadata_.throttled();
        blobs_.throttled();
        downloads_.throttled();
    }

    // A download's body, and its permit until the body is dropped.
    class held_reader final : public blob_reader {
    public:
        held_reader(std::unique_ptr<blob_reader> inner, detail::adaptive_semaphore::permit permit)
            : inner_(std::move(inner)), permit_(std::move(permit)) {}
        asio::awaitable<result<std::size_t>> read(std::span<std::byte> buffer) override {
            co_return co_await inner_->read(buffer);
        }

    private:
        std::unique_ptr<blob_reader> inner_;
        detail::adaptive_semaphore::permit permit_; // released after inner_ is closed
    };

    // A success is a latency sample (when `timed`); a 429 or 503 the client gave up on is a throttle, heard
    // here too for back ends that do not report them through on_throttle.
    template <typename T>
    void settle(detail::adaptive_semaphore::permit& permit, const result<T>& r, bool timed) {
        if (!r && (r.error().http_status == 429 || r.error().http_status == 503)) throttled();
        permit.finish(timed && r.has_value());
    }

    registry& inner_;
    detail::adaptive_semaphore metadata_;
    detail::adaptive_semaphore blobs_;     ///< upload bodies
    detail::adaptive_semaphore downloads_; ///< a blob GET, from its request to the end of its body
};

// What the tag listings of a run came to.
struct listing {
    tag_lists tags;
    std::map<std::string, error> failures;
    std::set<std::string> not_listed; ///< stopped before it was listed
};

// What HEADs of both sides of every item came to; `observed[i]` is false when a stop is to blame for
// `observations[i]` being incomplete.
struct resolution {
    std::vector<observation> observations;
    std::vector<bool> observed;
};

// The source HEAD shared by every destination of one source image.
struct source_head {
    std::optional<digest> found;
    std::string media_type;
    std::optional<error> failure;
};

class runner {
public:
    runner(registry_provider& provider, sync_options options, asio::any_io_executor ex)
        : provider_(provider), options_(std::move(options)), executor_(ex) {
        options_.copy.ledger = &ledger_;
        options_.copy.stop = options_.stop;
    }

    asio::awaitable<result<sync_report>> run(std::vector<sync_rule> rules) {
        auto started = std::chrono::steady_clock::now();
        auto foreign = written_by_other_shards(rules);
        std::erase_if(rules, [&](const sync_rule& r) { return !in_shard(r.source, options_.shard); });
        for (auto& rule : rules)
            if (!rule.referrers) rule.referrers = options_.referrers;
        co_await prepare(reads_of(rules), repository_access::pull);
        auto repositories = repositories_to_list(rules);
        auto listed = co_await list_tags(std::move(repositories), rules);
        report_unlisted(rules, listed);
        auto created = co_await fetch_created(rules, listed.tags);
        for (const auto& rule : rules) {
            if (!rule.platforms.empty())
                rule_platforms_.emplace(rule.origin + " " + rule.source.name(), rule.platforms);
            rule_referrers_.emplace(rule.origin + " " + rule.source.name(), *rule.referrers);
        }
        listed_tags_ = listed.tags;
        auto items = expand_rules(rules, listed.tags, created);
        if (!items) co_return items.error();
        if (options_.dry_run) {
            co_await plan_all(*items);
            co_await count_referrers();
        } else {
            auto to_copy = co_await plan_and_copy(*items);
            co_await copy_rounds(std::move(to_copy), 1);
        }
        co_await prune(rules, std::move(*items), listed, std::move(foreign));
        report_.totals = tally(report_.images);
        report_.duration =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
        report_.stopped = stopping();
        for (const auto& [name, limited] : limited_)
            report_.concurrency.push_back(limited->concurrency());
        co_return std::move(report_);
    }

private:
    bool stopping() const { return options_.stop.stop_requested(); }

    // A failure the stop is to blame for: a cancelled request, or one that would have been retried.
    bool cut_short(const error& e) const {
        return e.code == errc::cancelled || (stopping() && e.retryable());
    }

    registry& get(const std::string& name) {
        auto it = limited_.find(name);
        if (it == limited_.end())
            it = limited_
                     .emplace(name, std::make_unique<limited_registry>(provider_.get(name), executor_,
                                                                       options_.metadata_concurrency,
                                                                       options_.blob_concurrency))
                     .first;
        return *it->second;
    }

    void warn(std::string message) {
        report_.warnings.push_back(message);
        if (options_.on_event) {
            sync_event e{sync_event::kind::warning, nullptr, 0, std::move(message)};
            options_.on_event(e);
        }
    }

    void announce(const image_result& image) {
        if (options_.on_event) options_.on_event(sync_event{sync_event::kind::image_done, &image, 0, {}});
    }

    using repositories_by_registry = std::map<std::string, std::set<std::string>>;

    // Every repository the rules read: their sources, and their destinations (HEADed before anything is
    // written).
    static repositories_by_registry reads_of(const std::vector<sync_rule>& rules) {
        repositories_by_registry out;
        for (const auto& rule : rules) {
            out[rule.source.registry].insert(rule.source.repository);
            for (const auto& d : rule.destinations)
                out[d.registry].insert(d.repository);
        }
        return out;
    }

    // Tells each registry which of its repositories the run is about to read or write (registry::prepare),
    // all registries at once: with Docker token auth, a few token requests for all of them instead of one
    // per repository. The registries themselves, not the per-registry limit: these are hints, not requests
    // of the run.
    asio::awaitable<void> prepare(repositories_by_registry repositories, repository_access access) {
        if (stopping()) co_return;
        std::vector<std::pair<std::string, std::vector<std::string>>> work;
        for (auto& [name, names] : repositories)
            work.emplace_back(name, std::vector<std::string>(names.begin(), names.end()));
        std::function<asio::awaitable<void>(std::size_t)> prepare_one =
            [&](std::size_t i) -> asio::awaitable<void> {
            co_await provider_.get(work[i].first).prepare(work[i].second, access);
        };
        co_await detail::for_each_bounded(work.size(), work.size(), prepare_one);
    }

    // Tag lists, once per repository, whatever number of rules need them.
    asio::awaitable<listing> list_tags(std::vector<sync_source> repositories,
                                       const std::vector<sync_rule>& rules) {
        listing out;
        std::function<asio::awaitable<void>(std::size_t)> list_one =
            [&](std::size_t i) -> asio::awaitable<void> {
            const auto& s = repositories[i];
            if (stopping()) {
                out.not_listed.insert(s.name());
                co_return;
            }
            // A listing that fails for a passing reason gets the retry rounds images get; without its tags
            // the repository's images could not even be planned.
            for (int attempt = 0;; ++attempt) {
                auto tags = co_await get(s.registry).list_tags(s.repository);
                if (tags) {
                    if (auto invalid = remove_invalid_tags(*tags); !invalid.empty())
                        warn(invalid_tags_warning(s.name(), invalid));
                    prefetch_heads(rules, s.name(), *tags);
                    out.tags[s.name()] = std::move(*tags);
                    co_return;
                }
                if (!tags.error().retryable() || attempt >= options_.retries || stopping()) {
                    if (cut_short(tags.error()))
                        out.not_listed.insert(s.name());
                    else
                        out.failures.emplace(s.name(), tags.error());
                    co_return;
                }
                co_await wait_or_stop(round_pause(attempt + 1), options_.stop);
            }
        };
        co_await detail::for_each_bounded(repositories.size(), options_.metadata_concurrency.cap, list_one);
        co_return out;
    }

    // The report's entry for a whole rule's destination, when the rule stopped before its tags were known.
    static image_result rule_image(const sync_rule& rule, const sync_destination& d) {
        image_result r;
        r.item = rule_item(rule, d);
        return r;
    }

    // One failed (or interrupted) image per destination of a rule whose tags could not be listed.
    void report_unlisted(const std::vector<sync_rule>& rules, const listing& listed) {
        for (const auto& rule : rules) {
            // Rules naming their tags or a digest need no list, whatever happened to another rule's.
            if (rule.source.selector != tag_selector::all && rule.source.selector != tag_selector::regex)
                continue;
            auto failed = listed.failures.find(rule.source.name());
            bool unlisted = listed.not_listed.count(rule.source.name()) > 0;
            if (failed == listed.failures.end() && !unlisted) continue;
            for (const auto& d : rule.destinations) {
                auto r = rule_image(rule, d);
                if (unlisted) {
                    r.status = image_status::interrupted;
                    r.reason =
                        fmt::format("not started: the run was stopped before the tags of {} were listed",
                                    rule.source.name());
                } else {
                    r.status = image_status::failed;
                    r.reason =
                        fmt::format("listing tags of {}: {}", rule.source.name(), failed->second.message);
                }
                report_.images.push_back(std::move(r));
            }
        }
    }

    // `latest: N` over tags that are not versions ranks them by creation time: one manifest (two for an
    // index) and one config GET per tag the other filters leave, each tag once per run, and none when the tag
    // list decides (tag_policy.hpp). A rule whose times could not all be read fails (or is interrupted) as a
    // rule whose tags could not be listed, and is dropped.
    asio::awaitable<repository_created_times> fetch_created(std::vector<sync_rule>& rules,
                                                            const tag_lists& tags) {
        repository_created_times created;
        std::vector<std::pair<sync_source, std::string>> wanted;
        std::set<std::string> asked;
        for (const auto& rule : rules) {
            if (rule.policy.empty()) continue;
            auto selected = rule_tags(rule, tags);
            if (!selected || !*selected) continue; // expand_rules reports a bad rule
            for (const auto& tag : (*selected)->need_created)
                if (asked.insert(rule.source.name() + ":" + tag).second)
                    wanted.emplace_back(rule.source, tag);
        }
        std::map<std::string, error> failures;
        std::function<asio::awaitable<void>(std::size_t)> fetch_one =
            [&](std::size_t i) -> asio::awaitable<void> {
            if (stopping()) co_return;
            const auto& source = wanted[i].first;
            const auto& tag = wanted[i].second;
            auto time = co_await detail::image_created(get(source.registry), source.repository, tag);
            if (time)
                created[source.name()][tag] = *time;
            else
                failures.emplace(source.name(), time.error());
        };
        co_await detail::for_each_bounded(wanted.size(), options_.metadata_concurrency.cap, fetch_one);
        std::erase_if(rules, [&](const sync_rule& rule) {
            if (rule.policy.empty()) return false;
            auto selected = rule_tags(rule, tags, created);
            if (!selected || !*selected || (*selected)->need_created.empty()) return false;
            const auto failed = failures.find(rule.source.name());
            const bool interrupted = failed == failures.end() || cut_short(failed->second);
            for (const auto& d : rule.destinations) {
                auto r = rule_image(rule, d);
                r.status = interrupted ? image_status::interrupted : image_status::failed;
                r.reason = interrupted ? fmt::format("not started: the run was stopped before the creation "
                                                     "times of the tags of {} were read",
                                                     rule.source.name())
                                       : fmt::format("reading creation times of the tags of {} (for latest: "
                                                     "{}): {}",
                                                     rule.source.name(), rule.policy.latest.value_or(0),
                                                     failed->second.message);
                report_.images.push_back(std::move(r));
            }
            return true;
        });
        co_return created;
    }

    // As soon as a repository's tags are listed, its items' HEADs go out, while other repositories are still
    // being listed; resolve() then finds them done or in flight. Only rules the tag list alone decides:
    // `latest: N` may need creation times read after every listing. What the plan later drops was HEADed for
    // nothing; the plan itself is unchanged.
    void prefetch_heads(const std::vector<sync_rule>& rules, const std::string& repository,
                        const std::vector<std::string>& tags) {
        if (stopping()) return;
        std::vector<sync_rule> mine;
        for (const auto& rule : rules)
            if (rule.source.name() == repository && !rule.policy.latest) mine.push_back(rule);
        if (mine.empty()) return;
        tag_lists listed{{repository, tags}};
        auto items = expand_rules(mine, listed);
        if (!items) return; // expand_rules reports it again after the listings
        for (const auto& item : *items) {
            if (prefetching_ == 0) prefetches_done_ = std::make_unique<detail::awaitable_event>(executor_);
            prefetching_ += 2;
            auto source = [this, ref = item.source]() -> asio::awaitable<void> {
                if (stopping()) co_return;
                auto head = co_await head_source(ref);
                (void)head;
            };
            auto destination = [this, ref = item.destination]() -> asio::awaitable<void> {
                if (stopping()) co_return;
                auto head = co_await head_destination(ref);
                (void)head;
            };
            asio::co_spawn(executor_, destination, [this](std::exception_ptr) { prefetched(); });
            asio::co_spawn(executor_, source, [this](std::exception_ptr) { prefetched(); });
        }
    }

    void prefetched() {
        if (--prefetching_ == 0) prefetches_done_->set();
    }

    // The destination's HEAD of `ref`, once per run, shared like head_source.
    asio::awaitable<result<std::optional<descriptor>>> head_destination(reference ref) {
        std::function<asio::awaitable<result<std::optional<descriptor>>>()> head = [this, ref] {
            return get(ref.registry).head_manifest(ref.repository, ref.identifier());
        };
        co_return co_await once(destination_heads_, destination_flights_, ref.str(), head);
    }

    // `work`'s value for `key`, once per run: the first caller runs it, those asking meanwhile wait for it,
    // and later ones find it in `done`.
    template <class V>
    asio::awaitable<V> once(std::map<std::string, V>& done, detail::single_flight<V>& flights,
                            std::string key, std::function<asio::awaitable<V>()> work) {
        for (;;) {
            if (auto known = done.find(key); known != done.end()) co_return known->second;
            if (auto lease = co_await flights.try_lead(key)) {
                V value = co_await work();
                done.emplace(key, value);
                lease->finish(value);
                co_return value;
            }
            if (auto shared = co_await flights.wait(key)) co_return std::move(*shared);
        }
    }

    // HEAD both sides of every item, the two at once.
    // `observed(i)` is called as soon as item i's HEADs are back (or a stop left it unobserved), with `out`
    // filled in for it.
    asio::awaitable<void> resolve(const std::vector<sync_item>& items, resolution& out,
                                  std::function<void(std::size_t)> observed) {
        out = resolution{std::vector<observation>(items.size()), std::vector<bool>(items.size(), false)};
        std::function<asio::awaitable<void>(std::size_t)> observe =
            [&](std::size_t i) -> asio::awaitable<void> {
            if (stopping()) co_return;
            const auto& item = items[i];
            auto& o = out.observations[i];
            // Both sides at once: the destination's HEAD does not wait for the source's answer (it is only
            // wasted on a source tag that is gone).
            std::optional<result<std::optional<descriptor>>> d;
            source_head head;
            std::function<asio::awaitable<void>()> look_at_destination = [&]() -> asio::awaitable<void> {
                d = co_await head_destination(item.destination);
            };
            std::function<asio::awaitable<void>()> look_at_source = [&]() -> asio::awaitable<void> {
                head = co_await head_source(item.source);
            };
            co_await detail::both(look_at_destination, look_at_source);
            if (head.failure) {
                o.failure = head.failure;
                out.observed[i] = !cut_short(*head.failure);
                co_return;
            }
            o.source = head.found;
            o.source_media_type = head.media_type;
            if (!o.source) {
                out.observed[i] = true;
                co_return;
            }
            if (!*d)
                o.failure = d->error();
            else if (**d)
                o.destination = (**d)->digest;
            out.observed[i] = !o.failure || !cut_short(*o.failure);
        };
        std::function<asio::awaitable<void>(std::size_t)> observe_and_tell =
            [&](std::size_t i) -> asio::awaitable<void> {
            co_await observe(i);
            observed(i);
        };
        co_await detail::for_each_bounded(items.size(), options_.metadata_concurrency.cap * 2,
                                          observe_and_tell);
        // Prefetched HEADs of items the plan dropped may still be out; they use this runner.
        if (prefetching_ > 0) co_await prefetches_done_->wait();
    }

    // A source tag shared by several destinations is asked about once per run: the first asker sends the
    // HEAD, those asking meanwhile wait for it, and later ones find it in source_heads_.
    asio::awaitable<source_head> head_source(reference source) {
        std::function<asio::awaitable<source_head>()> head = [this,
                                                              source]() -> asio::awaitable<source_head> {
            source_head out;
            auto r = co_await get(source.registry).head_manifest(source.repository, source.identifier());
            if (!r)
                out.failure = r.error();
            else if (*r) {
                out.found = (*r)->digest;
                out.media_type = (*r)->media_type;
            }
            co_return out;
        };
        co_return co_await once(source_heads_, head_flights_, source.str(), head);
    }

    // A dry run: every item's HEADs, then the plan's verdict on all of them.
    asio::awaitable<void> plan_all(const std::vector<sync_item>& items) {
        resolution resolved;
        co_await resolve(items, resolved, [](std::size_t) {});
        const auto base = open_entries(items.size());
        std::vector<std::size_t> all(items.size());
        std::iota(all.begin(), all.end(), std::size_t{0});
        plan_items(items, resolved, all, base);
    }

    // Report entries for `n` items, in item order, filled in as their verdicts come (plan_items); what was
    // decided before them (failed listings, creation times) is announced now. The entries never move after:
    // copies hold pointers to them.
    std::size_t open_entries(std::size_t n) {
        const auto base = report_.images.size();
        for (const auto& image : report_.images)
            announce(image);
        report_.images.resize(base + n);
        return base;
    }

    // The plan's verdict on `which` items (indexes into `items`) into their report entries (base + index),
    // announced unless they are to be copied; the report indexes of the images to copy.
    std::vector<std::size_t> plan_items(const std::vector<sync_item>& items, const resolution& resolved,
                                        const std::vector<std::size_t>& which, std::size_t base) {
        plan_options popts;
        popts.force = options_.force;
        popts.platform_filter = !options_.copy.platforms.empty();
        // A rule's own `platforms:` filter its images in place of --os/--arch.
        auto filtered = popts;
        filtered.platform_filter = true;
        std::vector<std::size_t> to_copy;
        for (auto i : which) {
            const auto a = plan_sync({items[i]}, {resolved.observations[i]},
                                     platforms_of(items[i]).empty() ? popts : filtered)
                               .front();
            const auto index = base + i;
            auto& r = report_.images[index];
            r.item = a.item;
            r.digest = a.source_digest;
            r.reason = a.reason;
            if (!resolved.observed[i]) {
                // Stopped before both sides were seen: the plan's verdict rests on nothing.
                r.digest.reset();
                r.status = image_status::interrupted;
                const auto& failure = resolved.observations[i].failure;
                r.reason = failure
                               ? fmt::format("not started: the run was stopped while comparing digests: {}",
                                             failure->message)
                               : not_started;
            } else {
                switch (a.kind) {
                case action_kind::skip:
                    r.status = image_status::skipped;
                    // In sync, but a signature may have been added since: its referrers are still looked at.
                    if (!options_.dry_run && referrers_for(a.item)) {
                        r.status = image_status::planned;
                        referrers_only_.insert(index);
                        to_copy.push_back(index);
                    }
                    break;
                case action_kind::fail:
                    r.status = image_status::failed;
                    break;
                case action_kind::copy:
                    r.status = image_status::planned;
                    to_copy.push_back(index);
                    ++copies_planned_;
                    seen_at_destination_[index] = resolved.observations[i].destination;
                    break;
                }
            }
            if (r.status != image_status::planned) announce(r);
        }
        // The number to copy grows as verdicts come in; the last event has the whole plan's.
        if (options_.on_event)
            options_.on_event(sync_event{sync_event::kind::planned, nullptr, copies_planned_, {}});
        return to_copy;
    }

    // The copy starts image by image as the plan reaches them: the items that share a source image (and
    // with it one download per blob) are planned together once all their HEADs are back, and copied while
    // the other items' HEADs are still out. Returns the report indexes of every image the first round
    // tried.
    asio::awaitable<std::vector<std::size_t>> plan_and_copy(const std::vector<sync_item>& items) {
        const auto base = open_entries(items.size());
        std::vector<std::vector<std::size_t>> groups;
        std::vector<std::size_t> group_of(items.size());
        std::map<std::string, std::size_t> group_by_key;
        for (std::size_t i = 0; i < items.size(); ++i) {
            auto [it, fresh] = group_by_key.emplace(copy_key(items[i]), groups.size());
            if (fresh) groups.emplace_back();
            groups[it->second].push_back(i);
            group_of[i] = it->second;
        }
        std::vector<std::size_t> unobserved(groups.size());
        for (std::size_t g = 0; g < groups.size(); ++g)
            unobserved[g] = groups[g].size();

        resolution resolved;
        std::vector<std::size_t> tried;
        // Each group's images to copy once it is planned. Groups start in the items' (the rules') order, each
        // as soon as it and every group before it is planned: copies still overlap the later HEADs, and a
        // run copies in the same order every time (`--proc 1` one image after another, as listed).
        std::vector<std::optional<std::vector<std::size_t>>> planned(groups.size());
        std::size_t next = 0; ///< the first group no copier has taken
        bool resolving = true;
        asio::steady_timer wake(executor_, asio::steady_timer::time_point::max());
        auto observed = [&](std::size_t i) {
            const auto g = group_of[i];
            if (--unobserved[g] > 0) return;
            auto to_copy = plan_items(items, resolved, groups[g], base);
            for (auto index : to_copy) {
                const auto& d = report_.images[index].item.destination;
                writes_wanted_[d.registry].insert(d.repository);
            }
            tried.insert(tried.end(), to_copy.begin(), to_copy.end());
            planned[g] = std::move(to_copy);
            wake.cancel();
        };
        std::function<asio::awaitable<void>(std::size_t)> copier = [&](std::size_t) -> asio::awaitable<void> {
            for (;;) {
                while (next < groups.size() && planned[next] && planned[next]->empty())
                    ++next;
                if (next < groups.size() && planned[next]) {
                    auto batch = std::move(*planned[next]);
                    ++next;
                    co_await prepare_writes();
                    co_await copy_round(std::move(batch), 0);
                    continue;
                }
                if (next == groups.size() || !resolving) co_return;
                co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
            }
        };
        std::exception_ptr copy_failure;
        detail::awaitable_event copied(executor_);
        auto copy_all = [&]() -> asio::awaitable<void> {
            co_await detail::for_each_bounded(options_.proc, options_.proc, copier);
        };
        asio::co_spawn(executor_, copy_all, [&](std::exception_ptr e) {
            copy_failure = e;
            copied.set();
        });
        std::exception_ptr resolve_failure;
        try {
            co_await resolve(items, resolved, observed);
        } catch (...) {
            resolve_failure =
                std::current_exception(); // rethrown once the copiers, which use this frame, end
        }
        resolving = false;
        wake.cancel();
        co_await copied.wait();
        if (resolve_failure) std::rethrow_exception(resolve_failure);
        if (copy_failure) std::rethrow_exception(copy_failure);
        co_return tried;
    }

    // Push access for every destination repository the plan has so far found to write, asked in batches
    // (registry::prepare: with token auth, one token for several repositories) and once per repository.
    // A copy waits for a batch in flight, which may hold its repository.
    asio::awaitable<void> prepare_writes() {
        for (;;) {
            if (writes_prepared_ && !writes_prepared_->is_set()) {
                co_await writes_prepared_->wait();
                continue;
            }
            repositories_by_registry batch;
            for (const auto& [name, repos] : writes_wanted_)
                for (const auto& repo : repos)
                    if (writes_asked_[name].insert(repo).second) batch[name].insert(repo);
            if (batch.empty()) co_return;
            writes_prepared_ = std::make_unique<detail::awaitable_event>(executor_);
            co_await prepare(std::move(batch), repository_access::push);
            writes_prepared_->set();
            co_return;
        }
    }

    // Every image that failed is tried again in the next round, after a pause, up to sync_options::retries
    // further rounds. Within a round the request loop and the blob transfer share retry.max_attempts tries
    // (retry.hpp), so one request is sent at most retry.max_attempts * (1 + retries) times per run.
    asio::awaitable<void> copy_rounds(std::vector<std::size_t> to_copy, int first_round) {
        int last_round = first_round - 1;
        std::erase_if(to_copy,
                      [&](std::size_t i) { return report_.images[i].status != image_status::failed; });
        for (int round = first_round; round <= options_.retries && !to_copy.empty() && !stopping(); ++round) {
            if (round > 0) {
                // Give a struggling registry a moment before the next round.
                co_await wait_or_stop(round_pause(round), options_.stop);
                if (stopping()) break;
            }
            co_await copy_round(to_copy, round);
            std::erase_if(to_copy,
                          [&](std::size_t i) { return report_.images[i].status != image_status::failed; });
            last_round = round;
        }
        // A stop before the first round leaves planned images behind, and one between rounds failed images
        // whose last word was never reported.
        for (auto& img : report_.images)
            if (img.status == image_status::planned) {
                img.status = image_status::interrupted;
                img.reason = not_started;
                announce(img);
            }
        if (last_round >= 0 && last_round < options_.retries)
            for (auto i : to_copy)
                announce(report_.images[i]);
    }

    // One round over `to_copy`. Items with the same source image are copied together: one manifest read, one
    // download per blob for all their destination registries.
    asio::awaitable<void> copy_round(std::vector<std::size_t> to_copy, int round) {
        std::vector<std::vector<image_result*>> groups;
        std::map<std::string, std::size_t> group_of;
        for (auto i : to_copy) {
            auto& img = report_.images[i];
            auto key = copy_key(img.item);
            if (round == 0 && referrers_only_.count(i)) key.append(" referrers");
            auto [it, fresh] = group_of.emplace(key, groups.size());
            if (fresh) groups.emplace_back();
            groups[it->second].push_back(&img);
        }
        std::function<asio::awaitable<void>(std::size_t)> copy_one =
            [&](std::size_t i) -> asio::awaitable<void> { co_await copy(groups[i], round); };
        co_await detail::for_each_bounded(groups.size(), options_.proc, copy_one);
    }

    asio::awaitable<void> copy(std::vector<image_result*> images, int round) {
        // Not started: a first-round image is reported as interrupted, a retry keeps its earlier failure.
        if (stopping()) {
            for (auto* image : images)
                if (round == 0) {
                    image->status = image_status::interrupted;
                    image->reason = not_started;
                    announce(*image);
                }
            co_return;
        }
        auto copy_options = options_.copy;
        copy_options.force = options_.force;
        copy_options.referrers = referrers_for(images.front()->item);
        if (round == 0 && referrers_only_.count(index_of(*images.front()))) {
            co_await carry_referrers(std::move(images), std::move(copy_options));
            co_return;
        }
        // The plan already HEADed both sides (and without a platform filter compared them); a retry round
        // looks again in case a previous try got through.
        if (round == 0) copy_options.known_source_digest = images.front()->digest;
        if (const auto& own = platforms_of(images.front()->item); !own.empty()) copy_options.platforms = own;
        std::vector<copy_target> targets;
        for (auto* image : images) {
            ++image->attempts;
            std::optional<std::optional<digest>> observed;
            auto seen = seen_at_destination_.find(static_cast<std::size_t>(image - report_.images.data()));
            if (round == 0 && seen != seen_at_destination_.end()) observed = seen->second;
            targets.push_back(
                copy_target{&get(image->item.destination.registry), image->item.destination, observed});
        }
        const auto& source = images.front()->item.source;
        auto results =
            co_await copy_image_to_many(get(source.registry), source, std::move(targets), copy_options);
        for (std::size_t i = 0; i < images.size(); ++i)
            record(*images[i], results[i], round);
    }

    std::size_t index_of(const image_result& image) const {
        return static_cast<std::size_t>(&image - report_.images.data());
    }

    // The referrers context of the rule an item came from; null when that rule carries none. Rules with the
    // same policy share one (and with it what was learnt about tag lists and registries).
    referrers_context* referrers_for(const sync_item& item) {
        auto rule = rule_referrers_.find(
            fmt::format("{} {}/{}", item.origin, item.source.registry, item.source.repository));
        if (rule == rule_referrers_.end() || !rule->second.enabled) return nullptr;
        for (auto& c : referrer_contexts_)
            if (c->policy() == rule->second) return c.get();
        auto& c = referrer_contexts_.emplace_back(std::make_unique<referrers_context>(rule->second));
        for (const auto& [name, tags] : listed_tags_) {
            const auto slash = name.find('/');
            c->set_tags(name.substr(0, slash), name.substr(slash + 1), tags);
        }
        return c.get();
    }

    // Images already in sync: only their referrers are carried (the plan's source HEAD names the subject).
    asio::awaitable<void> carry_referrers(std::vector<image_result*> images, copy_options copy_options) {
        const auto& source = images.front()->item.source;
        referrer_subjects subjects;
        subjects.digest = *images.front()->digest;
        if (auto head = source_heads_.find(source.str()); head != source_heads_.end())
            subjects.media_type = head->second.media_type;
        std::vector<copy_target> targets;
        for (auto* image : images) {
            ++image->attempts;
            targets.push_back(
                copy_target{&get(image->item.destination.registry), image->item.destination, {}});
        }
        auto* context = copy_options.referrers;
        auto results = co_await copy_referrers(get(source.registry), source.repository, std::move(subjects),
                                               std::move(targets), *context, std::move(copy_options));
        for (std::size_t i = 0; i < images.size(); ++i) {
            auto& image = *images[i];
            if (results[i]) {
                image.status = image_status::skipped;
                image.stats.referrers = *results[i];
                note_referrers(image);
            } else if (cut_short(results[i].error())) {
                image.status = image_status::interrupted;
                image.reason = results[i].error().message;
            } else {
                image.status = image_status::failed;
                image.reason =
                    fmt::format("in sync, but carrying its referrers failed: {}", results[i].error().message);
            }
            if (image.status != image_status::failed || options_.retries == 0) announce(image);
        }
    }

    // What carrying an image's referrers noticed (a rewritten index's referrers left behind, the depth
    // bound).
    void note_referrers(const image_result& image) {
        for (const auto& note : image.stats.referrers.notes)
            warn(fmt::format("{}: {}", image.item.destination.str(), note));
    }

    // A dry run counts the referrers each image would bring, without writing anything.
    asio::awaitable<void> count_referrers() {
        std::vector<image_result*> wanted;
        for (auto& image : report_.images)
            if ((image.status == image_status::planned || image.status == image_status::skipped) &&
                image.digest && referrers_for(image.item))
                wanted.push_back(&image);
        std::function<asio::awaitable<void>(std::size_t)> count_one =
            [&](std::size_t i) -> asio::awaitable<void> {
            if (stopping()) co_return;
            auto& image = *wanted[i];
            const auto& source = image.item.source;
            std::vector<digest> subjects{*image.digest};
            auto found = co_await discover_referrers(get(source.registry), source.repository,
                                                     std::move(subjects), *referrers_for(image.item));
            if (!found) {
                warn(fmt::format("{}: listing its referrers: {}", source.str(), found.error().message));
                co_return;
            }
            image.stats.referrers.found = static_cast<int>(found->nodes.size());
            image.stats.referrers.excluded = found->excluded;
            image.stats.referrers.not_carried = found->too_deep;
        };
        co_await detail::for_each_bounded(wanted.size(), options_.metadata_concurrency.cap, count_one);
    }

    void record(image_result& image, const result<copy_stats>& r, int round) {
        if (r) {
            auto previous = image.stats;
            image.stats = *r;
            image.digest = r->manifest_digest;
            if (r->up_to_date) {
                image.status = round == 0 ? image_status::skipped : image_status::copied;
                if (round == 0)
                    image.reason = fmt::format(
                        "{} ({})", r->filtered ? "in sync after applying the platform filter" : "in sync",
                        r->manifest_digest.str());
                // A later round that finds the image in place finished what an earlier round started.
                if (round > 0) {
                    auto referrers = r->referrers;
                    image.stats = previous;
                    image.stats.referrers = std::move(referrers);
                }
            } else {
                image.status = image_status::copied;
            }
            note_referrers(image);
        } else if (r.error().code == errc::platform_mismatch) {
            // The same image gives the same answer: not a failure, and nothing a retry round could change.
            image.status = image_status::excluded;
            image.reason = r.error().message;
        } else if (cut_short(r.error())) {
            image.status = image_status::interrupted;
            image.reason = r.error().message;
        } else {
            image.status = image_status::failed;
            image.reason = r.error().message;
        }
        if (image.status != image_status::failed || round == options_.retries) announce(image);
    }

    // The `platforms:` of the rule an item came from: the first rule with its origin and source, as
    // expand_rules keeps the first rule's item.
    const std::vector<platform>& platforms_of(const sync_item& item) const {
        static const std::vector<platform> none;
        auto it = rule_platforms_.find(
            fmt::format("{} {}/{}", item.origin, item.source.registry, item.source.repository));
        return it == rule_platforms_.end() ? none : it->second;
    }

    // Items with the same key are copied together: one manifest read, one download per blob for all their
    // destinations. The same source filtered to other platforms is another copy.
    std::string copy_key(const sync_item& item) const {
        auto key = item.source.str();
        if (const auto& own = platforms_of(item); !own.empty()) key.append(" ").append(platform_list(own));
        return key;
    }

    std::set<std::string> written_by_other_shards(const std::vector<sync_rule>& rules) const {
        std::set<std::string> out;
        for (const auto& rule : rules)
            if (!in_shard(rule.source, options_.shard))
                for (const auto& d : rule.destinations)
                    out.insert(d.name());
        return out;
    }

    // After the copies: lists the repositories pruning rules write, plans, and deletes (a dry run only
    // reports). Deletions in one repository go one at a time: one refusal ends them for that repository.
    asio::awaitable<void> prune(const std::vector<sync_rule>& rules, std::vector<sync_item> items,
                                const listing& listed, std::set<std::string> foreign) {
        auto repositories = repositories_to_prune(rules);
        if (repositories.empty()) co_return;
        prune_input in;
        in.rules = rules;
        in.items = std::move(items);
        in.source_tags = listed.tags;
        for (const auto& [name, e] : listed.failures)
            in.unlisted_sources.insert(name);
        in.unlisted_sources.insert(listed.not_listed.begin(), listed.not_listed.end());
        for (const auto& image : report_.images)
            if (image.status == image_status::failed || image.status == image_status::interrupted)
                in.failed_destinations.insert(image.item.destination.name());
        in.foreign_destinations = std::move(foreign);
        in.guard = options_.prune_max;
        std::function<asio::awaitable<void>(std::size_t)> list_one =
            [&](std::size_t i) -> asio::awaitable<void> {
            const auto& d = repositories[i];
            if (stopping()) co_return;
            auto tags = co_await get(d.registry).list_tags(d.repository);
            if (!tags && tags.error().code == errc::name_unknown) {
                in.destination_tags[d.name()] = {};
            } else if (!tags) {
                in.destination_failures[d.name()] = tags.error().message;
            } else {
                // Tags that are not tag names are never put into a request; they stay.
                remove_invalid_tags(*tags);
                in.destination_tags[d.name()] = std::move(*tags);
            }
        };
        co_await detail::for_each_bounded(repositories.size(), options_.metadata_concurrency.cap, list_one);
        in.interrupted = stopping();

        auto targets = plan_prune(in);
        for (const auto& t : targets)
            if (t.refusal) {
                auto name = t.repository.name();
                warn(fmt::format("not pruning {} ({} to delete): {}", name, t.deletions.size(), *t.refusal));
                report_.prune_refusals.push_back(
                    prune_refusal{name, *t.refusal, t.origin, t.deletions.size()});
            }
        std::function<asio::awaitable<void>(std::size_t)> prune_one =
            [&](std::size_t i) -> asio::awaitable<void> {
            const auto& t = targets[i];
            if (t.refusal || t.deletions.empty()) co_return;
            auto name = t.repository.name();
            safe_deleter deleter(get(t.repository.registry), t.repository.repository, t.kept, t.kept_digests);
            std::optional<std::string> refused;
            for (const auto& tag : t.deletions) {
                prune_result r{name, tag, delete_status::planned, "no rule maps to it any more", t.origin};
                if (refused) {
                    r.status = delete_status::failed;
                    r.reason = fmt::format("not tried: {}", *refused);
                } else if (!options_.dry_run) {
                    if (stopping()) {
                        report_.prune_refusals.push_back(prune_refusal{
                            name, "the run was interrupted while pruning", t.origin, t.deletions.size()});
                        co_return;
                    }
                    auto done = co_await deleter.delete_tag(tag, false);
                    r.status = done.status;
                    r.reason = done.reason;
                    if (done.registry_refuses) refused = done.reason;
                    if (done.status == delete_status::left)
                        warn(fmt::format("pruning {}: {}", name, done.reason));
                }
                report_.deletions.push_back(std::move(r));
            }
        };
        co_await detail::for_each_bounded(targets.size(), options_.proc, prune_one);
    }

    registry_provider& provider_;
    sync_options options_;
    asio::any_io_executor executor_;
    blob_ledger ledger_;
    std::map<std::string, std::unique_ptr<limited_registry>> limited_;
    detail::single_flight<source_head> head_flights_;
    detail::single_flight<result<std::optional<descriptor>>> destination_flights_;
    std::map<std::string, result<std::optional<descriptor>>> destination_heads_; ///< by reference
    std::size_t prefetching_ = 0;    ///< prefetched HEADs still out
    std::size_t copies_planned_ = 0; ///< images the plan has found to copy so far
    /// Destination repositories the plan has found to write, and those push access was asked for.
    repositories_by_registry writes_wanted_;
    repositories_by_registry writes_asked_;
    std::unique_ptr<detail::awaitable_event> writes_prepared_; ///< the last batch; set once it is done
    std::unique_ptr<detail::awaitable_event> prefetches_done_; ///< set when the last of them is back
    std::map<std::string, source_head> source_heads_;          ///< finished source HEADs, by reference
    /// What the plan saw at the destination of each image it copies, by index in report_.images.
    std::map<std::size_t, std::optional<digest>> seen_at_destination_;
    sync_report report_;
    /// `platforms:` by rule origin and source.
    std::map<std::string, std::vector<platform>> rule_platforms_;
    /// The referrer policy by rule origin and source, and one context per distinct policy.
    std::map<std::string, referrer_policy> rule_referrers_;
    std::vector<std::unique_ptr<referrers_context>> referrer_contexts_;
    tag_lists listed_tags_;
    /// Images in sync whose referrers are still to be carried, by index in report_.images.
    std::set<std::size_t> referrers_only_;
};

} // namespace

asio::awaitable<result<sync_report>> run_sync(std::vector<sync_rule> rules, registry_provider& registries,
                                              sync_options options) {
    runner r(registries, std::move(options), co_await asio::this_coro::executor);
    co_return co_await r.run(std::move(rules));
}

} // namespace libregistry
