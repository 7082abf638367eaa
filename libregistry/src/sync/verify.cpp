#include "libregistry/sync/verify.hpp"

#include "libregistry/core/media_type.hpp"
#include "libregistry/core/referrers.hpp"
#include "libregistry/sync/layer_digest.hpp"
#include "libregistry/sync/referrers_copy.hpp"

#include "client/detail/for_each_bounded.hpp"
#include "client/detail/single_flight.hpp"
#include "sync/detail/platform_filter.hpp"

#include <boost/asio/this_coro.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <array>
#include <map>
#include <set>

namespace libregistry {

namespace asio = boost::asio;

std::string_view to_string(verify_status s) {
    switch (s) {
    case verify_status::in_sync:
        return "in sync";
    case verify_status::missing:
        return "missing";
    case verify_status::different:
        return "different";
    case verify_status::extra:
        return "extra";
    case verify_status::damaged:
        return "damaged";
    case verify_status::incomplete:
        return "incomplete";
    case verify_status::failed:
        return "failed";
    case verify_status::excluded:
        return "excluded";
    case verify_status::interrupted:
        return "interrupted";
    }
    return "unknown";
}

verify_totals tally(const std::vector<verify_result>& results) {
    verify_totals t;
    for (const auto& r : results) {
        switch (r.status) {
        case verify_status::in_sync:
            ++t.in_sync;
            break;
        case verify_status::missing:
            ++t.missing;
            break;
        case verify_status::different:
            ++t.different;
            break;
        case verify_status::extra:
            ++t.extra;
            break;
        case verify_status::damaged:
            ++t.damaged;
            break;
        case verify_status::incomplete:
            ++t.incomplete;
            break;
        case verify_status::failed:
            ++t.failed;
            break;
        case verify_status::excluded:
            ++t.excluded;
            break;
        case verify_status::interrupted:
            ++t.interrupted;
            break;
        }
        t.blobs_checked += r.blobs_checked;
        t.bytes_checked += r.bytes_checked;
    }
    return t;
}

namespace {

constexpr std::size_t read_chunk = 64 * 1024;
// Configs are read whole to find their diff_ids; far above any real one.
constexpr std::int64_t max_config_size = 16 * 1024 * 1024;
// An index may hold indexes; real ones nest once or twice.
constexpr int max_depth = 8;

// What reading one blob back found; shared by every image that uses the blob.
struct blob_check {
    std::optional<std::string> problem; ///< what is wrong, without naming the image
    std::optional<layer_digests> digests;
    std::string config; ///< the bytes, for a config that was read whole
    std::int64_t bytes = 0;
};

// What walking one destination manifest found: problems named by image, blob counts.
struct walk_result {
    std::vector<std::string> problems;
    int blobs = 0;
    std::uint64_t bytes = 0;
};

// A keyed single-flight that also keeps finished values: each key's work runs once per run.
template <class V>
class run_once {
public:
    asio::awaitable<V> run(std::string key, std::function<asio::awaitable<V>()> work) {
        if (auto it = done_.find(key); it != done_.end()) co_return it->second;
        auto value = co_await flights_.run(key, std::move(work));
        done_.emplace(key, value);
        co_return value;
    }

private:
    detail::single_flight<V> flights_;
    std::map<std::string, V> done_;
};

class verifier {
public:
    verifier(registry_provider& provider, verify_options options)
        : provider_(provider), options_(std::move(options)) {}

    asio::awaitable<result<verify_report>> run(std::vector<sync_rule> rules) {
        auto started = std::chrono::steady_clock::now();
        std::erase_if(rules, [&](const sync_rule& r) { return !in_shard(r.source, options_.shard); });

        // Source tag lists: those the rules need, and in deep mode every source's (for its referrer tags).
        std::vector<sync_source> to_list = repositories_to_list(rules);
        if (options_.deep) {
            std::set<std::string> named;
            for (const auto& s : to_list)
                named.insert(s.name());
            for (const auto& r : rules)
                if (named.insert(r.source.name()).second) to_list.push_back(r.source);
        }
        co_await list_sources(to_list);
        std::vector<sync_rule> listable;
        for (const auto& rule : rules) {
            bool needs_list =
                rule.source.selector == tag_selector::all || rule.source.selector == tag_selector::regex;
            auto failed = list_failures_.find(rule.source.name());
            if (needs_list && failed != list_failures_.end()) {
                for (const auto& d : rule.destinations) {
                    verify_result r;
                    r.item = rule_item(rule, d);
                    r.status = stopping() ? verify_status::interrupted : verify_status::failed;
                    r.reason = fmt::format("listing tags of {}: {}", rule.source.name(), failed->second);
                    add(std::move(r));
                }
                continue;
            }
            listable.push_back(rule);
        }
        auto items = expand_rules(listable, source_tags_);
        if (!items) co_return items.error();

        co_await compare(*items);
        co_await find_extra(listable, *items);
        if (options_.deep) co_await deep_checks();

        report_.totals = tally(report_.images);
        report_.deep = options_.deep;
        report_.stopped = stopping();
        report_.duration =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
        co_return std::move(report_);
    }

private:
    bool stopping() const { return options_.stop.stop_requested(); }
    registry& get(const std::string& name) { return provider_.get(name); }

    void warn(std::string message) {
        if (options_.on_warning) options_.on_warning(message);
        report_.warnings.push_back(std::move(message));
    }

    // Results are announced when final: at once unless a deep check is still to come.
    void add(verify_result r) {
        if (options_.on_result && !(options_.deep && r.status == verify_status::in_sync))
            options_.on_result(r);
        report_.images.push_back(std::move(r));
    }

    asio::awaitable<void> list_sources(std::vector<sync_source> repositories) {
        std::function<asio::awaitable<void>(std::size_t)> list_one =
            [&](std::size_t i) -> asio::awaitable<void> {
            const auto& s = repositories[i];
            if (stopping()) {
                list_failures_.emplace(s.name(), "the run was stopped before they were listed");
                co_return;
            }
            auto tags = co_await get(s.registry).list_tags(s.repository);
            if (!tags) {
                list_failures_.emplace(s.name(), tags.error().message);
                co_return;
            }
            if (auto invalid = remove_invalid_tags(*tags); !invalid.empty())
                warn(invalid_tags_warning(s.name(), invalid));
            source_tags_[s.name()] = std::move(*tags);
        };
        co_await detail::for_each_bounded(repositories.size(), options_.per_registry, list_one);
    }

    // HEADs a source image once, however many destinations it has.
    asio::awaitable<result<std::optional<descriptor>>> head_source(reference source) {
        auto key = source.str();
        std::function<asio::awaitable<result<std::optional<descriptor>>>()> work =
            [this, source]() -> asio::awaitable<result<std::optional<descriptor>>> {
            co_return co_await get(source.registry).head_manifest(source.repository, source.identifier());
        };
        co_return co_await source_heads_.run(key, work);
    }

    // A source index as the platform filter leaves it, for comparing with what sync wrote.
    asio::awaitable<result<std::optional<digest>>> filtered_digest(reference source) {
        auto& reg = get(source.registry);
        auto m = co_await reg.get_manifest(source.repository, source.identifier());
        if (!m) co_return m.error();
        if (m->kind != manifest_kind::index) co_return std::optional<digest>{m->digest};
        detail::platform_filter filter(reg, source.repository, options_.platforms);
        auto selection = co_await filter.select(*m);
        if (!selection) co_return selection.error();
        if (!selection->index) co_return std::optional<digest>{};
        co_return std::optional<digest>{selection->index->digest};
    }

    asio::awaitable<void> compare(std::vector<sync_item> items) {
        std::vector<verify_result> results(items.size());
        std::function<asio::awaitable<void>(std::size_t)> check =
            [&](std::size_t i) -> asio::awaitable<void> {
            auto& r = results[i];
            r.item = items[i];
            if (stopping()) {
                r.status = verify_status::interrupted;
                r.reason = "not checked: the run was stopped";
                co_return;
            }
            auto src = co_await head_source(r.item.source);
            if (!src) {
                r.status = verify_status::failed;
                r.reason = src.error().message;
                co_return;
            }
            if (!*src) {
                r.status = verify_status::failed;
                r.reason = fmt::format("the source has no {}", r.item.source.str());
                co_return;
            }
            r.source_digest = (*src)->digest;
            auto dst = co_await get(r.item.destination.registry)
                           .head_manifest(r.item.destination.repository, r.item.destination.identifier());
            if (!dst) {
                r.status = verify_status::failed;
                r.reason = dst.error().message;
                co_return;
            }
            if (!*dst) {
                r.status = verify_status::missing;
                r.reason = fmt::format("{} is not at the destination (the source has {})",
                                       r.item.destination.str(), r.source_digest->str());
                co_return;
            }
            r.destination_digest = (*dst)->digest;
            if (r.destination_digest == r.source_digest) {
                r.reason = fmt::format("in sync ({})", r.source_digest->str());
                co_return;
            }
            if (!options_.platforms.empty()) {
                auto filtered = co_await filtered_digest(r.item.source);
                if (!filtered) {
                    r.status = verify_status::failed;
                    r.reason = filtered.error().message;
                    co_return;
                }
                if (!*filtered) {
                    r.status = verify_status::excluded;
                    r.reason = "the platform filter matches nothing in the source";
                    co_return;
                }
                if (**filtered == *r.destination_digest) {
                    r.reason = fmt::format("in sync after applying the platform filter ({})",
                                           r.destination_digest->str());
                    co_return;
                }
            }
            r.status = verify_status::different;
            r.reason = fmt::format("the destination has {}, the source {}", r.destination_digest->str(),
                                   r.source_digest->str());
        };
        co_await detail::for_each_bounded(items.size(), options_.per_registry * 2, check);
        for (auto& r : results) {
            compared_.insert(r.item.destination.str());
            add(std::move(r));
        }
    }

    // Destination tags, in repositories whole-repository and regex rules write, that no rule writes.
    asio::awaitable<void> find_extra(std::vector<sync_rule> rules, std::vector<sync_item> items) {
        std::map<std::string, std::set<std::string>> written; // destination repository -> tags
        for (const auto& item : items)
            if (!item.destination.tag.empty()) written[item.destination.name()].insert(item.destination.tag);
        struct target {
            sync_destination destination;
            const sync_rule* rule;
        };
        std::vector<target> targets;
        std::set<std::string> seen;
        for (const auto& rule : rules) {
            if (rule.source.selector != tag_selector::all && rule.source.selector != tag_selector::regex)
                continue;
            for (const auto& d : rule.destinations)
                if (seen.insert(d.name()).second) targets.push_back({d, &rule});
        }
        std::vector<std::vector<verify_result>> found(targets.size());
        std::function<asio::awaitable<void>(std::size_t)> list_one =
            [&](std::size_t i) -> asio::awaitable<void> {
            if (stopping()) co_return;
            const auto& t = targets[i];
            auto tags = co_await get(t.destination.registry).list_tags(t.destination.repository);
            if (!tags) {
                // A repository the rules never wrote has no tags, hence none extra.
                if (tags.error().code == errc::name_unknown || tags.error().code == errc::not_found)
                    co_return;
                warn(fmt::format("listing tags of {} to find extra ones: {}", t.destination.name(),
                                 tags.error().message));
                co_return;
            }
            if (auto invalid = remove_invalid_tags(*tags); !invalid.empty())
                warn(invalid_tags_warning(t.destination.name(), invalid));
            const auto& mine = written[t.destination.name()];
            for (const auto& tag : *tags) {
                if (mine.count(tag)) continue;
                verify_result r;
                r.item = rule_item(*t.rule, t.destination);
                r.item.destination.tag = tag;
                r.status = verify_status::extra;
                r.reason = fmt::format("{}:{} is not written by any rule (not a tag the source selects)",
                                       t.destination.name(), tag);
                found[i].push_back(std::move(r));
            }
        };
        co_await detail::for_each_bounded(targets.size(), options_.per_registry, list_one);
        for (auto& list : found)
            for (auto& r : list)
                add(std::move(r));
    }

    // --- deep ------------------------------------------------------------------------------------------

    asio::awaitable<void> deep_checks() {
        std::vector<std::size_t> to_walk;
        for (std::size_t i = 0; i < report_.images.size(); ++i)
            if (report_.images[i].status == verify_status::in_sync) to_walk.push_back(i);
        std::function<asio::awaitable<void>(std::size_t)> walk_one =
            [&](std::size_t k) -> asio::awaitable<void> {
            auto& r = report_.images[to_walk[k]];
            if (stopping()) {
                r.status = verify_status::interrupted;
                r.reason = "not read back: the run was stopped";
            } else {
                co_await deep_check(r);
            }
            if (options_.on_result) options_.on_result(r);
        };
        co_await detail::for_each_bounded(to_walk.size(), options_.proc, walk_one);
    }

    asio::awaitable<void> deep_check(verify_result& r) {
        const auto& dest = r.item.destination;
        auto key = dest.registry + "/" + dest.repository + "@" + r.destination_digest->str();
        auto name = dest.str();
        auto digest_now = *r.destination_digest;
        std::function<asio::awaitable<walk_result>()> work = [this, dest, name,
                                                              digest_now]() -> asio::awaitable<walk_result> {
            walk_result out;
            co_await walk(dest.registry, dest.repository, digest_now, name, 0, out);
            co_return out;
        };
        auto walked = co_await walks_.run(key, work);
        r.problems = walked.problems;
        r.blobs_checked = walked.blobs;
        r.bytes_checked = walked.bytes;
        if (!r.problems.empty()) {
            r.status = verify_status::damaged;
            r.reason = fmt::format("{} problem(s) in {} ({})", r.problems.size(), name, digest_now.str());
            co_return;
        }
        auto missing = co_await check_referrer_tags(r);
        auto absent = co_await check_referrers(r);
        missing.insert(missing.end(), absent.begin(), absent.end());
        if (!missing.empty()) {
            r.problems = std::move(missing);
            r.status = verify_status::incomplete;
            r.reason = fmt::format("{} referrer(s) of {} missing or different at the destination",
                                   r.problems.size(), r.source_digest->str());
            co_return;
        }
        r.reason = fmt::format("in sync ({}); {} blobs, {} bytes read back and checked",
                               r.destination_digest->str(), r.blobs_checked, r.bytes_checked);
    }

    // The tag-schema referrer tags the source lists for the verified digest must be at the destination with
    // the same digest. Those a whole-repository rule copies as tags of their own were compared already.
    asio::awaitable<std::vector<std::string>> check_referrer_tags(verify_result r) {
        std::vector<std::string> out;
        auto listed = source_tags_.find(r.item.source.registry + "/" + r.item.source.repository);
        if (listed == source_tags_.end()) co_return out;
        for (const auto& tag : listed->second) {
            if (subject_of_tag(tag) != r.source_digest) continue;
            reference src = r.item.source;
            src.tag = tag;
            src.digest.reset();
            reference dst = r.item.destination;
            dst.tag = tag;
            dst.digest.reset();
            if (compared_.count(dst.str())) continue;
            auto s = co_await head_source(src);
            if (!s || !*s) continue; // gone from the source meanwhile: nothing to hold the destination to
            auto d = co_await get(dst.registry).head_manifest(dst.repository, tag);
            if (!d)
                out.push_back(fmt::format("referrer tag {} of {}: {}", dst.str(), r.item.destination.str(),
                                          d.error().message));
            else if (!*d)
                out.push_back(
                    fmt::format("referrer tag {} of {} is missing at the destination (the source has "
                                "{})",
                                dst.str(), r.item.destination.str(), (*s)->digest.str()));
            else if ((*d)->digest != (*s)->digest)
                out.push_back(fmt::format("referrer tag {} of {} is {} at the destination, {} at the source",
                                          dst.str(), r.item.destination.str(), (*d)->digest.str(),
                                          (*s)->digest.str()));
        }
        co_return out;
    }

    // The referrers the source lists for the verified digest (the referrers API or the tag schema, and theirs
    // in turn) must be at the destination by digest. Cosign tags are compared by check_referrer_tags.
    asio::awaitable<std::vector<std::string>> check_referrers(verify_result r) {
        std::vector<std::string> out;
        const auto& source = r.item.source;
        if (auto listed = source_tags_.find(source.registry + "/" + source.repository);
            listed != source_tags_.end())
            referrers_.set_tags(source.registry, source.repository, listed->second);
        std::vector<digest> subjects{*r.source_digest};
        auto found = co_await discover_referrers(get(source.registry), source.repository, std::move(subjects),
                                                 referrers_);
        if (!found) {
            out.push_back(
                fmt::format("listing the referrers of {}: {}", source.str(), found.error().message));
            co_return out;
        }
        const auto& dst = r.item.destination;
        for (const auto& node : found->nodes) {
            if (node.via == referrer_via::cosign_tag) continue;
            auto d = co_await get(dst.registry).head_manifest(dst.repository, node.desc.digest.str());
            if (!d)
                out.push_back(fmt::format("referrer {} of {}: {}", node.desc.digest.str(), dst.str(),
                                          d.error().message));
            else if (!*d)
                out.push_back(fmt::format("referrer {} ({}) of {} is missing at the destination",
                                          node.desc.digest.str(), node.desc.artifact_type, dst.str()));
        }
        co_return out;
    }

    // One manifest at the destination, and everything under it. `name` says which image, for messages.
    asio::awaitable<void> walk(std::string registry_name, std::string repository, digest d, std::string name,
                               int depth, walk_result& out) {
        if (depth > max_depth) {
            out.problems.push_back(fmt::format("{}: indexes nested more than {} deep", name, max_depth));
            co_return;
        }
        auto m = co_await get(registry_name).get_manifest(repository, d.str());
        if (!m) {
            out.problems.push_back(fmt::format("manifest {} of {}: {}", d.str(), name, m.error().message));
            co_return;
        }
        if (m->kind == manifest_kind::index) {
            for (const auto& child : m->manifests) {
                auto what = child.platform
                                ? fmt::format("{} ({} {})", name, child.platform->str(), child.digest.str())
                                : fmt::format("{} ({})", name, child.digest.str());
                co_await walk(registry_name, repository, child.digest, what, depth + 1, out);
            }
            co_return;
        }
        co_await check_image(registry_name, repository, *m, name, out);
    }

    asio::awaitable<void> check_image(std::string registry_name, std::string repository, manifest m,
                                      std::string name, walk_result& out) {
        std::vector<std::string> diff_ids;
        bool diff_ids_known = false;
        if (m.config) {
            auto config = co_await check_blob(registry_name, repository, *m.config, true);
            count(config, out);
            if (config.problem)
                out.problems.push_back(
                    fmt::format("config {} of {}: {}", m.config->digest.str(), name, *config.problem));
            else
                diff_ids_known = read_diff_ids(config.config, diff_ids);
        }
        std::vector<blob_check> layers(m.layers.size());
        std::function<asio::awaitable<void>(std::size_t)> check_layer =
            [&](std::size_t i) -> asio::awaitable<void> {
            const auto& layer = m.layers[i];
            // Foreign layers are fetched from their URLs, not from the registry, and sync leaves them out.
            if (is_foreign_layer(layer.media_type) || !layer.urls.empty()) co_return;
            layers[i] = co_await check_blob(registry_name, repository, layer, false);
        };
        co_await detail::for_each_bounded(m.layers.size(), options_.jobs, check_layer);
        for (std::size_t i = 0; i < m.layers.size(); ++i) {
            const auto& layer = m.layers[i];
            const auto& c = layers[i];
            count(c, out);
            if (c.problem) {
                out.problems.push_back(
                    fmt::format("layer {} {} of {}: {}", i, layer.digest.str(), name, *c.problem));
                continue;
            }
            if (!c.digests || !c.digests->uncompressed || !diff_ids_known ||
                diff_ids.size() != m.layers.size() || !layer_compression_of(layer.media_type))
                continue;
            if (c.digests->uncompressed->str() != diff_ids[i])
                out.problems.push_back(fmt::format(
                    "layer {} {} of {}: uncompressed content hashes to {}, config diff_id says {}", i,
                    layer.digest.str(), name, c.digests->uncompressed->str(), diff_ids[i]));
        }
    }

    static void count(const blob_check& c, walk_result& out) {
        if (c.bytes > 0 || c.digests) {
            ++out.blobs;
            out.bytes += static_cast<std::uint64_t>(c.bytes);
        }
    }

    static bool read_diff_ids(const std::string& config, std::vector<std::string>& out) {
        auto j = nlohmann::json::parse(config, nullptr, false);
        if (!j.is_object()) return false;
        auto rootfs = j.find("rootfs");
        if (rootfs == j.end() || !rootfs->is_object()) return false;
        auto ids = rootfs->find("diff_ids");
        if (ids == rootfs->end() || !ids->is_array()) return false;
        for (const auto& id : *ids) {
            if (!id.is_string()) return false;
            out.push_back(id.get<std::string>());
        }
        return true;
    }

    // Reads a blob once per run and destination repository, whatever number of images share it.
    asio::awaitable<blob_check> check_blob(std::string registry_name, std::string repository, descriptor desc,
                                           bool keep) {
        auto key = registry_name + "/" + repository + "@" + desc.digest.str();
        std::function<asio::awaitable<blob_check>()> work = [this, registry_name, repository, desc,
                                                             keep]() -> asio::awaitable<blob_check> {
            co_return co_await read_blob(registry_name, repository, desc, keep);
        };
        co_return co_await blobs_.run(key, work);
    }

    asio::awaitable<blob_check> read_blob(std::string registry_name, std::string repository, descriptor desc,
                                          bool keep) {
        blob_check out;
        if (keep && desc.size > max_config_size) {
            out.problem =
                fmt::format("{} bytes; configs of at most {} bytes are read", desc.size, max_config_size);
            co_return out;
        }
        auto compression = layer_compression_of(desc.media_type);
        layer_digester digester(compression.value_or(layer_compression::none));
        auto reader = co_await get(registry_name).get_blob(repository, desc);
        if (!reader) {
            out.problem = reader.error().message;
            co_return out;
        }
        std::vector<std::byte> buffer(read_chunk);
        for (;;) {
            auto n = co_await (*reader)->read(buffer);
            if (!n) {
                out.problem = n.error().message;
                co_return out;
            }
            if (*n == 0) break;
            out.bytes += static_cast<std::int64_t>(*n);
            if (keep && out.bytes <= max_config_size)
                out.config.append(reinterpret_cast<const char*>(buffer.data()), *n);
            // A decompression failure is in finish(); reading on hashes the stored bytes, which say whether
            // the blob itself is damaged.
            (void)digester.update(std::span<const std::byte>(buffer.data(), *n));
        }
        auto digests = digester.finish();
        if (digests.stored != desc.digest || (desc.size >= 0 && digests.stored_size != desc.size)) {
            out.problem =
                fmt::format("stored bytes hash to {} ({} bytes); the manifest says {} ({} bytes)",
                            digests.stored.str(), digests.stored_size, desc.digest.str(), desc.size);
            co_return out;
        }
        if (compression && digests.failure) {
            out.problem = fmt::format("the stored bytes match the digest, but {}", digests.failure->message);
            co_return out;
        }
        out.digests = std::move(digests);
        co_return out;
    }

    registry_provider& provider_;
    verify_options options_;
    tag_lists source_tags_;
    std::map<std::string, std::string> list_failures_;
    run_once<result<std::optional<descriptor>>> source_heads_;
    run_once<walk_result> walks_;
    run_once<blob_check> blobs_;
    std::set<std::string> compared_; ///< destination references the tag comparison covered
    referrers_context referrers_;    ///< every referrer type, for --deep
    verify_report report_;
};

} // namespace

asio::awaitable<result<verify_report>> run_verify(std::vector<sync_rule> rules, registry_provider& registries,
                                                  verify_options options) {
    verifier v(registries, std::move(options));
    co_return co_await v.run(std::move(rules));
}

} // namespace libregistry
