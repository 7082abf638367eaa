#pragma once
// One destination of a copy as the copy engine tracks it, and what happened there.
#include "libregistry/sync/copy.hpp"

#include "client/detail/semaphore.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <fmt/format.h>

#include <optional>
#include <string>
#include <vector>

namespace libregistry::detail {

struct target {
    target(registry& d, reference r, std::string ref, std::size_t jobs, boost::asio::any_io_executor ex)
        : destination(d), to(std::move(r)), push_ref(std::move(ref)), transfers(ex, jobs) {}

    registry& destination;
    reference to;
    std::string push_ref;
    std::string context; ///< "copying SRC to DST", prefixed to failures inside the copy
    std::optional<std::optional<digest>> observed; ///< copy_target::observed
    copy_stats stats;
    std::optional<error> failure;
    bool done = false; ///< up to date, or failed before the copy started
    async_semaphore transfers;

    const std::string& repository() const { return to.repository; }
    void fail(const error& e) {
        if (failure) return;
        failure = e;
        failure->message = fmt::format("{}: {}", context, e.message);
    }
};

/// Why a target stopped short when copy_options::stop was requested.
inline error stopped(std::string what) {
    return make_error(errc::cancelled, fmt::format("stopped before {}", what));
}

/// The targets of `group` that have not failed.
inline std::vector<target*> alive(const std::vector<target*>& group) {
    std::vector<target*> out;
    for (auto* t : group)
        if (!t->failure) out.push_back(t);
    return out;
}

} // namespace libregistry::detail
