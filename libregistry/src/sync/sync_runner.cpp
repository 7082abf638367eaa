#include "libregistry/sync/sync_runner.hpp"

#include "client/detail/for_each_bounded.hpp"
#include "client/detail/semaphore.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <fmt/format.h>

#include <map>
#include <memory>
#include <set>
#include <stop_token>

namespace libregistry {

namespace asio = boost::asio;

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

// Bounds the concurrent calls into one registry; a call holds its permit until it returns (for an upload, for
// the whole transfer).
class limited_registry final : public registry {
public:
    limited_registry(registry& inner, asio::any_io_executor ex, std::size_t limit)
        : inner_(inner), permits_(ex, limit) {}

    std::string name() const override { return inner_.name(); }

    asio::awaitable<result<std::optional<descriptor>>> head_manifest(std::string repository,
                                                                     std::string ref) override {
        co_await permits_.acquire();
        detail::semaphore_guard g(permits_);
        co_return co_await inner_.head_manifest(std::move(repository), std::move(ref));
    }
    asio::awaitable<result<manifest>> get_manifest(std::string repository, std::string ref) override {
        co_await permits_.acquire();
        detail::semaphore_guard g(permits_);
        co_return co_await inner_.get_manifest(std::move(repository), std::move(ref));
    }
    asio::awaitable<result<digest>> put_manifest(std::string repository, std::string ref,
                                                 manifest m) override {
        co_await permits_.acquire();
        detail::semaphore_guard g(permits_);
        co_return co_await inner_.put_manifest(std::move(repository), std::move(ref), std::move(m));
    }
    asio::awaitable<result<bool>> has_blob(std::string repository, digest d) override {
        co_await permits_.acquire();
        detail::semaphore_guard g(permits_);
        co_return co_await inner_.has_blob(std::move(repository), std::move(d));
    }
    asio::awaitable<result<std::unique_ptr<blob_reader>>> get_blob(std::string repository,
                                                                   descriptor desc) override {
        co_await permits_.acquire();
        detail::semaphore_guard g(permits_);
        co_return co_await inner_.get_blob(std::move(repository), std::move(desc));
    }
    asio::awaitable<result<std::optional<upload_session>>>
    start_upload(std::string repository, std::optional<digest> d, std::optional<std::string> from) override {
        co_await permits_.acquire();
        detail::semaphore_guard g(permits_);
        co_return co_await inner_.start_upload(std::move(repository), std::move(d), std::move(from));
    }
    asio::awaitable<result<void>> finish_upload(upload_session session, descriptor desc,
                                                blob_reader& reader) override {
        co_await permits_.acquire();
        detail::semaphore_guard g(permits_);
        co_return co_await inner_.finish_upload(std::move(session), std::move(desc), reader);
    }
    asio::awaitable<void> cancel_upload(upload_session session) override {
        co_await inner_.cancel_upload(std::move(session));
    }
    asio::awaitable<result<std::vector<std::string>>> list_tags(std::string repository) override {
        co_await permits_.acquire();
        detail::semaphore_guard g(permits_);
        co_return co_await inner_.list_tags(std::move(repository));
    }

private:
    registry& inner_;
    detail::async_semaphore permits_;
};

class runner {
public:
    runner(registry_provider& provider, sync_options options, asio::any_io_executor ex)
        : provider_(provider), options_(std::move(options)), executor_(ex) {
        options_.copy.ledger = &ledger_;
        options_.copy.stop = options_.stop;
    }

    bool stopping() const { return options_.stop.stop_requested(); }

    // A failure the stop is to blame for: a cancelled request, or one that would have been retried.
    bool cut_short(const error& e) const {
        return e.code == errc::cancelled || (stopping() && e.retryable());
    }

    registry& get(const std::string& name) {
        auto it = limited_.find(name);
        if (it == limited_.end())
            it = limited_
                     .emplace(name, std::make_unique<limited_registry>(
                                        provider_.get(name), executor_,
                                        std::max<std::size_t>(options_.per_registry, 1)))
                     .first;
        return *it->second;
    }

    asio::awaitable<result<sync_report>> run(std::vector<sync_rule> rules) {
        auto started = std::chrono::steady_clock::now();
        sync_report report;
        std::erase_if(rules, [&](const sync_rule& r) { return !in_shard(r.source, options_.shard); });

        // Tag lists, once per repository, whatever number of rules need them.
        auto to_list = repositories_to_list(rules);
        tag_lists lists;
        std::map<std::string, error> list_failures;
        std::set<std::string> not_listed;
        std::function<asio::awaitable<void>(std::size_t)> list_one =
            [&](std::size_t i) -> asio::awaitable<void> {
            const auto& s = to_list[i];
            if (stopping()) {
                not_listed.insert(s.name());
                co_return;
            }
            // A listing that fails for a passing reason gets the retry rounds images get; without its tags
            // the repository's images could not even be planned.
            for (int attempt = 0;; ++attempt) {
                auto tags = co_await get(s.registry).list_tags(s.repository);
                if (tags) {
                    lists[s.name()] = std::move(*tags);
                    co_return;
                }
                if (!tags.error().retryable() || attempt >= options_.retries || stopping()) {
                    if (cut_short(tags.error()))
                        not_listed.insert(s.name());
                    else
                        list_failures.emplace(s.name(), tags.error());
                    co_return;
                }
                co_await wait_or_stop(std::chrono::seconds(std::min((attempt + 1) * 2, 10)), options_.stop);
            }
        };
        co_await detail::for_each_bounded(to_list.size(), options_.per_registry, list_one);
        for (const auto& rule : rules) {
            // Rules naming their tags or a digest need no list, whatever happened to another rule's.
            if (rule.source.selector != tag_selector::all && rule.source.selector != tag_selector::regex)
                continue;
            auto failed = list_failures.find(rule.source.name());
            bool unlisted = not_listed.count(rule.source.name()) > 0;
            if (failed == list_failures.end() && !unlisted) continue;
            for (const auto& d : rule.destinations) {
                image_result r;
                r.item.source.registry = rule.source.registry;
                r.item.source.repository = rule.source.repository;
                r.item.destination.registry = d.registry;
                r.item.destination.repository = d.repository;
                r.item.origin = rule.origin;
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
                report.images.push_back(std::move(r));
            }
        }

        auto items = expand_rules(rules, lists);
        if (!items) co_return items.error();

        // HEAD both sides of every item; a source tag shared by several destinations is asked about once.
        std::vector<observation> observations(items->size());
        std::vector<bool> observed(items->size(), false);
        std::map<std::string, std::shared_ptr<source_head>> source_heads;
        std::function<asio::awaitable<void>(std::size_t)> observe =
            [&](std::size_t i) -> asio::awaitable<void> {
            if (stopping()) co_return;
            const auto& item = (*items)[i];
            auto& o = observations[i];
            auto key = item.source.str();
            auto it = source_heads.find(key);
            std::shared_ptr<source_head> head;
            if (it == source_heads.end()) {
                head = std::make_shared<source_head>(executor_);
                source_heads.emplace(key, head);
                auto r = co_await get(item.source.registry)
                             .head_manifest(item.source.repository, item.source.identifier());
                if (!r)
                    head->failure = r.error();
                else if (*r)
                    head->found = (*r)->digest;
                head->done = true;
                head->timer.cancel();
            } else {
                head = it->second;
                while (!head->done)
                    co_await head->timer.async_wait(asio::as_tuple(asio::use_awaitable));
            }
            if (head->failure) {
                o.failure = head->failure;
                observed[i] = !cut_short(*head->failure);
                co_return;
            }
            o.source = head->found;
            if (!o.source) {
                observed[i] = true;
                co_return;
            }
            if (stopping()) co_return;
            auto d = co_await get(item.destination.registry)
                         .head_manifest(item.destination.repository, item.destination.identifier());
            if (!d)
                o.failure = d.error();
            else if (*d)
                o.destination = (*d)->digest;
            observed[i] = !o.failure || !cut_short(*o.failure);
        };
        co_await detail::for_each_bounded(items->size(), options_.per_registry * 2, observe);

        plan_options popts;
        popts.force = options_.force;
        popts.platform_filter = !options_.copy.platforms.empty();
        auto actions = plan_sync(*items, observations, popts);

        std::vector<std::size_t> to_copy;
        for (std::size_t i = 0; i < actions.size(); ++i) {
            auto& a = actions[i];
            image_result r;
            r.item = a.item;
            r.digest = a.source_digest;
            r.reason = a.reason;
            if (!observed[i]) {
                // Stopped before both sides were seen: the plan's verdict rests on nothing.
                r.digest.reset();
                r.status = image_status::interrupted;
                const auto& failure = observations[i].failure;
                r.reason = failure
                               ? fmt::format("not started: the run was stopped while comparing digests: {}",
                                             failure->message)
                               : not_started;
                report.images.push_back(std::move(r));
                continue;
            }
            switch (a.kind) {
            case action_kind::skip:
                r.status = image_status::skipped;
                break;
            case action_kind::fail:
                r.status = image_status::failed;
                break;
            case action_kind::copy:
                r.status = image_status::planned;
                to_copy.push_back(report.images.size());
                break;
            }
            report.images.push_back(std::move(r));
        }
        if (options_.on_event)
            options_.on_event(sync_event{sync_event::kind::planned, nullptr, to_copy.size()});
        // Everything decided without a copy, the failed tag listings included, is announced now.
        for (std::size_t i = 0; i < report.images.size(); ++i)
            if (report.images[i].status != image_status::planned && options_.on_event)
                options_.on_event(sync_event{sync_event::kind::image_done, &report.images[i], 0});

        if (!options_.dry_run) {
            int last_round = -1;
            for (int round = 0; round <= options_.retries && !to_copy.empty() && !stopping(); ++round) {
                if (round > 0) {
                    // Give a struggling registry a moment before the next round.
                    co_await wait_or_stop(std::chrono::seconds(std::min(round * 2, 10)), options_.stop);
                    if (stopping()) break;
                }
                // Items with the same source image are copied together: one manifest read, one download per
                // blob for all their destination registries.
                std::vector<std::vector<image_result*>> groups;
                std::map<std::string, std::size_t> group_of;
                for (auto i : to_copy) {
                    auto& img = report.images[i];
                    auto [it, fresh] = group_of.emplace(img.item.source.str(), groups.size());
                    if (fresh) groups.emplace_back();
                    groups[it->second].push_back(&img);
                }
                std::function<asio::awaitable<void>(std::size_t)> copy_one =
                    [&](std::size_t i) -> asio::awaitable<void> { co_await copy(groups[i], round); };
                co_await detail::for_each_bounded(groups.size(), options_.proc, copy_one);
                std::erase_if(to_copy,
                              [&](std::size_t i) { return report.images[i].status != image_status::failed; });
                last_round = round;
            }
            // A stop before the first round leaves planned images behind, and one between rounds failed
            // images whose last word was never reported.
            for (auto& img : report.images)
                if (img.status == image_status::planned) {
                    img.status = image_status::interrupted;
                    img.reason = not_started;
                    if (options_.on_event)
                        options_.on_event(sync_event{sync_event::kind::image_done, &img, 0});
                }
            if (last_round >= 0 && last_round < options_.retries && options_.on_event)
                for (auto i : to_copy)
                    options_.on_event(sync_event{sync_event::kind::image_done, &report.images[i], 0});
        }

        for (const auto& r : report.images) {
            auto& t = report.totals;
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
            }
            t.bytes_sent += r.stats.bytes_sent;
            t.blobs_uploaded += r.stats.blobs_uploaded;
            t.blobs_mounted += r.stats.blobs_mounted;
            t.blobs_skipped += r.stats.blobs_skipped;
            t.manifests_pushed += r.stats.manifests_pushed;
        }
        report.duration =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
        report.stopped = stopping();
        co_return report;
    }

private:
    struct source_head {
        explicit source_head(asio::any_io_executor ex) : timer(ex, asio::steady_timer::time_point::max()) {}
        asio::steady_timer timer;
        bool done = false;
        std::optional<digest> found;
        std::optional<error> failure;
    };

    asio::awaitable<void> copy(std::vector<image_result*> images, int round) {
        // Not started: a first-round image is reported as interrupted, a retry keeps its earlier failure.
        if (stopping()) {
            for (auto* image : images)
                if (round == 0) {
                    image->status = image_status::interrupted;
                    image->reason = not_started;
                    if (options_.on_event)
                        options_.on_event(sync_event{sync_event::kind::image_done, image, 0});
                }
            co_return;
        }
        auto copy_options = options_.copy;
        copy_options.force = options_.force;
        // The plan already compared digests; a retry round compares again in case a previous try got through.
        if (round == 0 && copy_options.platforms.empty())
            copy_options.known_source_digest = images.front()->digest;
        std::vector<copy_target> targets;
        for (auto* image : images) {
            ++image->attempts;
            targets.push_back(copy_target{&get(image->item.destination.registry), image->item.destination});
        }
        const auto& source = images.front()->item.source;
        auto results =
            co_await copy_image_to_many(get(source.registry), source, std::move(targets), copy_options);
        for (std::size_t i = 0; i < images.size(); ++i)
            record(*images[i], results[i], round);
    }

    void record(image_result& image, const result<copy_stats>& r, int round) {
        if (r) {
            auto previous = image.stats;
            image.stats = *r;
            image.digest = r->manifest_digest;
            if (r->up_to_date) {
                image.status = round == 0 ? image_status::skipped : image_status::copied;
                if (round == 0) image.reason = "in sync after applying the platform filter";
                // A later round that finds the image in place finished what an earlier round started.
                if (round > 0) image.stats = previous;
            } else {
                image.status = image_status::copied;
            }
        } else if (cut_short(r.error())) {
            image.status = image_status::interrupted;
            image.reason = r.error().message;
        } else {
            image.status = image_status::failed;
            image.reason = r.error().message;
        }
        if (options_.on_event && (image.status != image_status::failed || round == options_.retries))
            options_.on_event(sync_event{sync_event::kind::image_done, &image, 0});
    }

    registry_provider& provider_;
    sync_options options_;
    asio::any_io_executor executor_;
    blob_ledger ledger_;
    std::map<std::string, std::unique_ptr<limited_registry>> limited_;
};

} // namespace

asio::awaitable<result<sync_report>> run_sync(std::vector<sync_rule> rules, registry_provider& registries,
                                              sync_options options) {
    runner r(registries, std::move(options), co_await asio::this_coro::executor);
    co_return co_await r.run(std::move(rules));
}

} // namespace libregistry
