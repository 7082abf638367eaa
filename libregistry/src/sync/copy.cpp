#include "libregistry/sync/copy.hpp"
#include "libregistry/sync/referrers_copy.hpp"

#include "sync/detail/blob_copier.hpp"
#include "sync/detail/platform_filter.hpp"
#include "sync/detail/target.hpp"

#include "client/detail/for_each_bounded.hpp"

#include <boost/asio/this_coro.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <set>

namespace libregistry {

namespace asio = boost::asio;
using detail::stopped;
using detail::target;

namespace {

class copy_job {
public:
    copy_job(registry& source, std::string source_repository, copy_options options,
             std::map<digest, manifest> known)
        : source_(source), source_repository_(std::move(source_repository)), options_(std::move(options)),
          known_(std::move(known)),
          blobs_(source_, source_repository_, options_, options_.ledger ? *options_.ledger : own_ledger_) {}

    // Copies a manifest's content to every target of `group`, then pushes the manifest there under `refs[i]`.
    // Once a stop is requested nothing is pushed: content finished in the meantime stays unreferenced, and
    // the next run finds it in place.
    asio::awaitable<void> copy_tree(manifest m, std::vector<target*> group, std::vector<std::string> refs) {
        if (m.kind == manifest_kind::index) {
            // Every child at once: each child's blob transfers wait for the target's --jobs, not for the
            // children before it to finish, so the next child's manifest is read while blobs flow.
            auto children = m.manifests;
            std::function<asio::awaitable<void>(std::size_t)> copy_one =
                [&](std::size_t i) -> asio::awaitable<void> { co_await copy_child(children[i], group); };
            co_await detail::for_each_bounded(children.size(), children.size(), copy_one);
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
            // Children go first, so the last push to a target is its top manifest's.
            t->stats.subject_indexed = pushed->subject.has_value();
            if (options_.on_event)
                options_.on_event(copy_event{copy_event::kind::manifest_pushed, m.digest, 0});
        }
    }

private:
    bool stopping() const { return options_.stop.stop_requested(); }

    // Fails every live target of `group` when a stop was requested; true if so.
    bool stop_group(const std::vector<target*>& group, const std::string& what) {
        if (!stopping()) return false;
        for (auto* t : detail::alive(group))
            t->fail(stopped(what));
        return true;
    }

    asio::awaitable<void> copy_child(descriptor child, std::vector<target*> group) {
        if (stop_group(group, "copying child manifest " + child.digest.str())) co_return;
        std::vector<target*> need;
        for (auto* t : detail::alive(group)) {
            auto existing = co_await t->destination.head_manifest(t->repository(), child.digest.str());
            if (!existing)
                t->fail(existing.error());
            else if (!*existing || (*existing)->digest != child.digest)
                need.push_back(t);
        }
        if (need.empty()) co_return;
        // A nested index the platform filter read or rewrote is at hand; a rewritten one is not at the
        // source.
        result<manifest> m = manifest{};
        if (auto known = known_.find(child.digest); known != known_.end())
            m = known->second;
        else
            m = co_await source_.get_manifest(source_repository_, child.digest.str());
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
        auto targets = detail::alive(group);
        std::vector<target*> primaries, followers;
        std::set<std::string> registries;
        for (auto* t : targets)
            (registries.insert(t->destination.name()).second ? primaries : followers).push_back(t);
        if (primaries.size() > 1) {
            co_await blobs_.fan_out(desc, primaries);
        } else if (primaries.size() == 1) {
            auto r = co_await blobs_.copy_to(*primaries[0], desc);
            if (!r) primaries[0]->fail(r.error());
        }
        for (auto* t : followers) {
            if (t->failure) continue;
            if (stopping()) {
                t->fail(stopped("copying blob " + desc.digest.str()));
                continue;
            }
            auto r = co_await blobs_.copy_to(*t, desc);
            if (!r) t->fail(r.error());
        }
    }

    registry& source_;
    std::string source_repository_;
    copy_options options_;
    std::map<digest, manifest> known_;
    blob_ledger own_ledger_;
    detail::blob_copier blobs_;
};

// What the copy read at the source, for carrying the referrers afterwards.
struct copy_view {
    std::optional<digest> source_digest; ///< of the manifest read or HEADed at the source
    std::optional<manifest> pushed;      ///< what the targets that were copied received (filtered or not)
};

asio::awaitable<std::vector<result<copy_stats>>> copy_images(registry& source, reference from,
                                                             std::vector<copy_target> destinations,
                                                             copy_options options, copy_view* view) {
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
        t->observed = d.observed;
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
    // Up to date when the destination already points at `d` under the tag (no write at all). What the
    // caller saw there (copy_target::observed) stands in for the HEAD.
    std::optional<digest> compared;
    auto check_targets = [&](digest d, std::string media_type, bool filtered) -> asio::awaitable<void> {
        compared = d;
        for (auto& t : targets) {
            if (t->done || t->failure) continue;
            std::optional<digest> current;
            if (t->observed) {
                current = *t->observed;
            } else {
                auto existing = co_await t->destination.head_manifest(t->repository(), t->push_ref);
                if (!existing) {
                    t->failure = existing.error();
                    continue;
                }
                if (*existing) current = (*existing)->digest;
            }
            if (current == d) {
                t->done = true;
                t->stats.up_to_date = true;
                t->stats.filtered = filtered;
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
    // With a platform filter that holds for a single image, which is copied unchanged or not at all; an index
    // may be rewritten, so what the destination should hold is known only once the index is read.
    const bool filtering = !options.platforms.empty();
    std::string source_ref =
        options.known_source_digest ? options.known_source_digest->str() : from.identifier();
    if (!options.known_source_digest) {
        auto src_desc = co_await source.head_manifest(from.repository, source_ref);
        if (!src_desc)
            fail_all(src_desc.error());
        else if (!*src_desc)
            fail_all(not_found());
        else {
            source_ref = (*src_desc)->digest.str();
            view->source_digest = (*src_desc)->digest;
            const auto kind = kind_of((*src_desc)->media_type);
            const bool single = kind == manifest_kind::image || kind == manifest_kind::schema1;
            if (!options.force && (!filtering || single))
                co_await check_targets((*src_desc)->digest, (*src_desc)->media_type, false);
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
    view->source_digest = m->digest;
    bool filtered = false;
    std::map<digest, manifest> nested;
    if (filtering && m->kind == manifest_kind::index) {
        detail::platform_filter filter(source, from.repository, options.platforms);
        auto selection = co_await filter.select(*m);
        if (!selection || !selection->index) {
            auto e = selection ? no_platform_match(m->digest, options.platforms, selection->available)
                               : selection.error();
            e.message = fmt::format("{}: {}", src_name, e.message);
            fail_all(e);
            co_return finish();
        }
        filtered = selection->index->digest != m->digest;
        m = std::move(*selection->index);
        nested = filter.manifests();
        if (!options.force && compared != m->digest)
            co_await check_targets(m->digest, m->media_type, filtered);
    } else if (filtering) {
        // Compared before its platform is read: an image the destination already holds costs nothing more.
        if (!options.force && compared != m->digest) co_await check_targets(m->digest, m->media_type, false);
        if (!remaining()) co_return finish();
        detail::platform_filter filter(source, from.repository, options.platforms);
        auto fits = co_await filter.check_image(*m, src_name);
        if (!fits) {
            fail_all(fits.error());
            co_return finish();
        }
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
        // Refused before any blob is sent: a back end that cannot hold the manifest gets nothing of it.
        if (auto storable = t->destination.can_store(t->repository(), t->push_ref, *m); !storable) {
            t->failure = storable.error();
            t->failure->message = fmt::format("{}: {}", src_name, t->failure->message);
            continue;
        }
        group.push_back(t.get());
        refs.push_back(t->push_ref);
    }
    view->pushed = *m;
    if (!group.empty()) {
        copy_job job(source, from.repository, options, std::move(nested));
        co_await job.copy_tree(std::move(*m), std::move(group), std::move(refs));
    }
    co_return finish();
}

} // namespace

asio::awaitable<std::vector<result<copy_stats>>> copy_image_to_many(registry& source, reference from,
                                                                    std::vector<copy_target> destinations,
                                                                    copy_options options) {
    auto targets = destinations;
    copy_view view;
    auto results = co_await copy_images(source, from, std::move(destinations), options, &view);
    auto* context = options.referrers;
    if (!context || !context->policy().enabled) co_return results;

    // The referrers follow what each successful target holds now, copied or up to date. Every target got
    // the same manifest (the same filter applied to the same source), so one call carries them for all.
    std::vector<copy_target> carried;
    std::vector<std::size_t> positions;
    std::optional<copy_stats> first;
    for (std::size_t i = 0; i < results.size(); ++i) {
        if (!results[i]) continue;
        if (!first) first = *results[i];
        copy_target t{targets[i].destination, targets[i].to, {}};
        carried.push_back(std::move(t));
        positions.push_back(i);
    }
    if (carried.empty()) co_return results;
    referrer_subjects subjects;
    subjects.digest = first->manifest_digest;
    subjects.media_type = first->media_type;
    if (view.pushed && view.pushed->digest == subjects.digest) subjects.image = view.pushed;
    if (first->filtered) subjects.rewritten = view.source_digest;
    auto inner = options;
    inner.referrers = nullptr;
    auto src_repository = from.repository;
    auto carried_results = co_await copy_referrers(source, std::move(src_repository), std::move(subjects),
                                                   std::move(carried), *context, std::move(inner));
    for (std::size_t k = 0; k < positions.size(); ++k) {
        auto& r = results[positions[k]];
        auto& c = carried_results[k];
        if (c) {
            r->referrers = std::move(*c);
            continue;
        }
        // The image is in place; only what travels with it is not. The code stays the referrer's, so a
        // retryable failure is retried.
        auto e = c.error();
        e.message = fmt::format("copied {}, but carrying its referrers failed: {}", r->manifest_digest.str(),
                                e.message);
        r = e;
    }
    co_return results;
}

asio::awaitable<result<copy_stats>> copy_image(registry& source, reference from, registry& destination,
                                               reference to, copy_options options) {
    std::vector<copy_target> targets{copy_target{&destination, std::move(to), {}}};
    auto results =
        co_await copy_image_to_many(source, std::move(from), std::move(targets), std::move(options));
    co_return std::move(results.front());
}

} // namespace libregistry
