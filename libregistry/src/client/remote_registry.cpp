#include "libregistry/client/remote_registry.hpp"

#include "client/session.hpp"

namespace libregistry {

remote_registry::remote_registry(http::client& client, remote_options options)
    : session_(std::make_unique<detail::registry_session>(client, std::move(options))) {}

remote_registry::~remote_registry() = default;

std::string remote_registry::name() const {
    return session_->name();
}

remote_statistics remote_registry::stats() const noexcept {
    return session_->stats();
}

} // namespace libregistry
