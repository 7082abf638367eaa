#include "libregistry/client/credential_source.hpp"

#include "client/detail/single_flight.hpp"

#include <fmt/format.h>

#include <map>

namespace libregistry {
namespace {

namespace asio = boost::asio;

error in_file(const auth_file& file, std::string_view where, const error& e) {
    return make_error(errc::credentials_error, fmt::format("{}: {}: {}", file.path(), where, e.message));
}

class fixed final : public credential_source {
public:
    explicit fixed(credential c) : cred_(std::move(c)) {}
    asio::awaitable<result<std::optional<credential>>> find(std::string, std::string) override {
        co_return std::optional<credential>(cred_);
    }

private:
    credential cred_;
};

class rules final : public credential_source {
public:
    explicit rules(std::vector<credential_rule> r) : rules_(std::move(r)) {}
    asio::awaitable<result<std::optional<credential>>> find(std::string registry,
                                                            std::string repository) override {
        if (const auto* rule = match_credential_rule(rules_, registry, repository))
            co_return std::optional<credential>(rule->cred);
        co_return std::optional<credential>();
    }

private:
    std::vector<credential_rule> rules_;
};

class auth_files final : public credential_source {
public:
    auth_files(std::vector<std::string> files, std::shared_ptr<credential_helper_runner> helpers)
        : paths_(std::move(files)), helpers_(std::move(helpers)) {}

    asio::awaitable<result<std::optional<credential>>> find(std::string registry,
                                                            std::string repository) override {
        auto key = registry + "/" + repository;
        if (auto it = answers_.find(key); it != answers_.end()) co_return it->second;
        std::function<asio::awaitable<result<std::optional<credential>>>()> search = [&]() {
            return search_files(registry, repository);
        };
        auto found = co_await lookups_.run(key, search);
        if (found) answers_.emplace(key, *found);
        co_return found;
    }

private:
    asio::awaitable<result<std::optional<credential>>> search_files(std::string registry,
                                                                    std::string repository) {
        for (std::size_t i = 0; i < paths_.size(); ++i) {
            if (files_.size() <= i) {
                auto file = auth_file::load(paths_[i]);
                if (!file) co_return file.error();
                files_.push_back(std::move(*file));
            }
            if (!helpers_) helpers_ = std::make_shared<credential_helper_runner>();
            auto found = co_await lookup_credentials(files_[i], registry, repository, *helpers_);
            if (!found || *found) co_return found;
        }
        co_return std::optional<credential>();
    }

    std::vector<std::string> paths_;
    std::vector<auth_file> files_; ///< the first files_.size() of paths_, parsed
    std::shared_ptr<credential_helper_runner> helpers_;
    std::map<std::string, std::optional<credential>> answers_;
    detail::single_flight<result<std::optional<credential>>> lookups_;
};

class chain final : public credential_source {
public:
    explicit chain(std::vector<std::shared_ptr<credential_source>> s) : sources_(std::move(s)) {}
    asio::awaitable<result<std::optional<credential>>> find(std::string registry,
                                                            std::string repository) override {
        for (const auto& source : sources_) {
            auto found = co_await source->find(registry, repository);
            if (!found || *found) co_return found;
        }
        co_return std::optional<credential>();
    }

private:
    std::vector<std::shared_ptr<credential_source>> sources_;
};

} // namespace

std::shared_ptr<credential_source> fixed_credentials(credential cred) {
    return std::make_shared<fixed>(std::move(cred));
}

std::shared_ptr<credential_source> credential_rules_source(std::vector<credential_rule> r) {
    return std::make_shared<rules>(std::move(r));
}

std::shared_ptr<credential_source> auth_files_source(std::vector<std::string> files,
                                                     std::shared_ptr<credential_helper_runner> helpers) {
    return std::make_shared<auth_files>(std::move(files), std::move(helpers));
}

std::shared_ptr<credential_source> first_of(std::vector<std::shared_ptr<credential_source>> sources) {
    return std::make_shared<chain>(std::move(sources));
}

asio::awaitable<result<std::optional<credential>>> lookup_credentials(const auth_file& file,
                                                                      std::string registry,
                                                                      std::string repository,
                                                                      credential_helper_runner& helpers) {
    auto plan = file.resolve(registry, repository);
    if (!plan.helper.empty()) {
        auto r = co_await helpers.get(plan.helper, plan.server);
        if (!r) co_return in_file(file, fmt::format("credHelpers[\"{}\"]", registry), r.error());
        if (*r) co_return r;
    }
    if (plan.inline_entry) co_return plan.inline_entry;
    if (!plan.store.empty()) {
        auto r = co_await helpers.get(plan.store, plan.server);
        if (!r) co_return in_file(file, "credsStore", r.error());
        co_return r;
    }
    co_return std::optional<credential>();
}

} // namespace libregistry
