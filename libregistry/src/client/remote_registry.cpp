#include "libregistry/client/remote_registry.hpp"

#include "client/session.hpp"

#include <fmt/format.h>

namespace libregistry {

remote_registry::remote_registry(http::client& client, remote_options options)
    : session_(std::make_unique<detail::registry_session>(client, std::move(options))) {}

remote_registry::~remote_registry() = default;

std::string remote_registry::name() const {
    return session_->name();
}

boost::asio::awaitable<void> remote_registry::prepare(std::vector<std::string> repositories,
                                                      repository_access access) {
    co_await session_->prepare(std::move(repositories), access == repository_access::push);
}

boost::asio::awaitable<result<void>> remote_registry::check_credentials() {
    detail::api_call c;
    c.target = "/v2/";
    auto resp = co_await session_->send(std::move(c));
    if (!resp) co_return resp.error();
    if (resp->status == 200) co_return result<void>{};
    if (resp->status == 401)
        co_return make_error(
            errc::unauthorized,
            fmt::format("{} refused the credentials (401)", session_->describe(detail::verb::get, "/v2/")),
            401);
    co_return session_->error_from(*resp, detail::verb::get, "/v2/");
}

void remote_registry::on_throttle(std::function<void()> observer) {
    session_->on_throttle(std::move(observer));
}

remote_statistics remote_registry::stats() const {
    remote_statistics out = session_->stats();
    const auto transport = session_->client().stats(session_->name());
    out.connections = transport.connections_opened;
    out.tls_handshakes = transport.tls_handshakes;
    out.tls_resumed = transport.tls_resumed;
    return out;
}

} // namespace libregistry
