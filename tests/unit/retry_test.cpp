// The retry engine's decisions, as tables: backoff, the request loop's decision, the blob transfer's.
#include "libregistry/core/retry.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace libregistry;
using namespace std::chrono_literals;

TEST_CASE("backoff: full jitter in a window that doubles up to the cap; a longer Retry-After wins") {
    retry_policy p;
    p.base_delay = 100ms;
    p.max_delay = 1s;
    struct row {
        int attempt;
        std::optional<std::chrono::milliseconds> retry_after;
        double random;
        std::chrono::milliseconds expected;
    };
    std::vector<row> rows{
        {1, std::nullopt, 0.0, 0ms},    // full jitter: the bottom of the window is zero
        {1, std::nullopt, 0.5, 50ms},   // window [0, 100 ms)
        {2, std::nullopt, 0.5, 100ms},  // window [0, 200 ms)
        {3, std::nullopt, 0.5, 200ms},  // window [0, 400 ms)
        {30, std::nullopt, 0.5, 500ms}, // capped at max_delay
        {1, 5s, 0.5, 5s},               // the server asked for longer
        {4, 1ms, 0.5, 400ms},           // the server asked for less than the backoff
    };
    for (const auto& r : rows) {
        CAPTURE(r.attempt);
        CAPTURE(r.random);
        CHECK(backoff_delay(p, r.attempt, r.retry_after, r.random) == r.expected);
    }
    CHECK(backoff_delay(p, 1, std::nullopt, 0.999) < 100ms);
    CHECK(backoff_delay(p, 30, std::nullopt, 0.999) < 1s);
    for (int i = 0; i < 100; ++i) {
        auto j = jitter();
        CHECK(j >= 0.0);
        CHECK(j < 1.0);
    }
}

namespace {

attempt_outcome status(int code) {
    attempt_outcome o;
    o.status = code;
    return o;
}

attempt_outcome transport(errc code) {
    attempt_outcome o;
    o.failure = make_error(code, "x");
    return o;
}

attempt_context try_number(int attempt) {
    attempt_context c;
    c.attempt = attempt;
    return c;
}

} // namespace

TEST_CASE("the request loop's decision table") {
    retry_policy p; // 4 attempts
    p.base_delay = 100ms;
    struct row {
        std::string name;
        attempt_outcome outcome;
        attempt_context context;
        retry_action expected;
    };
    auto quota = status(429);
    quota.beyond_max_wait = true;
    auto long_503 = status(503);
    long_503.beyond_max_wait = true;
    auto streamed = try_number(1);
    streamed.replayable = false;
    auto reauth = try_number(1);
    reauth.may_reauthenticate = true;
    auto one_shot = try_number(1);
    one_shot.monolithic_upload = true;
    one_shot.replayable = false;
    auto fallback = try_number(1);
    fallback.fallback_available = true;
    auto streamed_reauth = streamed;
    streamed_reauth.may_reauthenticate = true;
    auto digest_refused = status(400);
    digest_refused.body_code = errc::digest_invalid;
    std::vector<row> rows{
        {"200 is final", status(200), try_number(1), retry_action::stop},
        {"404 is final", status(404), try_number(1), retry_action::stop},
        {"403 is final", status(403), try_number(1), retry_action::stop},
        {"503 is retried", status(503), try_number(1), retry_action::retry},
        {"500 is retried", status(500), try_number(3), retry_action::retry},
        {"429 is retried", status(429), try_number(2), retry_action::retry},
        {"503 on the last attempt is final", status(503), try_number(4), retry_action::stop},
        {"429 asking for a wait beyond the maximum (a used-up quota) is final", quota, try_number(1),
         retry_action::stop},
        {"503 asking for a wait beyond the maximum is final", long_503, try_number(1), retry_action::stop},
        {"a streamed body is not replayed", status(503), streamed, retry_action::stop},
        {"a reset connection is retried", transport(errc::connection_failed), try_number(1),
         retry_action::retry},
        {"a timeout is retried", transport(errc::timeout), try_number(2), retry_action::retry},
        {"a TLS failure is final", transport(errc::tls_error), try_number(1), retry_action::stop},
        {"a cancelled request is final", transport(errc::cancelled), try_number(1), retry_action::stop},
        // issue 10: an image no platform of the filter matches was retried three times, ~6 s.
        {"a platform mismatch is final", transport(errc::platform_mismatch), try_number(1),
         retry_action::stop},
        {"a reset on the last attempt is final", transport(errc::connection_failed), try_number(4),
         retry_action::stop},
        {"a reset streamed upload is left to the copy engine", transport(errc::connection_failed), streamed,
         retry_action::stop},
        {"401 re-authenticates once", status(401), reauth, retry_action::reauthenticate},
        {"401 after re-authenticating is final", status(401), try_number(1), retry_action::stop},
        {"401 to a streamed upload is final", status(401), streamed_reauth, retry_action::stop},
        {"a reset with a fallback moves on to it", transport(errc::connection_failed), fallback,
         retry_action::stop},
        {"a 503 with a fallback is still retried", status(503), fallback, retry_action::retry},
        {"a refused one-shot upload switches to chunks", status(405), one_shot,
         retry_action::switch_to_chunked},
        {"413 too", status(413), one_shot, retry_action::switch_to_chunked},
        {"DIGEST_INVALID is not a refusal of one-shot uploads", digest_refused, one_shot, retry_action::stop},
        {"400 to a buffered request is final", status(400), try_number(1), retry_action::stop},
    };
    for (const auto& r : rows) {
        CAPTURE(r.name);
        CHECK(decide_retry(r.outcome, r.context, p, 0.5).action == r.expected);
    }
}

TEST_CASE("a retry waits for the backoff or the server's Retry-After, whichever is longer") {
    retry_policy p;
    p.base_delay = 100ms;
    auto busy = status(503);
    busy.retry_after = 3s;
    CHECK(decide_retry(busy, try_number(1), p, 0.5) == retry_decision{retry_action::retry, 3s});
    CHECK(decide_retry(status(503), try_number(2), p, 0.5) == retry_decision{retry_action::retry, 100ms});
    auto reset = transport(errc::connection_failed);
    CHECK(decide_retry(reset, try_number(1), p, 0.0) == retry_decision{retry_action::retry, 0ms});
}

TEST_CASE("the blob transfer shares the attempt budget with the request loop") {
    retry_policy p; // 4 attempts
    auto passing = make_error(errc::connection_failed, "reset");
    passing.attempts = 1; // a streamed upload: sent once
    CHECK(retry_transfer(passing, 1, false, p));
    CHECK(retry_transfer(passing, 3, false, p));
    CHECK_FALSE(retry_transfer(passing, 4, false, p)); // the transfer's own tries are used up

    auto exhausted = make_error(errc::server_error, "503");
    exhausted.attempts = 4; // the request loop already sent it four times
    CHECK_FALSE(retry_transfer(exhausted, 1, false, p));

    auto uncounted = make_error(errc::server_error, "503"); // not from a retry loop (attempts 0)
    CHECK(retry_transfer(uncounted, 1, false, p));

    CHECK_FALSE(retry_transfer(make_error(errc::digest_mismatch, "bad"), 1, false, p));
    CHECK_FALSE(retry_transfer(make_error(errc::cancelled, "stop"), 1, false, p));
    CHECK_FALSE(retry_transfer(make_error(errc::platform_mismatch, "no linux/arm64"), 1, false, p));

    // One more try after a refused one-shot upload or a rejected token, whatever the budget says.
    auto refused = make_error(errc::unsupported, "405");
    refused.attempts = 4;
    CHECK(retry_transfer(refused, 4, false, p));
    CHECK_FALSE(retry_transfer(refused, 4, true, p));
    CHECK(retry_transfer(make_error(errc::unauthorized, "401"), 1, false, p));
}

TEST_CASE("retry rounds pause 2 s more each time, up to 10 s") {
    const std::vector<std::pair<int, std::chrono::milliseconds>> rows{{1, 2s},  {2, 4s},  {3, 6s},
                                                                      {5, 10s}, {9, 10s}, {0, 2s}};
    for (const auto& row : rows) {
        CAPTURE(row.first); // a structured binding cannot be captured with clang 14
        CHECK(round_pause(row.first) == row.second);
    }
}
