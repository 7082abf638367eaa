#pragma once
// Progress output: a single redrawn status line on a terminal, plain log lines otherwise.
#include <libregistry/sync/copy.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>

namespace syncer {

class progress {
public:
    /// `quiet` silences everything; `terminal` decides between a live line and log lines.
    progress(bool quiet, bool terminal);

    /// A copy event, as copy_options::on_event delivers it.
    void on_event(const libregistry::copy_event& e);
    /// Image counts for a sync's live line.
    void images(std::size_t done, std::size_t total);
    /// A line that is always shown (unless quiet), clearing the live line first.
    void line(const std::string& text);
    /// Clears the live line.
    void finish();

    static bool stderr_is_terminal();

private:
    void redraw();

    bool quiet_;
    bool terminal_;
    std::map<libregistry::digest, std::pair<std::int64_t, std::int64_t>> active_; ///< sent, size
    std::uint64_t done_bytes_ = 0;
    int blobs_done_ = 0;
    std::size_t images_done_ = 0;
    std::size_t images_total_ = 0;
    std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
    std::chrono::steady_clock::time_point last_draw_{};
    bool drawn_ = false;
};

/// `12.3 MiB`.
std::string human_bytes(double bytes);

} // namespace syncer
