#include "libregistry/sync/blob_ledger.hpp"

#include "client/detail/single_flight.hpp"

#include <algorithm>
#include <map>
#include <vector>

namespace libregistry {

namespace {

std::string key_of(std::string_view registry, const digest& d) {
    return std::string(registry) + "@" + d.str();
}

} // namespace

struct blob_ledger::impl {
    std::map<std::string, std::vector<std::string>, std::less<>> holders; ///< registry@digest -> repositories
    // The value is never read: a waiter decides again from `holders`, since the blob it waited for may have
    // gone to another repository of the registry (then it mounts) or not arrived at all (then it sends).
    detail::single_flight<bool> transfers; ///< registry@digest, and `registry@digest repository` for mounts
};

struct blob_ledger::lease::state {
    blob_ledger* ledger;
    std::string registry;
    std::string repository;
    digest blob;
    detail::single_flight<bool>::lease flight;
};

blob_ledger::blob_ledger() : impl_(std::make_unique<impl>()) {}
blob_ledger::~blob_ledger() = default;

std::optional<std::string> blob_ledger::holder(std::string_view registry, const digest& d,
                                               std::string_view except) const {
    auto it = impl_->holders.find(key_of(registry, d));
    if (it == impl_->holders.end()) return std::nullopt;
    for (const auto& repo : it->second)
        if (repo != except) return repo;
    return std::nullopt;
}

bool blob_ledger::holds(std::string_view registry, std::string_view repository, const digest& d) const {
    auto it = impl_->holders.find(key_of(registry, d));
    return it != impl_->holders.end() &&
           std::find(it->second.begin(), it->second.end(), repository) != it->second.end();
}

void blob_ledger::record(std::string_view registry, std::string_view repository, const digest& d) {
    auto& repos = impl_->holders[key_of(registry, d)];
    if (std::find(repos.begin(), repos.end(), repository) == repos.end()) repos.emplace_back(repository);
}

boost::asio::awaitable<std::optional<blob_ledger::lease>>
blob_ledger::claim(std::string registry, std::string repository, digest d) {
    for (;;) {
        if (holds(registry, repository, d)) co_return std::nullopt;
        // Bytes go into a registry once (one flight per blob and registry); once a repository holds the
        // blob, the rest are mounts, which send nothing: one flight per repository, so they go at once.
        auto key = key_of(registry, d);
        if (holder(registry, d, repository)) key.append(" ").append(repository);
        if (auto flight = co_await impl_->transfers.try_lead(key)) {
            auto s = std::make_unique<lease::state>(lease::state{
                this, std::move(registry), std::move(repository), std::move(d), std::move(*flight)});
            co_return lease(std::move(s));
        }
        co_await impl_->transfers.wait(key);
    }
}

blob_ledger::lease::lease(std::unique_ptr<state> s) : state_(std::move(s)) {}
blob_ledger::lease::lease(lease&&) noexcept = default;
blob_ledger::lease::~lease() = default;

void blob_ledger::lease::arrived() {
    if (!state_) return;
    state_->ledger->record(state_->registry, state_->repository, state_->blob);
    state_->flight.finish(true);
    state_.reset();
}

} // namespace libregistry
