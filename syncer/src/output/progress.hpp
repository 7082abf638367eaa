#pragma once
// Progress output: on a terminal, a block of lines redrawn in place (per-blob lines and a total for `copy`,
// an overall line and the blobs in flight for `sync`), each cut to the terminal's width; elsewhere one log
// line per event.
#include <libregistry/sync/copy.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace syncer {

using progress_clock = std::chrono::steady_clock;

/// What the copy events of a run say about its blob transfers. A failed transfer sends no event of its own:
/// it stays in flight until the same blob starts again (a retry) or it has been idle for `idle_limit`, and
/// the bytes it moved are counted either way.
class transfer_tally {
public:
    /// A transfer quiet for this long is taken for one that broke and no longer shown.
    static constexpr std::chrono::seconds idle_limit{60};

    struct blob {
        libregistry::digest item;
        std::int64_t sent = 0;
        std::int64_t size = -1; ///< -1: unknown (schema 1)
        progress_clock::time_point started;
        progress_clock::time_point touched;
    };

    void on_event(const libregistry::copy_event& e, progress_clock::time_point now = progress_clock::now());

    /// Every byte sent so far: finished blobs, transfers in flight, and transfers that broke or were cut
    /// short by a stop. What the live line shows, and what a summary after Ctrl-C counts.
    std::uint64_t moved() const;
    /// Bytes of the blobs finished and in flight, and the sizes of those blobs (the part of the work known so
    /// far: blobs not started yet are not in it).
    std::uint64_t done_bytes(progress_clock::time_point now) const;
    std::uint64_t known_bytes(progress_clock::time_point now) const;
    int blobs_done() const { return blobs_done_; }
    /// The transfers in flight, oldest first, without those idle for `idle_limit`.
    std::vector<blob> in_flight(progress_clock::time_point now) const;

private:
    bool live(const blob& b, progress_clock::time_point now) const { return now - b.touched < idle_limit; }

    std::map<libregistry::digest, blob> active_;
    std::uint64_t finished_bytes_ = 0; ///< of finished transfers
    std::uint64_t broken_bytes_ = 0;   ///< of transfers started over
    int blobs_done_ = 0;
};

/// One transfer as a progress line shows it.
struct blob_progress {
    std::string digest; ///< the digest (`sha256:` and 64 hex digits)
    std::int64_t sent = 0;
    std::int64_t size = -1; ///< -1: unknown
    double rate = 0;        ///< bytes per second
};

/// Everything a progress block shows.
struct progress_view {
    std::vector<blob_progress> blobs; ///< in flight
    int blobs_done = 0;
    std::uint64_t bytes_done = 0;  ///< of the blobs finished and in flight
    std::uint64_t bytes_known = 0; ///< sizes of the blobs finished and in flight
    double rate = 0;               ///< bytes per second over the whole run
    std::size_t images_done = 0;
    std::size_t images_total = 0;
};

/// `12.3 MiB`.
std::string human_bytes(double bytes);
/// `45s`, `3m05s`, `1h02m`.
std::string human_eta(double seconds);

/// The lines of `copy`'s progress block: one per blob in flight, then the total. No line is wider than
/// `width - 1` columns (the last column is left free, so no terminal wraps a line), at any width.
std::vector<std::string> copy_progress_lines(const progress_view& view, std::size_t width);
/// The lines of `sync`'s: the overall line (images, bytes of what is known, rate, ETA), then at most
/// `max_blobs` blobs in flight and `+N more`. The same width rule.
std::vector<std::string> sync_progress_lines(const progress_view& view, std::size_t width,
                                             std::size_t max_blobs = 5);

class progress {
public:
    enum class style { copy, sync };

    /// `quiet` silences everything (the tally still counts); `terminal` decides between a redrawn block and
    /// log lines.
    progress(bool quiet, bool terminal, style s = style::copy);
    ~progress();
    progress(const progress&) = delete;
    progress& operator=(const progress&) = delete;

    /// A copy event, as copy_options::on_event delivers it.
    void on_event(const libregistry::copy_event& e);
    /// Image counts for a sync's overall line.
    void images(std::size_t done, std::size_t total);
    /// A line that is always shown (unless quiet), clearing the block first.
    void line(const std::string& text);
    /// Clears the block.
    void finish();

    const transfer_tally& tally() const { return tally_; }

    static bool stderr_is_terminal();
    /// The terminal's width in columns (TIOCGWINSZ on stderr), 80 when it cannot be read.
    static std::size_t terminal_width();

private:
    void redraw();
    void clear();
    progress_view view(progress_clock::time_point now) const;

    bool quiet_;
    bool terminal_;
    style style_;
    transfer_tally tally_;
    std::size_t images_done_ = 0;
    std::size_t images_total_ = 0;
    progress_clock::time_point started_ = progress_clock::now();
    progress_clock::time_point last_draw_{};
    std::size_t drawn_lines_ = 0; ///< lines of the block on screen; the cursor is at the end of the last
};

} // namespace syncer
