#include "libregistry/sync/safe_delete.hpp"

#include "libregistry/core/media_type.hpp"
#include "libregistry/core/referrers.hpp"
#include "libregistry/sync/prune_plan.hpp"

#include "client/detail/for_each_bounded.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <functional>

namespace libregistry {

namespace asio = boost::asio;

std::string_view to_string(delete_status s) {
    switch (s) {
    case delete_status::deleted:
        return "deleted";
    case delete_status::planned:
        return "planned";
    case delete_status::absent:
        return "absent";
    case delete_status::left:
        return "left";
    case delete_status::failed:
        return "failed";
    }
    return "unknown";
}

namespace {

// HEADs of kept tags run a few at a time: a repository may keep hundreds.
constexpr std::size_t parallel_heads = 8;

std::string join(const std::vector<std::string>& names) {
    constexpr std::size_t shown = 5;
    std::string out;
    for (std::size_t i = 0; i < names.size() && i < shown; ++i)
        out += (i ? ", " : "") + names[i];
    if (names.size() > shown) out += fmt::format(" and {} more", names.size() - shown);
    return out;
}

delete_result failed(std::string reason, bool refuses = false) {
    return delete_result{delete_status::failed, std::move(reason), std::nullopt, refuses};
}

} // namespace

safe_deleter::safe_deleter(registry& r, std::string repository, std::vector<std::string> kept,
                           std::vector<digest> kept_digests)
    : registry_(r), repository_(std::move(repository)), kept_(std::move(kept)) {
    for (auto& d : kept_digests)
        needed_by_[d].push_back("an image this run writes by digest");
}

asio::awaitable<result<void>> safe_deleter::learn_kept() {
    if (learned_) co_return result<void>{};
    std::optional<error> failure;
    std::vector<std::optional<descriptor>> heads(kept_.size());
    std::function<asio::awaitable<void>(std::size_t)> head = [&](std::size_t i) -> asio::awaitable<void> {
        auto d = co_await registry_.head_manifest(repository_, kept_[i]);
        if (!d) {
            if (!failure) failure = d.error();
            co_return;
        }
        heads[i] = *d;
    };
    co_await detail::for_each_bounded(kept_.size(), parallel_heads, head);
    if (failure) co_return *failure;
    for (std::size_t i = 0; i < kept_.size(); ++i) {
        const auto& tag = kept_[i];
        if (auto subject = subject_of_tag(tag))
            needed_by_[*subject].push_back(fmt::format("referrer {}", tag));
        if (!heads[i]) continue; // deleted meanwhile: nothing to protect
        needed_by_[heads[i]->digest].push_back(tag);
        if (kind_of(heads[i]->media_type) != manifest_kind::index) continue;
        // Deleting an entry of a kept index would break the index.
        auto index = co_await registry_.get_manifest(repository_, heads[i]->digest.str());
        if (!index) co_return index.error();
        for (const auto& entry : index->manifests)
            needed_by_[entry.digest].push_back(fmt::format("entry of {}", tag));
    }
    learned_ = true;
    co_return result<void>{};
}

asio::awaitable<delete_result> safe_deleter::delete_tag(std::string tag, bool force) {
    if (!deletes_by_digest_only_) {
        auto r = co_await registry_.delete_tag(repository_, tag);
        if (r) {
            if (*r) co_return delete_result{delete_status::deleted, "tag deleted", std::nullopt, false};
            co_return delete_result{delete_status::absent, "gone already", std::nullopt, false};
        }
        if (r.error().code != errc::unsupported) co_return failed(r.error().message);
        // Asked once per repository: the answer will not change within a run.
        deletes_by_digest_only_ = true;
    }
    auto head = co_await registry_.head_manifest(repository_, tag);
    if (!head) co_return failed(head.error().message);
    if (!*head) co_return delete_result{delete_status::absent, "gone already", std::nullopt, false};
    auto d = (*head)->digest;
    co_return co_await delete_by_digest(d, tag, force);
}

asio::awaitable<delete_result> safe_deleter::delete_digest(digest d, bool force) {
    co_return co_await delete_by_digest(d, d.str(), force);
}

asio::awaitable<delete_result> safe_deleter::delete_by_digest(digest d, std::string what, bool force) {
    if (auto learned = co_await learn_kept(); !learned)
        co_return failed(fmt::format("not deleted: checking which tags of {} share its digest failed: {}",
                                     repository_, learned.error().message));
    if (auto needed = needed_by_.find(d); needed != needed_by_.end() && !force) {
        auto names = needed->second;
        std::sort(names.begin(), names.end());
        auto reason = what == d.str()
                          ? fmt::format("left {} in place: {} (kept) still need it", what, join(names))
                          : fmt::format("left {} in place: {}/{} deletes by digest only, and deleting {} "
                                        "would also take away {} (kept)",
                                        what, registry_.name(), repository_, d.str(), join(names));
        co_return delete_result{delete_status::left, std::move(reason), d, false};
    }
    auto r = co_await registry_.delete_manifest(repository_, d);
    if (!r) co_return failed(r.error().message, r.error().code == errc::unsupported);
    if (!*r) co_return delete_result{delete_status::absent, "gone already", d, false};
    co_return delete_result{delete_status::deleted, fmt::format("deleted by digest {}", d.str()), d, false};
}

} // namespace libregistry
