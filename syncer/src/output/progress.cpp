#include "output/progress.hpp"

#include "output/logger.hpp"
#include "text.hpp"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>

namespace syncer {

using libregistry::copy_event;

// --- the tally -------------------------------------------------------------------------------------------

void transfer_tally::on_event(const copy_event& e, progress_clock::time_point now) {
    auto it = active_.find(e.item);
    switch (e.what) {
    case copy_event::kind::blob_started:
        if (it == active_.end()) {
            active_.emplace(e.item, blob{e.item, 0, e.bytes, now, now});
        } else {
            // The same blob again: a retry after a broken transfer (which said nothing), or another
            // destination of the same fan-out. What the earlier one sent was sent all the same.
            broken_bytes_ += static_cast<std::uint64_t>(std::max<std::int64_t>(it->second.sent, 0));
            it->second = blob{e.item, 0, e.bytes, now, now};
        }
        break;
    case copy_event::kind::blob_progress:
        // A fan-out's slower destination may report after the first one finished the blob: nothing to show.
        if (it != active_.end()) {
            it->second.sent = e.bytes;
            it->second.touched = now;
        }
        break;
    case copy_event::kind::blob_done:
        finished_bytes_ += static_cast<std::uint64_t>(std::max<std::int64_t>(e.bytes, 0));
        ++blobs_done_;
        if (it != active_.end()) active_.erase(it);
        break;
    case copy_event::kind::manifest_pushed:
        break;
    }
}

std::uint64_t transfer_tally::moved() const {
    std::uint64_t total = finished_bytes_ + broken_bytes_;
    for (const auto& [d, b] : active_)
        total += static_cast<std::uint64_t>(std::max<std::int64_t>(b.sent, 0));
    return total;
}

std::uint64_t transfer_tally::done_bytes(progress_clock::time_point now) const {
    std::uint64_t total = finished_bytes_;
    for (const auto& [d, b] : active_)
        if (live(b, now)) total += static_cast<std::uint64_t>(std::max<std::int64_t>(b.sent, 0));
    return total;
}

std::uint64_t transfer_tally::known_bytes(progress_clock::time_point now) const {
    std::uint64_t total = finished_bytes_;
    for (const auto& [d, b] : active_)
        if (live(b, now)) total += static_cast<std::uint64_t>(std::max({b.sent, b.size, std::int64_t{0}}));
    return total;
}

std::vector<transfer_tally::blob> transfer_tally::in_flight(progress_clock::time_point now) const {
    std::vector<blob> out;
    for (const auto& [d, b] : active_)
        if (live(b, now)) out.push_back(b);
    std::stable_sort(out.begin(), out.end(),
                     [](const blob& a, const blob& b) { return a.started < b.started; });
    return out;
}

// --- formatting ------------------------------------------------------------------------------------------

std::string human_bytes(double bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int unit = 0;
    while (bytes >= 1024 && unit < 4) {
        bytes /= 1024;
        ++unit;
    }
    return unit == 0 ? fmt::format("{:.0f} {}", bytes, units[unit])
                     : fmt::format("{:.1f} {}", bytes, units[unit]);
}

std::string human_eta(double seconds) {
    auto s = static_cast<std::uint64_t>(std::ceil(std::max(seconds, 0.0)));
    if (s < 60) return fmt::format("{}s", s);
    if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
    return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
}

namespace {

// The first of `candidates` (most detailed first) that fits in `width - 1` columns, else the last one cut to
// that. Progress lines are ASCII (digests, numbers, units), so a byte is a column.
std::string fit(std::initializer_list<std::string> candidates, std::size_t width) {
    const std::size_t limit = width > 1 ? width - 1 : 1;
    for (const auto& c : candidates)
        if (c.size() <= limit) return c;
    return (candidates.end() - 1)->substr(0, limit);
}

std::string percent(const blob_progress& b) {
    if (b.size <= 0) return {};
    auto p = std::clamp(100.0 * double(b.sent) / double(b.size), 0.0, 100.0);
    return fmt::format("{:.0f}%", std::floor(p));
}

std::string blob_line(const blob_progress& b, std::size_t width) {
    const std::string hex = b.digest.substr(b.digest.find(':') + 1, 12);
    const std::string full = b.digest.substr(0, b.digest.find(':') + 13);
    const std::string rate = human_bytes(b.rate) + "/s";
    const std::string sent = human_bytes(double(b.sent));
    if (b.size < 0)
        return fit({fmt::format("{}  {}  {}", full, sent, rate), fmt::format("{} {} {}", hex, sent, rate),
                    fmt::format("{} {}", hex, sent), hex},
                   width);
    const std::string size = human_bytes(double(b.size));
    const std::string pct = percent(b);
    return fit({fmt::format("{}  {} / {}  {:>4}  {}", full, sent, size, pct, rate),
                fmt::format("{} {}/{} {} {}", hex, sent, size, pct, rate),
                fmt::format("{} {} {}", hex, pct, rate), fmt::format("{} {}", hex, pct)},
               width);
}

} // namespace

std::vector<std::string> copy_progress_lines(const progress_view& v, std::size_t width) {
    std::vector<std::string> out;
    for (const auto& b : v.blobs)
        out.push_back(blob_line(b, width));
    const std::string done = plural(std::uint64_t(v.blobs_done), "blob", "blobs");
    const std::string flight = fmt::format("{} in flight", v.blobs.size());
    const std::string bytes = human_bytes(double(v.bytes_done));
    const std::string known = human_bytes(double(v.bytes_known));
    const std::string rate = human_bytes(v.rate) + "/s";
    out.push_back(fit({fmt::format("{} done, {}, {} of {}, {}", done, flight, bytes, known, rate),
                       fmt::format("{} done, {}, {}, {}", done, flight, bytes, rate),
                       fmt::format("{}/{} {}", bytes, known, rate), fmt::format("{} {}", bytes, rate), bytes},
                      width));
    return out;
}

std::vector<std::string> sync_progress_lines(const progress_view& v, std::size_t width,
                                             std::size_t max_blobs) {
    std::vector<std::string> out;
    const std::string images =
        fmt::format("{} of {}", v.images_done, plural(std::uint64_t(v.images_total), "image", "images"));
    const std::string brief =
        fmt::format("{}/{} {}", v.images_done, v.images_total, v.images_total == 1 ? "image" : "images");
    const std::string bytes = human_bytes(double(v.bytes_done));
    const std::string known = human_bytes(double(v.bytes_known));
    const std::string rate = human_bytes(v.rate) + "/s";
    const double left = double(v.bytes_known) - double(v.bytes_done);
    const std::string eta = v.rate > 0 && left > 0 ? ", ETA " + human_eta(left / v.rate) : std::string();
    out.push_back(fit({fmt::format("{} done, {} of {} known, {}{}", images, bytes, known, rate, eta),
                       fmt::format("{}, {}/{}, {}{}", brief, bytes, known, rate, eta),
                       fmt::format("{}, {}{}", brief, rate, eta), fmt::format("{}, {}", brief, bytes), brief},
                      width));
    const std::size_t shown = std::min(v.blobs.size(), max_blobs);
    for (std::size_t i = 0; i < shown; ++i)
        out.push_back(blob_line(v.blobs[i], width));
    if (v.blobs.size() > shown)
        out.push_back(fit({fmt::format("+{} more in flight", v.blobs.size() - shown),
                           fmt::format("+{} more", v.blobs.size() - shown)},
                          width));
    return out;
}

// --- the live block --------------------------------------------------------------------------------------

progress::progress(bool quiet, bool terminal, style s) : quiet_(quiet), terminal_(terminal), style_(s) {
    // The stop notice and other lines outside the log come from elsewhere; the block makes room for them.
    if (terminal_ && !quiet_) set_before_stderr_line([this] { clear(); });
}

progress::~progress() {
    if (terminal_ && !quiet_) set_before_stderr_line({});
}

bool progress::stderr_is_terminal() {
    return isatty(STDERR_FILENO) == 1;
}

std::size_t progress::terminal_width() {
    winsize size{};
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
    return 80;
}

void progress::on_event(const copy_event& e) {
    tally_.on_event(e);
    if (quiet_) return;
    if (!terminal_) {
        auto short_digest = e.item.str().substr(0, 19);
        switch (e.what) {
        case copy_event::kind::blob_started:
            // Schema 1 manifests give no layer sizes (-1).
            line(fmt::format("Copying blob {} ({})", short_digest,
                             e.bytes >= 0 ? human_bytes(double(e.bytes)) : std::string("size unknown")));
            break;
        case copy_event::kind::blob_progress:
            break;
        case copy_event::kind::blob_done:
            line(fmt::format("Copied blob {}", short_digest));
            break;
        case copy_event::kind::manifest_pushed:
            line(fmt::format("Wrote manifest {}", e.item.str()));
            break;
        }
        return;
    }
    redraw();
}

void progress::images(std::size_t done, std::size_t total) {
    images_done_ = done;
    images_total_ = total;
    if (terminal_ && !quiet_) redraw();
}

progress_view progress::view(progress_clock::time_point now) const {
    progress_view v;
    for (const auto& b : tally_.in_flight(now)) {
        const double seconds = std::chrono::duration<double>(now - b.started).count();
        v.blobs.push_back({b.item.str(), b.sent, b.size, seconds > 0 ? double(b.sent) / seconds : 0});
    }
    v.blobs_done = tally_.blobs_done();
    v.bytes_done = tally_.done_bytes(now);
    v.bytes_known = tally_.known_bytes(now);
    const double seconds = std::chrono::duration<double>(now - started_).count();
    v.rate = seconds > 0 ? double(tally_.moved()) / seconds : 0;
    v.images_done = images_done_;
    v.images_total = images_total_;
    return v;
}

void progress::redraw() {
    auto now = progress_clock::now();
    if (drawn_lines_ > 0 && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    // Read at every redraw, so a resized terminal gets lines that fit at once.
    const auto width = terminal_width();
    auto lines =
        style_ == style::copy ? copy_progress_lines(view(now), width) : sync_progress_lines(view(now), width);
    std::string out = drawn_lines_ > 1 ? fmt::format("\r\033[{}A\033[J", drawn_lines_ - 1) : "\r\033[J";
    for (std::size_t i = 0; i < lines.size(); ++i)
        out.append(i ? "\n" : "").append(lines[i]);
    std::fputs(out.c_str(), stderr);
    std::fflush(stderr);
    drawn_lines_ = lines.size();
}

void progress::clear() {
    if (drawn_lines_ == 0) return;
    std::fputs(drawn_lines_ > 1 ? fmt::format("\r\033[{}A\033[J", drawn_lines_ - 1).c_str() : "\r\033[J",
               stderr);
    drawn_lines_ = 0;
}

void progress::line(const std::string& text) {
    if (quiet_) return;
    if (terminal_) clear();
    std::fprintf(stderr, "%s\n", safe_text(text).c_str());
    std::fflush(stderr);
}

void progress::finish() {
    if (terminal_) clear();
    std::fflush(stderr);
}

} // namespace syncer
