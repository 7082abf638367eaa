#pragma once
// --timeout, --min-rate and --min-rate-window: how long `copy`, `sync`, `jobs` and `sync-image` may take, and
// how slowly a transfer may move.
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
    bool offered = false;        ///< the command has these flags (add_run_limit_flags was called)
};

void add_run_limit_flags(CLI::App& cmd, run_limit_flags& flags);

struct run_limits {
    std::chrono::milliseconds timeout{0}; ///< zero: no limit (session::timeout)
    /// For session's constructor: set when the command offers the flags, so that only then do messages
    /// name them.
    std::optional<libregistry::min_transfer_rate> min_rate;
};

/// The flags checked and parsed; throws usage_error naming the flag.
run_limits parse_run_limits(const run_limit_flags& flags);

} // namespace syncer
