#pragma once
// --timeout, --min-rate, --min-rate-window and --max-wait: how long `copy`, `sync`, `jobs` and `sync-image`
// may take, how slowly a transfer may move, and how long a registry's rate limit is waited for.
#include "session.hpp"

#include <CLI/CLI.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace syncer {

struct run_limit_flags {
    std::string timeout;         ///< empty: no limit
    std::string min_rate;        ///< empty: the library's default
    std::string min_rate_window; ///< empty: the library's default
    std::string max_wait;        ///< empty: the library's default
    bool offered = false;        ///< the command has these flags (add_run_limit_flags was called)
};

void add_run_limit_flags(CLI::App& cmd, run_limit_flags& flags);

struct run_limits {
    std::chrono::milliseconds timeout{0}; ///< zero: no limit (session::timeout)
    /// For session's constructor: set when the command offers the flags, so that only then do messages
    /// name them.
    std::optional<libregistry::min_transfer_rate> min_rate;
    std::optional<std::chrono::milliseconds> max_wait; ///< unset: remote_options' default (session::max_wait)
};

/// The flags checked and parsed; throws usage_error naming the flag.
run_limits parse_run_limits(const run_limit_flags& flags);

} // namespace syncer
