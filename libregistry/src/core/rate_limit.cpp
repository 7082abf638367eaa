#include "libregistry/core/rate_limit.hpp"

#include "libregistry/core/duration.hpp"
#include "libregistry/core/registry_error.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <ctime>

namespace libregistry {

namespace {

using clock = rate_limit_state::clock;

// Waits a registry asks for are taken as they come, up to a year: a longer one is refused all the same.
constexpr std::chrono::milliseconds longest_wait = std::chrono::hours(24 * 365);

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

std::optional<long long> whole_number(std::string_view text) {
    text = trim(text);
    long long out = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (text.empty() || ec != std::errc{} || p != text.data() + text.size() || out < 0) return std::nullopt;
    return out;
}

std::string utc_text(clock::time_point t) {
    const std::time_t seconds = clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char out[32];
    std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return out;
}

} // namespace

std::optional<rate_limit_remaining> parse_rate_limit_remaining(std::string_view header) noexcept {
    auto semi = header.find(';');
    auto count = whole_number(header.substr(0, semi));
    if (!count) return std::nullopt;
    rate_limit_remaining out;
    out.remaining = *count;
    if (semi == std::string_view::npos) return out;
    if (auto w = header.find("w=", semi); w != std::string_view::npos) {
        auto rest = header.substr(w + 2);
        rest = rest.substr(0, rest.find(';'));
        out.window_seconds = whole_number(rest).value_or(0);
    }
    return out;
}

std::optional<std::chrono::seconds> parse_rate_limit_reset(std::string_view header) noexcept {
    auto value = whole_number(header.substr(0, header.find(';')));
    if (!value) return std::nullopt;
    return std::chrono::seconds(std::min<long long>(*value, 365LL * 24 * 3600));
}

void rate_limit_state::observe(int status, const rate_limit_headers& headers, bool pull,
                               clock::time_point now) {
    auto remaining = parse_rate_limit_remaining(headers.remaining);
    auto reset = parse_rate_limit_reset(headers.reset);
    if (remaining && remaining->window_seconds > 0) window_seconds = remaining->window_seconds;
    const bool used_up = remaining && remaining->remaining == 0;
    if (remaining && remaining->remaining > 0) quota_resets_at.reset(); // pulls are left: it reset already

    std::optional<clock::time_point> resets;
    if (used_up && reset) resets = now + *reset;
    if (status == 429 || status == 503) {
        std::optional<clock::time_point> wait_until;
        auto after = parse_retry_after(headers.retry_after, now, longest_wait);
        if (after) wait_until = now + *after;
        if (used_up && !resets) resets = wait_until;
        // Without a Retry-After, a 429 for the quota holds back what the quota counts: pulls, and whatever
        // else the registry just refused for it; a 429 with a RateLimit-Reset for another limit, everything.
        if (!after && status == 429 && reset && (!used_up || !pull)) wait_until = now + *reset;
        if (wait_until && (!paused_until || *wait_until > *paused_until || *paused_until <= now)) {
            paused_until = wait_until;
            pause_is_quota = used_up;
        }
    }
    if (resets) quota_resets_at = resets;
}

rate_limit_verdict admit(const rate_limit_state& state, bool pull, clock::time_point now,
                         std::chrono::milliseconds max_wait) {
    rate_limit_verdict out;
    if (state.paused_until && *state.paused_until > now) {
        out.until = *state.paused_until;
        out.quota = state.pause_is_quota;
    }
    if (pull && state.quota_resets_at && *state.quota_resets_at > now &&
        *state.quota_resets_at >= out.until) {
        out.until = *state.quota_resets_at;
        out.quota = true;
    }
    if (out.until <= now) return {};
    out.action = out.until - now <= max_wait ? rate_limit_action::wait : rate_limit_action::refuse;
    return out;
}

std::string refusal_message(std::string_view registry, const rate_limit_verdict& verdict,
                            clock::time_point now, std::chrono::milliseconds max_wait) {
    // Whole seconds: a reset is announced in seconds, and "1.437s" would claim a precision it does not have.
    const auto left = std::chrono::ceil<std::chrono::seconds>(verdict.until - now);
    const auto when = fmt::format("in {} (at {}), later than the maximum wait of {}", format_duration(left),
                                  utc_text(verdict.until), format_duration(max_wait));
    if (verdict.quota)
        return fmt::format(
            "pull limit of {} used up; it resets {}; raise the maximum wait to wait for it, or "
            "run again then",
            registry, when);
    return fmt::format("{} asked to wait before further requests; it takes them again {}; raise the maximum "
                       "wait to wait for it, or run again then",
                       registry, when);
}

} // namespace libregistry
