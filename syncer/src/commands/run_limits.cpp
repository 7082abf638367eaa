#include "commands/run_limits.hpp"

#include <fmt/format.h>

namespace syncer {

using namespace libregistry;

void add_run_limit_flags(CLI::App& cmd, run_limit_flags& flags) {
    const min_transfer_rate defaults;
    flags.offered = true;
    cmd.add_option("--timeout", flags.timeout,
                   "Stop the run after DURATION (e.g. 30m, 1h30m) as SIGINT does, and exit 1; default: none")
        ->type_name("DURATION");
    cmd.add_option(
           "--min-rate", flags.min_rate,
           fmt::format("A blob transfer slower than RATE (e.g. 1KiB/s, 512B/s, 1MiB/s) over a whole "
                       "--min-rate-window fails and is resumed or retried; 0 turns this off; default {}",
                       format_rate(static_cast<double>(defaults.bytes_per_second))))
        ->type_name("RATE");
    cmd.add_option("--min-rate-window", flags.min_rate_window,
                   fmt::format("The time (e.g. 60s, 2s) over which --min-rate is averaged; default {}",
                               format_duration(defaults.window)))
        ->type_name("DURATION");
    cmd.add_option(
           "--max-wait", flags.max_wait,
           fmt::format("Longest wait for a registry's rate limit (Retry-After, RateLimit-Reset), e.g. "
                       "90s, 5m; a longer one fails that registry's images at once; default {}",
                       format_duration(remote_options{}.max_wait)))
        ->type_name("DURATION");
}

run_limits parse_run_limits(const run_limit_flags& flags) {
    run_limits out;
    if (!flags.offered) return out;
    out.min_rate.emplace();
    if (!flags.timeout.empty()) {
        auto parsed = parse_duration(flags.timeout);
        if (!parsed) throw usage_error("--timeout: " + parsed.error().message);
        out.timeout = *parsed;
    }
    if (!flags.min_rate.empty()) {
        auto parsed = parse_rate(flags.min_rate);
        if (!parsed) throw usage_error("--min-rate: " + parsed.error().message);
        out.min_rate->bytes_per_second = *parsed;
    }
    if (!flags.min_rate_window.empty()) {
        auto parsed = parse_duration(flags.min_rate_window);
        if (!parsed) throw usage_error("--min-rate-window: " + parsed.error().message);
        if (parsed->count() == 0)
            throw usage_error("--min-rate-window: the window must be longer than 0; --min-rate 0 turns the "
                              "minimum transfer rate off");
        out.min_rate->window = *parsed;
    }
    if (!flags.max_wait.empty()) {
        auto parsed = parse_duration(flags.max_wait);
        if (!parsed) throw usage_error("--max-wait: " + parsed.error().message);
        out.max_wait = *parsed;
    }
    return out;
}

} // namespace syncer
