#pragma once
// Small text helpers shared by the command-line code.
#include <libregistry/core/error.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace syncer {

/// Without leading and trailing spaces, tabs and line breaks.
std::string_view trim(std::string_view s);

/// "1 blob", "3 blobs": `n` and the word for that number.
std::string plural(std::uint64_t n, std::string_view one, std::string_view many);

std::string join(const std::vector<std::string>& items, std::string_view separator);

/// Repeatable, comma-separated values (flags and variables alike): items trimmed, empty ones dropped,
/// duplicates merged in first-seen order.
std::vector<std::string> split_list(const std::vector<std::string>& values);

/// Text fit for stderr or a text log: the secrets the process knows (libregistry::known_secrets) replaced
/// by `REDACTED`, then control characters escaped (libregistry::printable). Every line syncer prints that
/// may quote a registry, a flag or a file goes through it.
std::string safe_text(std::string_view text);

/// The whole of a file expected to be small, read in pieces (a buffer of `limit` bytes up front cost every
/// run 40 ms of zero-filled pages). Errors, for the caller to prefix with the file's name: `io_error`
/// "cannot read: <strerror>" or "read error", `too_large` "larger than N MiB".
libregistry::result<std::string> read_small_file(const std::string& path, std::size_t limit);

/// `file:line` for a 0-based line (as yaml-cpp counts), or just `file` when the line is unknown (< 0).
std::string file_line(std::string_view file, int zero_based_line);

} // namespace syncer
