#include "libregistry/sync/referrers_copy.hpp"

#include "libregistry/core/media_type.hpp"
#include "libregistry/core/printable.hpp"

#include "sync/detail/target.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <utility>

namespace libregistry {

namespace asio = boost::asio;

std::string_view to_string(referrer_via via) noexcept {
    switch (via) {
    case referrer_via::api:
        return "api";
    case referrer_via::tag_schema:
        return "tag schema";
    case referrer_via::cosign_tag:
        break;
    }
    return "cosign tag";
}

asio::awaitable<result<const std::vector<std::string>*>>
referrers_context::tags(registry& source, const std::string& repository) {
    const auto key = fmt::format("{}/{}", source.name(), repository);
    if (auto known = tags_.find(key); known != tags_.end()) co_return &known->second;
    auto listed = co_await source.list_tags(repository);
    if (!listed) co_return listed.error();
    auto stored = tags_.emplace(key, std::move(*listed)).first;
    co_return &stored->second;
}

void referrers_context::set_tags(const std::string& registry_name, const std::string& repository,
                                 std::vector<std::string> tags) {
    tags_[fmt::format("{}/{}", registry_name, repository)] = std::move(tags);
}

namespace {

// What the type filter looks at: the artifactType (the config's media type when there is none), else the
// manifest's own media type.
std::vector<std::string> types_of(const descriptor& d) {
    return {d.artifact_type.empty() ? d.media_type : d.artifact_type};
}

std::string describe(const referrer_node& n) {
    auto type = n.desc.artifact_type.empty() ? n.desc.media_type : n.desc.artifact_type;
    if (n.via == referrer_via::cosign_tag)
        return fmt::format("referrer {} (cosign tag {}) of {}", n.desc.digest.str(), printable(n.tag, 200),
                           n.subject.str());
    return fmt::format("referrer {} ({}) of {}", n.desc.digest.str(), printable(type, 200), n.subject.str());
}

class discovery {
public:
    discovery(registry& source, std::string repository, referrers_context& context)
        : source_(source), repository_(std::move(repository)), context_(context), policy_(context.policy()) {}

    asio::awaitable<result<referrer_discovery>> run(std::vector<digest> subjects) {
        auto tags = co_await context_.tags(source_, repository_);
        if (!tags) co_return tags.error();
        tags_ = *tags;
        for (const auto& s : subjects)
            seen_.insert(s);
        // Breadth first: every node comes after its subject, and a level is listed whole before the next.
        std::deque<std::pair<digest, int>> queue;
        for (const auto& s : subjects)
            queue.emplace_back(s, 0);
        while (!queue.empty()) {
            auto [subject, depth] = queue.front();
            queue.pop_front();
            auto found = co_await referrers_of(subject, depth + 1);
            if (!found) co_return found.error();
            for (auto& node : *found) {
                queue.emplace_back(node.desc.digest, node.depth);
                out_.nodes.push_back(std::move(node));
                if (out_.nodes.size() > policy_.max_referrers)
                    co_return make_error(
                        errc::too_large,
                        fmt::format("{}/{}@{} has more than {} referrers (all depths together); not carrying "
                                    "them: raise the referrers bound (max_referrers), or select fewer "
                                    "artifact types",
                                    source_.name(), repository_,
                                    subjects.empty() ? std::string() : subjects.front().str(),
                                    policy_.max_referrers));
            }
        }
        if (out_.too_deep > 0)
            out_.notes.push_back(fmt::format("{} referrer(s) in {}/{} deeper than {} level(s) not carried "
                                             "(the referrers depth bound)",
                                             out_.too_deep, source_.name(), repository_, policy_.max_depth));
        co_return std::move(out_);
    }

private:
    // The selected referrers of `subject` at `depth` (its own depth plus one), each digest not seen before.
    asio::awaitable<result<std::vector<referrer_node>>> referrers_of(digest subject, int depth) {
        std::vector<referrer_node> out;
        auto listed = co_await listing(subject);
        if (!listed) co_return listed.error();
        const auto via =
            listed->source == referrers_source::api ? referrer_via::api : referrer_via::tag_schema;
        for (auto& d : listed->descriptors) {
            if (!first_sighting(d.digest, subject)) continue;
            if (depth > policy_.max_depth) {
                ++out_.too_deep;
                continue;
            }
            if (!referrer_selected(policy_, types_of(d))) {
                ++out_.excluded;
                continue;
            }
            referrer_node node{std::move(d), subject, via, {}, depth};
            out.push_back(std::move(node));
        }
        for (const auto& tag : cosign_tags_for(subject, *tags_)) {
            if (depth > policy_.max_depth) {
                ++out_.too_deep;
                continue;
            }
            auto node = co_await cosign_node(subject, tag, depth);
            if (!node) co_return node.error();
            if (!*node) continue;
            if (!first_sighting((*node)->desc.digest, subject)) continue;
            out.push_back(std::move(**node));
        }
        co_return out;
    }

    // One listing of `subject`'s referrers, none at all when the registry is known to lack the API and the
    // tag schema's tag is not in the tag list (nor the tag GET when the API turns out to be missing).
    asio::awaitable<result<referrer_list>> listing(digest subject) {
        const auto& name = source_.name();
        const bool tagged = std::find(tags_->begin(), tags_->end(), referrers_tag(subject)) != tags_->end();
        if (context_.api_absent(name) && !tagged) co_return referrer_list{};
        // Asking about the API for the first time: the tag schema's tag is read only if the tag list has it.
        auto listed = co_await source_.list_referrers(repository_, subject, std::nullopt, tagged);
        if (!listed) co_return listed.error();
        if (listed->source != referrers_source::api) context_.note_api_absent(name);
        co_return listed;
    }

    // A cosign tag as a node: one HEAD for its descriptor, and with a type filter one GET for the types
    // (artifactType or config media type, and the layers' media types: cosign's signature layer says what it
    // is). nullopt when the tag is gone or the filter leaves it out.
    asio::awaitable<result<std::optional<referrer_node>>> cosign_node(digest subject, std::string tag,
                                                                      int depth) {
        auto head = co_await source_.head_manifest(repository_, tag);
        if (!head) co_return head.error();
        if (!*head) co_return std::optional<referrer_node>{};
        referrer_node node{std::move(**head), subject, referrer_via::cosign_tag, tag, depth};
        if (!policy_.include_types.empty() || !policy_.exclude_types.empty()) {
            auto m = co_await source_.get_manifest(repository_, node.desc.digest.str());
            if (!m) co_return m.error();
            const auto listed = referrer_descriptor(*m);
            node.desc.artifact_type = listed.artifact_type;
            node.desc.annotations = listed.annotations;
            auto types = types_of(listed);
            for (const auto& layer : m->layers)
                types.push_back(layer.media_type);
            if (!referrer_selected(policy_, types)) {
                ++out_.excluded;
                co_return std::optional<referrer_node>{};
            }
        }
        co_return std::optional<referrer_node>{std::move(node)};
    }

    // False, with a note, for a digest met before: a cycle (cosign tags can form one) or a referrer shared
    // by two subjects; either way it is walked once.
    bool first_sighting(const digest& d, const digest& subject) {
        if (seen_.insert(d).second) return true;
        out_.notes.push_back(fmt::format("{}/{}@{}, a referrer of {}, was found before (a cycle, or a "
                                         "referrer of two subjects): followed once",
                                         source_.name(), repository_, d.str(), subject.str()));
        return false;
    }

    registry& source_;
    std::string repository_;
    referrers_context& context_;
    referrer_policy policy_;
    const std::vector<std::string>* tags_ = nullptr;
    std::set<digest> seen_;
    referrer_discovery out_;
};

// A copy_referrers destination, and what is known there.
struct destination_state {
    copy_target target;
    referrers_stats stats;
    std::optional<error> failure;

    void fail(const error& e, const std::string& what) {
        if (failure) return;
        failure = e;
        failure->message = fmt::format("{}: {}", what, e.message);
    }
};

class carrier {
public:
    carrier(registry& source, std::string repository, copy_options options)
        : source_(source), repository_(std::move(repository)), options_(std::move(options)) {
        options_.referrers = nullptr;
        options_.platforms.clear();
        options_.force = false;
        options_.on_event = nullptr;
        options_.known_source_digest.reset();
        if (!options_.ledger) options_.ledger = &own_ledger_;
    }

    // Carries the referrers of one subject to every destination still going: those it lacks, then the
    // fallback index where the destination does not index subjects itself.
    asio::awaitable<void> carry(digest subject, std::vector<referrer_node> nodes,
                                std::vector<destination_state*> destinations) {
        std::vector<destination_state*> live;
        for (auto* d : destinations)
            if (!d->failure) live.push_back(d);
        if (live.empty() || nodes.empty()) co_return;
        if (options_.stop.stop_requested()) {
            for (auto* d : live)
                d->fail(detail::stopped("carrying the referrers of " + subject.str()), "carrying referrers");
            co_return;
        }
        // What each destination lists for the subject: one request per destination.
        std::vector<referrer_list> listed(live.size());
        for (std::size_t i = 0; i < live.size(); ++i) {
            auto* d = live[i];
            auto r = co_await d->target.destination->list_referrers(d->target.to.repository, subject,
                                                                    std::nullopt);
            if (!r)
                d->fail(r.error(), fmt::format("reading the referrers of {} at {}/{}", subject.str(),
                                               d->target.destination->name(), d->target.to.repository));
            else
                listed[i] = std::move(*r);
        }
        std::vector<std::vector<descriptor>> fallback(live.size());
        for (const auto& node : nodes) {
            std::vector<destination_state*> need;
            std::vector<std::size_t> need_index;
            for (std::size_t i = 0; i < live.size(); ++i) {
                auto* d = live[i];
                if (d->failure) continue;
                const auto& have = listed[i].descriptors;
                const bool indexed = node.via != referrer_via::cosign_tag &&
                                     std::any_of(have.begin(), have.end(), [&](const descriptor& x) {
                                         return x.digest == node.desc.digest;
                                     });
                if (indexed) {
                    ++d->stats.present;
                    continue;
                }
                // A cosign tag, or a referrer the destination does not list: its HEAD tells whether it is
                // there already (an earlier run stopped before the fallback index was written).
                const auto ref = node.via == referrer_via::cosign_tag ? node.tag : node.desc.digest.str();
                auto head = co_await d->target.destination->head_manifest(d->target.to.repository, ref);
                if (!head) {
                    d->fail(head.error(), describe(node));
                    continue;
                }
                if (*head && (*head)->digest == node.desc.digest) {
                    ++d->stats.present;
                    if (node.via != referrer_via::cosign_tag && listed[i].source != referrers_source::api)
                        fallback[i].push_back(node.desc);
                    continue;
                }
                need.push_back(d);
                need_index.push_back(i);
            }
            if (need.empty()) continue;
            std::vector<copy_target> targets;
            for (auto* d : need) {
                reference to;
                to.registry = d->target.destination->name();
                to.repository = d->target.to.repository;
                if (node.via == referrer_via::cosign_tag)
                    to.tag = node.tag;
                else
                    to.digest = node.desc.digest;
                // Just HEADed: the copy need not look again.
                std::optional<digest> nothing;
                targets.push_back(copy_target{d->target.destination, std::move(to), nothing});
            }
            reference from;
            from.registry = source_.name();
            from.repository = repository_;
            from.digest = node.desc.digest;
            auto options = options_;
            options.known_source_digest = node.desc.digest;
            auto results = co_await copy_image_to_many(source_, std::move(from), std::move(targets), options);
            for (std::size_t k = 0; k < need.size(); ++k) {
                auto* d = need[k];
                auto& r = results[k];
                if (!r) {
                    d->fail(r.error(), describe(node));
                    continue;
                }
                ++d->stats.copied;
                d->stats.bytes_sent += r->bytes_sent;
                if (node.via != referrer_via::cosign_tag && !r->subject_indexed)
                    fallback[need_index[k]].push_back(node.desc);
            }
        }
        for (std::size_t i = 0; i < live.size(); ++i)
            if (!live[i]->failure && !fallback[i].empty())
                co_await merge_fallback(*live[i], subject, fallback[i]);
    }

private:
    // The destination keeps no referrers index of its own: read the tag schema's index, add what is new,
    // and write it back only when it changed. What is there already stays, whoever wrote it.
    asio::awaitable<void> merge_fallback(destination_state& d, digest subject,
                                         std::vector<descriptor> added) {
        auto& dest = *d.target.destination;
        const auto& repository = d.target.to.repository;
        const auto tag = referrers_tag(subject);
        const auto what = fmt::format("updating the referrers index {}/{}:{} of {}", dest.name(), repository,
                                      tag, subject.str());
        std::vector<descriptor> existing;
        auto current = co_await dest.get_manifest(repository, tag);
        if (current) {
            if (current->kind != manifest_kind::index) {
                d.fail(make_error(errc::bad_response,
                                  fmt::format("the tag holds a {}, not an index of referrers; move the tag "
                                              "away, and the next run writes the index",
                                              printable(current->media_type, 200))),
                       what);
                co_return;
            }
            existing = std::move(current->manifests);
        } else if (current.error().code != errc::manifest_unknown) {
            d.fail(current.error(), what);
            co_return;
        }
        const auto before = existing.size();
        auto merged = merge_descriptors(std::move(existing), added);
        if (merged.size() == before) co_return;
        auto index = referrers_index(merged);
        const auto bytes = index.bytes.size();
        auto pushed = co_await dest.put_manifest(repository, tag, std::move(index));
        if (!pushed) {
            d.fail(pushed.error(), what);
            co_return;
        }
        ++d.stats.fallback_updates;
        d.stats.bytes_sent += bytes;
    }

    registry& source_;
    std::string repository_;
    copy_options options_;
    blob_ledger own_ledger_;
};

} // namespace

asio::awaitable<result<referrer_discovery>> discover_referrers(registry& source, std::string repository,
                                                               std::vector<digest> subjects,
                                                               referrers_context& context) {
    discovery d(source, std::move(repository), context);
    co_return co_await d.run(std::move(subjects));
}

asio::awaitable<std::vector<result<referrers_stats>>>
copy_referrers(registry& source, std::string source_repository, referrer_subjects subjects,
               std::vector<copy_target> destinations, referrers_context& context, copy_options options) {
    std::vector<destination_state> states;
    for (auto& d : destinations)
        states.push_back(destination_state{std::move(d), {}, std::nullopt});
    auto finish = [&] {
        std::vector<result<referrers_stats>> out;
        for (auto& s : states) {
            if (s.failure)
                out.emplace_back(*s.failure);
            else
                out.emplace_back(std::move(s.stats));
        }
        return out;
    };
    auto fail_all = [&](const error& e, const std::string& what) {
        for (auto& s : states)
            s.fail(e, what);
    };
    if (!context.policy().enabled) co_return finish();

    // The subjects at the source: the image, and each child of an index. A rewritten index is not at the
    // source under its new digest; its children are. The image is looked at first: that tells whether the
    // registry has the referrers API, and without it an index in a repository whose tag list holds no tag
    // of the tag schema or cosign cannot have referrers under its children either, so a no-op run reads no
    // manifest for them.
    const auto where = fmt::format("finding the referrers of {}/{}@{}", source.name(), source_repository,
                                   subjects.digest.str());
    std::vector<digest> roots;
    referrer_discovery discovered;
    auto add = [&](referrer_discovery more) {
        for (auto& n : more.nodes)
            if (std::none_of(discovered.nodes.begin(), discovered.nodes.end(),
                             [&](const referrer_node& known) { return known.desc.digest == n.desc.digest; }))
                discovered.nodes.push_back(std::move(n));
        discovered.excluded += more.excluded;
        discovered.too_deep += more.too_deep;
        discovered.notes.insert(discovered.notes.end(), more.notes.begin(), more.notes.end());
    };
    if (!subjects.rewritten) {
        roots.push_back(subjects.digest);
        std::vector<digest> image{subjects.digest};
        auto found = co_await discover_referrers(source, source_repository, std::move(image), context);
        if (!found) {
            fail_all(found.error(), where);
            co_return finish();
        }
        add(std::move(*found));
    }
    if (kind_of(subjects.media_type) == manifest_kind::index) {
        bool read_children = subjects.image.has_value();
        if (!read_children) {
            auto tags = co_await context.tags(source, source_repository);
            read_children = !tags || !context.api_absent(source.name()) ||
                            std::any_of((*tags)->begin(), (*tags)->end(),
                                        [](const std::string& t) { return subject_of_tag(t).has_value(); });
        }
        if (read_children && !subjects.image) {
            auto m = co_await source.get_manifest(source_repository, subjects.digest.str());
            if (!m) {
                fail_all(m.error(), "reading the index whose children's referrers are carried");
                co_return finish();
            }
            subjects.image = std::move(*m);
        }
        if (read_children) {
            std::vector<digest> children;
            for (const auto& child : subjects.image->manifests)
                if (std::find(roots.begin(), roots.end(), child.digest) == roots.end() &&
                    std::find(children.begin(), children.end(), child.digest) == children.end())
                    children.push_back(child.digest);
            roots.insert(roots.end(), children.begin(), children.end());
            auto found = co_await discover_referrers(source, source_repository, std::move(children), context);
            if (!found) {
                fail_all(found.error(), where);
                co_return finish();
            }
            add(std::move(*found));
        }
    }
    auto found = &discovered;
    int not_carried = found->too_deep;
    std::vector<std::string> notes = found->notes;
    if (subjects.rewritten) {
        std::vector<digest> rewritten{*subjects.rewritten};
        auto lost = co_await discover_referrers(source, source_repository, std::move(rewritten), context);
        if (!lost) {
            fail_all(lost.error(), where);
            co_return finish();
        }
        const auto n = static_cast<int>(lost->nodes.size());
        not_carried += n + lost->too_deep;
        if (n > 0)
            notes.push_back(fmt::format("{} referrer(s) of the index {} not carried: the platform filter "
                                        "rewrote it as {}",
                                        n, subjects.rewritten->str(), subjects.digest.str()));
    }
    for (auto& s : states) {
        s.stats.found = static_cast<int>(found->nodes.size());
        s.stats.excluded = found->excluded;
        s.stats.not_carried = not_carried;
        s.stats.notes = notes;
    }

    // Subject by subject, parents first (discovery lists every node after its subject).
    std::vector<digest> order = roots;
    for (const auto& n : found->nodes)
        order.push_back(n.desc.digest);
    std::vector<destination_state*> all;
    for (auto& s : states)
        all.push_back(&s);
    carrier c(source, source_repository, options);
    for (const auto& subject : order) {
        std::vector<referrer_node> nodes;
        for (const auto& n : found->nodes)
            if (n.subject == subject) nodes.push_back(n);
        if (nodes.empty()) continue;
        co_await c.carry(subject, std::move(nodes), all);
    }
    co_return finish();
}

} // namespace libregistry
