#pragma once
// Tar archives (POSIX ustar with pax extended headers, and GNU long names when reading), streamed through
// zlib or zstd, with the safety rules every archive read here follows: no entry escapes (`..`, absolute
// paths), no symlinks, hard links, devices or FIFOs, no entry twice, and a truncated or corrupt stream is an
// error naming the archive and the entry. Nothing here holds more than one block of an entry in memory.
#include "libregistry/core/error.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace libregistry {

enum class archive_compression { none, gzip, zstd };

/// "tar", "gzip", "zstd".
std::string_view to_string(archive_compression c) noexcept;

/// The compression an archive's file name asks for: `.tar` none, `.tar.gz` and `.tgz` gzip, `.tar.zst` and
/// `.tzst` zstd; nullopt for any other name.
std::optional<archive_compression> compression_for_path(std::string_view path) noexcept;
/// compression_for_path of the archive `target` is to be written to, or errc::invalid_argument naming it and
/// the names that say how an archive is compressed.
result<archive_compression> compression_for_target(const std::filesystem::path& target);

/// The compression of a stream from its first bytes: gzip (1f 8b), zstd (28 b5 2f fd), else none.
archive_compression detect_compression(std::span<const std::byte> head) noexcept;

/// A stream of bytes; `read` returns 0 at the end.
class byte_source {
public:
    virtual ~byte_source() = default;
    virtual result<std::size_t> read(std::span<std::byte> buffer) = 0;
};

/// A stream of bytes being written; `close` flushes what a compressor holds.
class byte_sink {
public:
    virtual ~byte_sink() = default;
    virtual result<void> write(std::span<const std::byte> bytes) = 0;
    virtual result<void> close() = 0;
    /// Says whether the bytes written next are worth compressing: false for data that is compressed already
    /// (a gzip or zstd layer), which a compressing sink then passes through at its cheapest level.
    virtual result<void> set_compressible(bool compressible) {
        (void)compressible;
        return {};
    }
};

/// Whether bytes starting with `head` are compressed already (gzip, zstd, xz or bzip2 magic): compressing
/// them again gains nothing and costs CPU.
bool looks_compressed(std::span<const std::byte> head) noexcept;

/// `bytes` as a source (fuzz targets and tests).
std::unique_ptr<byte_source> memory_source(std::string_view bytes);
/// A source that decompresses `inner` as `c`; a truncated or corrupt stream fails naming `where`.
std::unique_ptr<byte_source> decompressing_source(std::unique_ptr<byte_source> inner, archive_compression c,
                                                  std::string where);
/// Opens a file and decompresses it as its first bytes say.
result<std::unique_ptr<byte_source>> open_archive_file(const std::filesystem::path& path);
/// A sink that compresses into `fd` (not owned) as `c`: gzip at level 6, zstd at level 3 with its content
/// checksum; what set_compressible(false) announces goes through gzip level 0 (stored blocks) or zstd level 1
/// (a new frame at each change of level). zstd compresses on libzstd's worker threads (ZSTD_c_nbWorkers,
/// `zstd_workers` of them, when the library was built with them; 0 compresses in the calling thread).
std::unique_ptr<byte_sink> compressing_sink(int fd, archive_compression c, std::filesystem::path where,
                                            int zstd_workers = 0);

/// One tar header block as read, before the safety checks.
struct tar_header {
    std::string name; ///< prefix/name, as stored
    char type = '0';  ///< typeflag; '\0' is reported as '0'
    std::int64_t size = 0;
    std::string linkname; ///< of links, for the message that refuses them
};

inline constexpr std::size_t tar_block = 512;

/// Parses one 512-byte header block: the checksum (unsigned or signed sum), the size (octal or GNU base-256),
/// the ustar prefix. nullopt for an all-zero block (the end of the archive). errc::invalid_archive naming
/// `where` otherwise.
result<std::optional<tar_header>> parse_tar_header(std::span<const std::byte, tar_block> block,
                                                   std::string_view where);

/// The records of a pax extended header ("<length> <key>=<value>\n" ...). errc::invalid_archive for a
/// record whose length does not match.
result<std::vector<std::pair<std::string, std::string>>> parse_pax_records(std::string_view data,
                                                                           std::string_view where);

/// An entry name made safe: `./` and `.` components and a trailing `/` dropped; refused
/// (errc::invalid_archive, naming `where` and the name) when absolute, empty, containing `..`, a control
/// character or a backslash, or longer than 4096 bytes.
result<std::string> safe_entry_name(std::string_view name, std::string_view where);

struct tar_entry {
    std::string name; ///< safe_entry_name'd
    bool directory = false;
    std::int64_t size = 0;
};

/// Reads a tar stream entry by entry. next() skips what is left of the current entry.
class tar_reader {
public:
    /// `where` names the archive in messages. With `skip_symlinks`, symbolic links are passed over (never
    /// returned, never followed) instead of refused: docker and skopeo archives carry legacy
    /// `<id>/layer.tar` links beside the files manifest.json names.
    tar_reader(byte_source& source, std::string where, bool skip_symlinks = false);

    /// The next file or directory, or nullopt at the end of the archive. Refuses links, devices, FIFOs,
    /// unknown entry types, names that are not safe and names seen before; pax `path` and `size` and GNU
    /// long names are applied, global pax headers ignored.
    result<std::optional<tar_entry>> next();
    /// Reads the current entry's data; 0 at its end. A stream that ends early is a truncated archive.
    result<std::size_t> read(std::span<std::byte> buffer);

private:
    /// One entry; sets `skipped` (and returns nullopt) for a symbolic link passed over.
    result<std::optional<tar_entry>> next_entry(bool& skipped);
    result<void> skip_rest();
    result<void> read_exact(std::span<std::byte> buffer, std::string_view what);
    result<std::string> read_meta(std::int64_t size, std::string_view what);
    error bad(std::string_view entry, std::string_view what) const;

    byte_source& source_;
    std::string where_;
    std::string current_;
    std::int64_t remaining_ = 0;
    std::int64_t padding_ = 0;
    bool ended_ = false;
    bool skip_symlinks_ = false;
    std::set<std::string> seen_;
};

/// Writes a POSIX tar stream (ustar headers, pax `path` records for names over 100 bytes), files 0644 and
/// directories 0755 with mtime 0 and no owner, so the same content gives the same archive.
class tar_writer {
public:
    tar_writer(byte_sink& sink, std::string where);
    result<void> add_directory(std::string_view name);
    /// An entry of `size` bytes whose data `fill` supplies (it returns 0 only at the end).
    result<void> add_file(std::string_view name, std::int64_t size,
                          const std::function<result<std::size_t>(std::span<std::byte>)>& fill);
    result<void> add_file(std::string_view name, std::string_view bytes);
    /// Adds the regular file at `path` as `name`.
    result<void> add_path(std::string_view name, const std::filesystem::path& path);
    /// The two zero blocks that end an archive, then the sink's close().
    result<void> close();

private:
    result<void> header(std::string_view name, char type, std::int64_t size);
    byte_sink& sink_;
    std::string where_;
};

/// Extracts the tar stream of `source` into the empty directory `into`, entry by entry (regular files and
/// directories only, created with O_EXCL|O_NOFOLLOW), refusing what tar_reader refuses and more than
/// `max_bytes` of entry data in all. Returns the names of the files written, in archive order.
result<std::vector<std::string>> extract_tar(byte_source& source, std::string_view where,
                                             const std::filesystem::path& into, std::int64_t max_bytes,
                                             bool skip_symlinks = false);

/// Extracts the archive file `file` (compression by its magic bytes) into the empty directory `into` with
/// extract_tar, bounded by what the file can hold: its own size for a plain tar, 1032 times it (deflate's
/// largest ratio) for a compressed one, so a decompression bomb stops there. Messages name `file`.
result<std::vector<std::string>> extract_archive_file(const std::filesystem::path& file,
                                                      const std::filesystem::path& into,
                                                      bool skip_symlinks = false);

/// Writes `entries` (archive name, file on disk) as a tar archive compressed as `target`'s name says
/// (compression_for_path; errc::invalid_argument for another name), into a temp file next to `target` that
/// is synced and renamed over it: `target` is the old archive or the complete new one, never a partial one.
result<void> write_tar_file(const std::filesystem::path& target,
                            const std::vector<std::pair<std::string, std::filesystem::path>>& entries);

} // namespace libregistry
