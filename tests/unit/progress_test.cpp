// The progress block's lines (widths, plurals) and the tally behind them (what a summary after Ctrl-C
// counts).
#include "output/progress.hpp"
#include "text.hpp"

#include <libregistry/core/digest.hpp>

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace syncer;
using libregistry::copy_event;
using namespace std::chrono_literals;

namespace {

libregistry::digest digest_of(char c) {
    return *libregistry::digest::parse("sha256:" + std::string(64, c));
}

blob_progress blob(char c, std::int64_t sent, std::int64_t size, double rate) {
    return {digest_of(c).str(), sent, size, rate};
}

progress_view busy_view() {
    progress_view v;
    v.blobs = {blob('a', 54 << 20, 256 << 20, 12.5 * (1 << 20)), blob('b', 3 << 20, -1, 2 << 20)};
    for (char c = '0'; c <= '5'; ++c)
        v.blobs.push_back(blob(c, 1 << 20, 8 << 20, 1 << 20));
    v.blobs_done = 3;
    v.bytes_done = 300ull << 20;
    v.bytes_known = 1200ull << 20;
    v.rate = 40.0 * (1 << 20);
    v.images_done = 12;
    v.images_total = 345;
    return v;
}

} // namespace

TEST_CASE("progress lines fit the terminal: never wider than width - 1, at any width") {
    const auto v = busy_view();
    for (std::size_t width : {20u, 50u, 80u, 200u}) {
        CAPTURE(width);
        for (const auto& lines : {copy_progress_lines(v, width), sync_progress_lines(v, width)})
            for (const auto& line : lines) {
                CAPTURE(line);
                CHECK(line.size() <= width - 1);
                CHECK(!line.empty());
                CHECK(line.find('\n') == std::string::npos);
            }
    }
    // Widths a terminal never has do not break it either.
    for (std::size_t width : {0u, 1u, 2u})
        for (const auto& line : sync_progress_lines(v, width))
            CHECK(line.size() <= 1);
}

TEST_CASE("progress lines: what each width shows") {
    const auto v = busy_view();
    const std::string hex12 = std::string(12, 'a');

    auto wide = copy_progress_lines(v, 200);
    REQUIRE(wide.size() == v.blobs.size() + 1);
    CHECK(wide[0] == "sha256:" + hex12 + "  54.0 MiB / 256.0 MiB   21%  12.5 MiB/s");
    CHECK(wide[1] == "sha256:" + std::string(12, 'b') + "  3.0 MiB  2.0 MiB/s");
    CHECK(wide.back() == "3 blobs done, 8 in flight, 300.0 MiB of 1.2 GiB, 40.0 MiB/s");

    auto at50 = copy_progress_lines(v, 50);
    CHECK(at50[0] == hex12 + " 54.0 MiB/256.0 MiB 21% 12.5 MiB/s");
    CHECK(at50.back() == "3 blobs done, 8 in flight, 300.0 MiB, 40.0 MiB/s");

    auto at20 = copy_progress_lines(v, 20);
    CHECK(at20[0] == hex12 + " 21%");
    CHECK(at20.back() == "300.0 MiB");

    auto sync80 = sync_progress_lines(v, 80);
    // The overall line, five blobs, and the rest counted.
    REQUIRE(sync80.size() == 7);
    CHECK(sync80[0] == "12 of 345 images done, 300.0 MiB of 1.2 GiB known, 40.0 MiB/s, ETA 23s");
    CHECK(sync80[1] == wide[0]);
    CHECK(sync80[6] == "+3 more in flight");
    CHECK(sync_progress_lines(v, 60)[0] == "12/345 images, 300.0 MiB/1.2 GiB, 40.0 MiB/s, ETA 23s");
    auto sync50 = sync_progress_lines(v, 50);
    CHECK(sync50[0] == "12/345 images, 40.0 MiB/s, ETA 23s");
    CHECK(sync50[1] == at50[0]);
    CHECK(sync_progress_lines(v, 20)[0] == "12/345 images");
}

TEST_CASE("progress lines: plurals") {
    progress_view v;
    v.images_total = 1;
    v.blobs_done = 1;
    CHECK(sync_progress_lines(v, 200)[0] == "0 of 1 image done, 0 B of 0 B known, 0 B/s");
    CHECK(copy_progress_lines(v, 200)[0] == "1 blob done, 0 in flight, 0 B of 0 B, 0 B/s");
    v.images_total = 2;
    v.blobs_done = 2;
    CHECK(sync_progress_lines(v, 200)[0] == "0 of 2 images done, 0 B of 0 B known, 0 B/s");
    CHECK(sync_progress_lines(v, 40)[0] == "0/2 images, 0 B/0 B, 0 B/s");
    CHECK(copy_progress_lines(v, 200)[0] == "2 blobs done, 0 in flight, 0 B of 0 B, 0 B/s");
    v.blobs_done = 0;
    CHECK(copy_progress_lines(v, 200)[0] == "0 blobs done, 0 in flight, 0 B of 0 B, 0 B/s");
    v.images_total = 1;
    CHECK(sync_progress_lines(v, 13)[0] == "0/1 image");
    CHECK(plural(1, "image", "images") == "1 image");
    CHECK(plural(0, "image", "images") == "0 images");
    CHECK(plural(21, "blob", "blobs") == "21 blobs");
}

TEST_CASE("human_eta") {
    CHECK(human_eta(0) == "0s");
    CHECK(human_eta(44.2) == "45s");
    CHECK(human_eta(185) == "3m05s");
    CHECK(human_eta(3720) == "1h02m");
}

TEST_CASE("transfer_tally: bytes moved count finished, in-flight, broken and cut-short transfers") {
    transfer_tally t;
    const auto t0 = progress_clock::now();
    const auto a = digest_of('a');
    const auto b = digest_of('b');
    t.on_event({copy_event::kind::blob_started, a, 10 << 20}, t0);
    t.on_event({copy_event::kind::blob_started, b, 4 << 20}, t0);
    t.on_event({copy_event::kind::blob_progress, a, 3 << 20}, t0 + 1s);
    t.on_event({copy_event::kind::blob_progress, b, 4 << 20}, t0 + 1s);
    t.on_event({copy_event::kind::blob_done, b, 4 << 20}, t0 + 1s);
    CHECK(t.blobs_done() == 1);
    CHECK(t.moved() == (7u << 20));
    CHECK(t.done_bytes(t0 + 1s) == (7u << 20));
    CHECK(t.known_bytes(t0 + 1s) == (14u << 20));
    REQUIRE(t.in_flight(t0 + 1s).size() == 1);
    CHECK(t.in_flight(t0 + 1s)[0].item == a);

    // `a` breaks (no event) and starts over: its first 3 MiB were sent all the same.
    t.on_event({copy_event::kind::blob_started, a, 10 << 20}, t0 + 2s);
    t.on_event({copy_event::kind::blob_progress, a, 1 << 20}, t0 + 3s);
    CHECK(t.moved() == (8u << 20));
    CHECK(t.in_flight(t0 + 3s).size() == 1);

    // A stop cuts it short: no event either; the bytes stay counted, and once idle it is not shown.
    CHECK(t.in_flight(t0 + 3s + transfer_tally::idle_limit).empty());
    CHECK(t.moved() == (8u << 20));
    CHECK(t.done_bytes(t0 + 3s + transfer_tally::idle_limit) == (4u << 20));

    // A fan-out's second destination reporting after the first finished changes nothing but its own done.
    t.on_event({copy_event::kind::blob_done, a, 10 << 20}, t0 + 4s);
    t.on_event({copy_event::kind::blob_progress, a, 9 << 20}, t0 + 4s);
    CHECK(t.in_flight(t0 + 4s).empty());
    t.on_event({copy_event::kind::blob_done, a, 10 << 20}, t0 + 4s);
    CHECK(t.blobs_done() == 3);
    CHECK(t.moved() == (4u << 20) + (3u << 20) + (20u << 20));
}
