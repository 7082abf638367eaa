#include "output/progress.hpp"

#include "text.hpp"

#include <fmt/format.h>
#include <unistd.h>

namespace syncer {

using libregistry::copy_event;

progress::progress(bool quiet, bool terminal) : quiet_(quiet), terminal_(terminal) {}

bool progress::stderr_is_terminal() {
    return isatty(STDERR_FILENO) == 1;
}

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

void progress::on_event(const copy_event& e) {
    if (quiet_) return;
    auto short_digest = e.item.str().substr(0, 19);
    switch (e.what) {
    case copy_event::kind::blob_started:
        active_[e.item] = {0, e.bytes};
        // Schema 1 manifests give no layer sizes (-1).
        if (!terminal_)
            line(fmt::format("Copying blob {} ({})", short_digest,
                             e.bytes >= 0 ? human_bytes(double(e.bytes)) : std::string("size unknown")));
        break;
    case copy_event::kind::blob_progress:
        active_[e.item].first = e.bytes;
        break;
    case copy_event::kind::blob_done:
        active_.erase(e.item);
        done_bytes_ += static_cast<std::uint64_t>(std::max<std::int64_t>(e.bytes, 0));
        ++blobs_done_;
        if (!terminal_) line(fmt::format("Copied blob {}", short_digest));
        break;
    case copy_event::kind::manifest_pushed:
        if (!terminal_) line(fmt::format("Wrote manifest {}", e.item.str()));
        break;
    }
    if (terminal_) redraw();
}

void progress::images(std::size_t done, std::size_t total) {
    images_done_ = done;
    images_total_ = total;
    if (terminal_ && !quiet_) redraw();
}

void progress::redraw() {
    auto now = std::chrono::steady_clock::now();
    if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    std::uint64_t bytes = done_bytes_;
    for (const auto& [d, sent_size] : active_)
        bytes += static_cast<std::uint64_t>(sent_size.first);
    double seconds = std::chrono::duration<double>(now - started_).count();
    std::fputs("\r\033[K", stderr);
    if (images_total_ > 0) std::fprintf(stderr, "%zu/%zu images, ", images_done_, images_total_);
    std::fprintf(stderr, "%d blobs done, %zu in flight, %s sent, %s/s", blobs_done_, active_.size(),
                 human_bytes(double(bytes)).c_str(),
                 human_bytes(seconds > 0 ? double(bytes) / seconds : 0).c_str());
    std::fflush(stderr);
    drawn_ = true;
}

void progress::line(const std::string& text) {
    if (quiet_) return;
    if (terminal_ && drawn_) std::fputs("\r\033[K", stderr);
    std::fprintf(stderr, "%s\n", safe_text(text).c_str());
    drawn_ = false;
}

void progress::finish() {
    if (terminal_ && drawn_) std::fputs("\r\033[K", stderr);
    drawn_ = false;
}

} // namespace syncer
