// Listings that page with `Link` (distribution-spec "Listing tags", the catalog extension, and "Listing
// Referrers" with its tag schema fallback).
#include "libregistry/client/remote_registry.hpp"
#include "libregistry/core/link_header.hpp"
#include "libregistry/core/media_type.hpp"
#include "libregistry/core/referrers.hpp"

#include "client/session.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <set>
#include <string_view>

namespace libregistry {

namespace asio = boost::asio;
using detail::api_call;
using detail::verb;

namespace {

// A registry decides how a listing pages; these bound what it can make syncer hold or send
// (docs/registries.md).
constexpr std::size_t max_listed_items = 1000000;
constexpr std::size_t max_listed_bytes = 64 * 1024 * 1024;
constexpr std::size_t max_listed_pages = 10000;

/// Where a paged listing of `what` goes after `target`: nullopt when `next` (its Link) ends it, or an error
/// when the registry would make syncer hold more than the bounds or read a page again. `items` and `bytes`
/// are the totals so far; `advice` ends the too-large message.
result<std::optional<std::string>> next_page(detail::registry_session& s, const std::string& what,
                                             const std::string& target, std::optional<std::string> next,
                                             const std::set<std::string>& visited, std::size_t items,
                                             std::size_t bytes, std::string_view advice) {
    if (next && *next == target) next.reset(); // a last page that links to itself ends the listing
    if (items > max_listed_items || bytes > max_listed_bytes || (next && visited.size() >= max_listed_pages))
        return make_error(
            errc::too_large,
            fmt::format("{} has more than {} entries, {} MiB or {} pages; not reading further{}", what,
                        max_listed_items, max_listed_bytes >> 20, max_listed_pages, advice));
    if (next && visited.count(*next))
        return make_error(errc::bad_response,
                          fmt::format("{}: the registry's Link header leads back to a page already read "
                                      "({}); the listing would never end",
                                      what, s.describe(verb::get, *next)));
    return next;
}

asio::awaitable<result<std::vector<std::string>>> paged_list(detail::registry_session& s, std::string first,
                                                             std::string repository,
                                                             std::vector<scope> scopes, std::string key) {
    std::vector<std::string> out;
    std::set<std::string> visited;
    std::size_t bytes = 0;
    auto what = repository.empty() ? fmt::format("the repository list of {}", s.name())
                                   : fmt::format("the tag list of {}/{}", s.name(), repository);
    std::string target = std::move(first);
    for (;;) {
        visited.insert(target);
        api_call c;
        c.target = target;
        c.repository = repository;
        c.scopes = scopes;
        auto resp = co_await s.send(c);
        if (!resp) co_return resp.error();
        if (resp->status != 200) co_return s.error_from(*resp, verb::get, target);
        auto json = nlohmann::json::parse(resp->body, nullptr, false);
        if (json.is_discarded() || !json.is_object())
            co_return make_error(
                errc::bad_response,
                fmt::format("{}: the registry's answer is not a JSON object", s.describe(verb::get, target)));
        auto items = json.find(key);
        if (items != json.end() && !items->is_null()) {
            if (!items->is_array())
                co_return make_error(errc::bad_response, fmt::format("{}: \"{}\" is not a list",
                                                                     s.describe(verb::get, target), key));
            for (const auto& item : *items)
                if (item.is_string()) out.push_back(item.get<std::string>());
        }
        bytes += resp->body.size();
        auto next = next_page(s, what, target, next_link(resp->header("Link")), visited, out.size(), bytes,
                              ". List fewer tags (name them, or use a tag regex) for it");
        if (!next) co_return next.error();
        if (!*next) break;
        target = std::move(**next);
    }
    co_return out;
}

/// Whether an `OCI-Filters-Applied` value (a comma-separated list) names `filter`.
bool filter_applied(std::string_view header, std::string_view filter) {
    while (!header.empty()) {
        const auto comma = header.find(',');
        auto item = header.substr(0, comma);
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t'))
            item.remove_prefix(1);
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t'))
            item.remove_suffix(1);
        if (item == filter) return true;
        if (comma == std::string_view::npos) break;
        header.remove_prefix(comma + 1);
    }
    return false;
}

} // namespace

asio::awaitable<result<std::vector<std::string>>> remote_registry::list_tags(std::string repository) {
    if (auto ok = detail::check_names(session_->name(), repository); !ok) co_return ok.error();
    auto first = fmt::format("/v2/{}/tags/list?n=1000", repository);
    std::vector<scope> scopes{pull_scope(repository)};
    auto r = co_await paged_list(*session_, std::move(first), repository, std::move(scopes), "tags");
    if (!r && r.error().code == errc::not_found) {
        auto e = r.error();
        e.code = make_error_code(errc::name_unknown);
        e.message = fmt::format("repository {}/{} not found: {}", session_->name(), repository, e.message);
        co_return e;
    }
    co_return r;
}

asio::awaitable<result<referrer_list>>
remote_registry::list_referrers(std::string repository, digest subject,
                                std::optional<std::string> artifact_type, bool tag_schema) {
    auto& s = *session_;
    if (auto ok = detail::check_names(s.name(), repository, subject.str()); !ok) co_return ok.error();
    const bool filtering = artifact_type && !artifact_type->empty();
    const auto what = fmt::format("the referrers of {}/{}@{}", s.name(), repository, subject.str());
    referrer_list out;
    out.source = referrers_source::api;
    out.filtered_by_registry = filtering;
    std::set<std::string> visited;
    std::size_t bytes = 0;
    std::string target = referrers_target(repository, subject, artifact_type);
    // Until an answer says whether the registry has the API, one listing at a time finds out (the lease is
    // given back when this listing ends, waking the others).
    std::optional<detail::single_flight<bool>::lease> probing;
    while (!s.referrers_api_known()) {
        auto lead = co_await s.referrers_probe().try_lead("referrers API");
        if (lead) {
            probing.emplace(std::move(*lead));
            break;
        }
        co_await s.referrers_probe().wait("referrers API");
    }
    // A registry that lacked the API once lacks it for the whole run: one request per subject, not two.
    bool api_absent = s.referrers_api_absent();
    bool remember_absent = true;
    while (!api_absent) {
        const bool first = visited.empty();
        visited.insert(target);
        api_call c;
        c.target = target;
        c.headers.emplace_back("Accept", std::string(media_types::oci_index));
        c.repository = repository;
        c.scopes = {pull_scope(repository)};
        c.body_limit = max_manifest_size;
        auto resp = co_await s.send(c);
        if (!resp) co_return resp.error();
        if (first && resp->status == 404) {
            api_absent = true;
            // A registry with the API may answer NAME_UNKNOWN for a repository it does not have: that says
            // nothing about the API, so only this listing falls back.
            remember_absent = s.error_from(*resp, verb::get, target).code != errc::name_unknown;
            break;
        }
        if (resp->status != 200) co_return s.error_from(*resp, verb::get, target);
        bytes += resp->body.size();
        const auto filters = resp->header("OCI-Filters-Applied");
        auto next = next_link(resp->header("Link"));
        auto page = parse_referrers(std::move(resp->body), resp->header("Content-Type"));
        if (!page) {
            // A registry without the API may answer its unknown paths with a 200 of something else.
            if (first) {
                api_absent = true;
                break;
            }
            co_return make_error(errc::bad_response,
                                 fmt::format("{}: a later page of {} is not an image index: {}",
                                             s.describe(verb::get, target), what, page.error().message));
        }
        if (first) s.note_referrers_api_present();
        if (!filter_applied(filters, "artifactType")) out.filtered_by_registry = false;
        out.descriptors.insert(out.descriptors.end(), std::make_move_iterator(page->begin()),
                               std::make_move_iterator(page->end()));
        auto following =
            next_page(s, what, target, std::move(next), visited, out.descriptors.size(), bytes, "");
        if (!following) co_return following.error();
        if (!*following) break;
        target = std::move(**following);
    }
    if (api_absent) {
        if (remember_absent) s.note_referrers_api_absent();
        out.filtered_by_registry = false;
        if (!tag_schema) {
            out.source = referrers_source::none;
            co_return out;
        }
        const auto tag = referrers_tag(subject);
        auto index = co_await get_manifest(repository, tag);
        if (!index) {
            if (index.error().code != errc::manifest_unknown) co_return index.error();
            out.source = referrers_source::none;
            co_return out;
        }
        if (index->kind != manifest_kind::index)
            co_return make_error(
                errc::bad_response,
                fmt::format(
                    "{} has no referrers API, and its tag schema tag {}/{}:{} holds a {}, not an index of "
                    "referrers",
                    what, s.name(), repository, tag, index->media_type));
        out.source = referrers_source::tag_schema;
        out.descriptors = std::move(index->manifests);
    }
    out.descriptors = filter_artifact_type(std::move(out.descriptors), artifact_type);
    co_return out;
}

asio::awaitable<result<std::vector<std::string>>> remote_registry::catalog() {
    scope s;
    s.type = "registry";
    s.name = "catalog";
    s.actions = {"*"};
    std::vector<scope> scopes{s};
    co_return co_await paged_list(*session_, "/v2/_catalog?n=1000", "", std::move(scopes), "repositories");
}

} // namespace libregistry
