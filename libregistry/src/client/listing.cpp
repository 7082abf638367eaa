// Listings that page with `Link` (distribution-spec "Listing tags", and the catalog extension).
#include "libregistry/client/remote_registry.hpp"
#include "libregistry/core/link_header.hpp"

#include "client/session.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <set>

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
        auto next = next_link(resp->header("Link"));
        if (next && *next == target) next.reset(); // a last page that links to itself ends the listing
        if (out.size() > max_listed_items || bytes > max_listed_bytes ||
            (next && visited.size() >= max_listed_pages))
            co_return make_error(
                errc::too_large,
                fmt::format("{} has more than {} entries, {} MiB or {} pages; not reading "
                            "further. List fewer tags (name them, or use a tag regex) for it",
                            what, max_listed_items, max_listed_bytes >> 20, max_listed_pages));
        if (!next) break;
        if (visited.count(*next))
            co_return make_error(
                errc::bad_response,
                fmt::format("{}: the registry's Link header leads back to a page already read "
                            "({}); the listing would never end",
                            what, s.describe(verb::get, *next)));
        target = *next;
    }
    co_return out;
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

asio::awaitable<result<std::vector<std::string>>> remote_registry::catalog() {
    scope s;
    s.type = "registry";
    s.name = "catalog";
    s.actions = {"*"};
    std::vector<scope> scopes{s};
    co_return co_await paged_list(*session_, "/v2/_catalog?n=1000", "", std::move(scopes), "repositories");
}

} // namespace libregistry
