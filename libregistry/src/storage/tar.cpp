#include "libregistry/storage/tar.hpp"

#include "libregistry/core/printable.hpp"
#include "storage/detail/files.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace libregistry {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t max_name = 4096;
constexpr std::int64_t max_meta = 1024 * 1024; ///< bound on pax headers and GNU long names
constexpr std::size_t tar_copy_chunk = 128 * 1024;

error invalid(std::string_view where, std::string_view entry, std::string_view what) {
    if (entry.empty()) return make_error(errc::invalid_archive, fmt::format("{}: {}", where, what));
    return make_error(errc::invalid_archive,
                      fmt::format("{}: entry \"{}\": {}", where, printable(entry, 200), what));
}

std::string_view field(std::span<const std::byte, tar_block> block, std::size_t offset, std::size_t size) {
    const auto* p = reinterpret_cast<const char*>(block.data()) + offset;
    return {p, strnlen(p, size)};
}

std::optional<std::int64_t> parse_number(std::span<const std::byte, tar_block> block, std::size_t offset,
                                         std::size_t size) {
    const auto* p = reinterpret_cast<const unsigned char*>(block.data()) + offset;
    if (p[0] & 0x80) {
        // GNU base-256: the rest of the first byte and the following bytes, big-endian; negative refused.
        if (p[0] & 0x40) return std::nullopt;
        std::uint64_t v = p[0] & 0x3f;
        for (std::size_t i = 1; i < size; ++i) {
            if (v >> 55) return std::nullopt;
            v = (v << 8) | p[i];
        }
        if (v > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
        return static_cast<std::int64_t>(v);
    }
    std::size_t i = 0;
    while (i < size && p[i] == ' ')
        ++i;
    std::int64_t v = 0;
    bool any = false;
    for (; i < size && p[i] >= '0' && p[i] <= '7'; ++i) {
        if (v > (INT64_MAX >> 3)) return std::nullopt;
        v = v * 8 + (p[i] - '0');
        any = true;
    }
    for (; i < size; ++i)
        if (p[i] != ' ' && p[i] != '\0') return std::nullopt;
    if (!any) return std::nullopt;
    return v;
}

void put_octal(char* p, std::size_t size, std::uint64_t v) {
    // size - 1 digits and a NUL.
    std::string digits = fmt::format("{:0{}o}", v, size - 1);
    std::memcpy(p, digits.data(), size - 1);
    p[size - 1] = '\0';
}

std::int64_t padding_of(std::int64_t size) {
    return (static_cast<std::int64_t>(tar_block) - size % static_cast<std::int64_t>(tar_block)) %
           static_cast<std::int64_t>(tar_block);
}

} // namespace

result<std::optional<tar_header>> parse_tar_header(std::span<const std::byte, tar_block> block,
                                                   std::string_view where) {
    if (std::all_of(block.begin(), block.end(), [](std::byte b) { return b == std::byte{0}; }))
        return std::optional<tar_header>{};
    const auto* u = reinterpret_cast<const unsigned char*>(block.data());
    const auto stored = parse_number(block, 148, 8);
    std::int64_t unsigned_sum = 0, signed_sum = 0;
    for (std::size_t i = 0; i < tar_block; ++i) {
        const bool in_checksum = i >= 148 && i < 156;
        unsigned_sum += in_checksum ? ' ' : u[i];
        signed_sum += in_checksum ? ' ' : static_cast<signed char>(u[i]);
    }
    tar_header h;
    h.name = std::string(field(block, 0, 100));
    if (!stored || (*stored != unsigned_sum && *stored != signed_sum))
        return invalid(where, h.name, "the header's checksum is wrong (a corrupt or non-tar stream)");
    const auto magic = field(block, 257, 6);
    // POSIX ustar ("ustar\0" + "00") has a name prefix; GNU ("ustar  \0") uses that space otherwise.
    if (magic == "ustar" && u[262] == '\0') {
        const auto prefix = field(block, 345, 155);
        if (!prefix.empty()) h.name = fmt::format("{}/{}", prefix, h.name);
    }
    h.type = u[156] == '\0' ? '0' : static_cast<char>(u[156]);
    const auto size = parse_number(block, 124, 12);
    if (!size) return invalid(where, h.name, "the header's size field is not a number");
    h.size = *size;
    h.linkname = std::string(field(block, 157, 100));
    return std::optional<tar_header>{std::move(h)};
}

result<std::vector<std::pair<std::string, std::string>>> parse_pax_records(std::string_view data,
                                                                           std::string_view where) {
    std::vector<std::pair<std::string, std::string>> out;
    while (!data.empty()) {
        const auto space = data.find(' ');
        if (space == std::string_view::npos || space == 0 || space > 12)
            return invalid(where, "", "a pax extended header record has no length");
        std::size_t length = 0;
        for (char c : data.substr(0, space)) {
            if (c < '0' || c > '9')
                return invalid(where, "", "a pax extended header record's length is not a number");
            length = length * 10 + static_cast<std::size_t>(c - '0');
        }
        if (length <= space + 1 || length > data.size() || data[length - 1] != '\n')
            return invalid(where, "", "a pax extended header record's length does not match it");
        const auto record = data.substr(space + 1, length - space - 2);
        const auto eq = record.find('=');
        if (eq == std::string_view::npos || eq == 0)
            return invalid(where, "", "a pax extended header record has no key=value");
        out.emplace_back(std::string(record.substr(0, eq)), std::string(record.substr(eq + 1)));
        data.remove_prefix(length);
    }
    return out;
}

result<std::string> safe_entry_name(std::string_view name, std::string_view where) {
    if (name.size() > max_name) return invalid(where, name, "the name is longer than 4096 bytes");
    if (name.starts_with('/'))
        return invalid(where, name, "an absolute path; archives here hold relative names only");
    for (unsigned char c : name)
        if (c < 0x20 || c == 0x7f || c == '\\')
            return invalid(where, name, "the name holds a control character or a backslash");
    std::string out;
    std::size_t start = 0;
    while (start <= name.size()) {
        auto slash = name.find('/', start);
        if (slash == std::string_view::npos) slash = name.size();
        const auto part = name.substr(start, slash - start);
        if (part == "..")
            return invalid(where, name, "the name contains \"..\", which would leave the directory");
        if (!part.empty() && part != ".") {
            if (!out.empty()) out += '/';
            out += part;
        }
        start = slash + 1;
    }
    if (out.empty()) return invalid(where, name, "the name is empty");
    return out;
}

tar_reader::tar_reader(byte_source& source, std::string where, bool skip_symlinks)
    : source_(source), where_(std::move(where)), skip_symlinks_(skip_symlinks) {}

error tar_reader::bad(std::string_view entry, std::string_view what) const {
    return invalid(where_, entry, what);
}

result<void> tar_reader::read_exact(std::span<std::byte> buffer, std::string_view what) {
    std::size_t done = 0;
    while (done < buffer.size()) {
        auto n = source_.read(buffer.subspan(done));
        if (!n) return n.error();
        if (*n == 0)
            return bad(current_, fmt::format("the archive ends inside {} (truncated); copy it again", what));
        done += *n;
    }
    return {};
}

result<std::string> tar_reader::read_meta(std::int64_t size, std::string_view what) {
    if (size > max_meta) return bad(current_, fmt::format("a {} of {} bytes (more than 1 MiB)", what, size));
    std::string data(static_cast<std::size_t>(size), '\0');
    if (auto r = read_exact(std::as_writable_bytes(std::span(data)), what); !r) return r.error();
    std::array<std::byte, tar_block> pad{};
    if (auto r = read_exact(std::span(pad).first(static_cast<std::size_t>(padding_of(size))), what); !r)
        return r.error();
    return data;
}

result<void> tar_reader::skip_rest() {
    std::array<std::byte, tar_block * 8> scratch{};
    while (remaining_ > 0) {
        const auto want = static_cast<std::size_t>(std::min<std::int64_t>(remaining_, scratch.size()));
        if (auto r = read_exact(std::span(scratch).first(want), "an entry's data"); !r) return r;
        remaining_ -= static_cast<std::int64_t>(want);
    }
    if (padding_ > 0) {
        if (auto r =
                read_exact(std::span(scratch).first(static_cast<std::size_t>(padding_)), "an entry's data");
            !r)
            return r;
        padding_ = 0;
    }
    return {};
}

result<std::optional<tar_entry>> tar_reader::next() {
    for (;;) {
        bool skipped = false;
        auto entry = next_entry(skipped);
        if (!entry || !skipped) return entry;
    }
}

result<std::optional<tar_entry>> tar_reader::next_entry(bool& skipped) {
    if (ended_) return std::optional<tar_entry>{};
    if (auto r = skip_rest(); !r) return r.error();
    std::optional<std::string> long_name;
    std::optional<std::int64_t> pax_size;
    for (;;) {
        std::array<std::byte, tar_block> block{};
        current_.clear();
        {
            std::size_t done = 0;
            while (done < block.size()) {
                auto n = source_.read(std::span(block).subspan(done));
                if (!n) return n.error();
                if (*n == 0) break;
                done += *n;
            }
            if (done == 0)
                return bad("",
                           "the archive ends without its end-of-archive blocks (truncated); copy it again");
            if (done < block.size())
                return bad("", "the archive ends inside a header (truncated); copy it again");
        }
        auto header = parse_tar_header(block, where_);
        if (!header) return header.error();
        if (!*header) {
            // The end-of-archive marker. Reading on to the end lets a compressed stream check its trailer.
            ended_ = true;
            std::array<std::byte, tar_block * 8> rest{};
            for (;;) {
                auto n = source_.read(rest);
                if (!n) return n.error();
                if (*n == 0) break;
            }
            return std::optional<tar_entry>{};
        }
        auto& h = **header;
        current_ = long_name ? *long_name : h.name;
        const auto size = pax_size ? *pax_size : h.size;
        switch (h.type) {
        case 'x': {
            auto data = read_meta(h.size, "pax extended header");
            if (!data) return data.error();
            auto records = parse_pax_records(*data, where_);
            if (!records) return records.error();
            for (auto& [key, value] : *records) {
                if (key == "path") long_name = value;
                if (key == "size") {
                    std::int64_t v = 0;
                    if (value.empty() || value.size() > 18 ||
                        !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
                        return bad(current_, "a pax size that is not a number");
                    for (char c : value)
                        v = v * 10 + (c - '0');
                    pax_size = v;
                }
            }
            continue;
        }
        case 'g': {
            if (auto data = read_meta(h.size, "pax global header"); !data) return data.error();
            continue;
        }
        case 'L': {
            auto data = read_meta(h.size, "GNU long name");
            if (!data) return data.error();
            long_name = std::string(data->c_str());
            continue;
        }
        case 'K': {
            if (auto data = read_meta(h.size, "GNU long link name"); !data) return data.error();
            continue;
        }
        case '0':
        case '7':
        case '5':
            break;
        case '1':
            return bad(current_, fmt::format("a hard link (to \"{}\"); archives here hold regular files only",
                                             printable(h.linkname, 200)));
        case '2':
            if (skip_symlinks_) {
                auto name = safe_entry_name(current_, where_);
                if (!name) return name.error();
                if (!seen_.insert(*name).second)
                    return bad(current_, "a second entry of this name; an archive names each file once");
                remaining_ = size;
                padding_ = padding_of(size);
                skipped = true;
                return std::optional<tar_entry>{};
            }
            return bad(current_,
                       fmt::format("a symbolic link (to \"{}\"); archives here hold regular files only",
                                   printable(h.linkname, 200)));
        case '3':
        case '4':
        case '6':
            return bad(current_, "a device or FIFO; archives here hold regular files only");
        default:
            return bad(current_,
                       fmt::format("entry type '{}' is not supported; archives here hold regular files "
                                   "and directories only",
                                   printable(std::string(1, h.type))));
        }
        auto name = safe_entry_name(current_, where_);
        if (!name) return name.error();
        const bool directory = h.type == '5';
        if (!seen_.insert(*name).second)
            return bad(current_, "a second entry of this name; an archive names each file once");
        remaining_ = directory ? 0 : size;
        padding_ = directory ? 0 : padding_of(size);
        if (directory && size != 0) {
            remaining_ = size;
            padding_ = padding_of(size);
        }
        return std::optional<tar_entry>{tar_entry{*name, directory, directory ? 0 : size}};
    }
}

result<std::size_t> tar_reader::read(std::span<std::byte> buffer) {
    if (remaining_ == 0) return std::size_t{0};
    const auto want = static_cast<std::size_t>(std::min<std::int64_t>(remaining_, buffer.size()));
    auto n = source_.read(buffer.first(want));
    if (!n) return n.error();
    if (*n == 0) return bad(current_, "the archive ends inside this entry's data (truncated); copy it again");
    remaining_ -= static_cast<std::int64_t>(*n);
    return *n;
}

tar_writer::tar_writer(byte_sink& sink, std::string where) : sink_(sink), where_(std::move(where)) {}

result<void> tar_writer::header(std::string_view name, char type, std::int64_t size) {
    if (name.size() > 100) {
        // A pax `path` record carries the long name; the ustar name field keeps a truncated copy.
        auto record_body = fmt::format(" path={}\n", name);
        auto length = record_body.size() + 1;
        while (std::to_string(length).size() + record_body.size() != length)
            length = std::to_string(length).size() + record_body.size();
        const auto record = fmt::format("{}{}", length, record_body);
        if (auto r = header("PaxHeaders/entry", 'x', static_cast<std::int64_t>(record.size())); !r) return r;
        if (auto r = sink_.write(std::as_bytes(std::span(record.data(), record.size()))); !r) return r;
        const std::array<std::byte, tar_block> zeros{};
        if (auto r = sink_.write(std::span(zeros).first(
                static_cast<std::size_t>(padding_of(static_cast<std::int64_t>(record.size())))));
            !r)
            return r;
        name = name.substr(0, 100);
    }
    std::array<char, tar_block> b{};
    std::memcpy(b.data(), name.data(), name.size());
    put_octal(b.data() + 100, 8, type == '5' ? 0755 : 0644);
    put_octal(b.data() + 108, 8, 0);
    put_octal(b.data() + 116, 8, 0);
    put_octal(b.data() + 124, 12, static_cast<std::uint64_t>(size));
    put_octal(b.data() + 136, 12, 0);
    b[156] = type;
    std::memcpy(b.data() + 257, "ustar", 6);
    std::memcpy(b.data() + 263, "00", 2);
    std::memset(b.data() + 148, ' ', 8);
    unsigned sum = 0;
    for (char c : b)
        sum += static_cast<unsigned char>(c);
    put_octal(b.data() + 148, 7, sum);
    b[155] = ' ';
    return sink_.write(std::as_bytes(std::span(b)));
}

result<void> tar_writer::add_directory(std::string_view name) {
    return header(fmt::format("{}/", name), '5', 0);
}

result<void> tar_writer::add_file(std::string_view name, std::int64_t size,
                                  const std::function<result<std::size_t>(std::span<std::byte>)>& fill) {
    if (auto r = header(name, '0', size); !r) return r;
    std::vector<std::byte> buffer(tar_copy_chunk);
    std::int64_t written = 0;
    for (;;) {
        auto n = fill(buffer);
        if (!n) return n.error();
        if (*n == 0) break;
        written += static_cast<std::int64_t>(*n);
        if (written > size) break;
        if (auto r = sink_.write(std::span(buffer).first(*n)); !r) return r;
    }
    if (written != size)
        return make_error(errc::io_error, fmt::format("{}: entry \"{}\" changed size while it was archived "
                                                      "({} bytes, not {})",
                                                      where_, name, written, size));
    const std::array<std::byte, tar_block> zeros{};
    return sink_.write(std::span(zeros).first(static_cast<std::size_t>(padding_of(size))));
}

result<void> tar_writer::add_file(std::string_view name, std::string_view bytes) {
    if (auto r =
            sink_.set_compressible(!looks_compressed(std::as_bytes(std::span(bytes.data(), bytes.size()))));
        !r)
        return r;
    auto source = memory_source(bytes);
    return add_file(name, static_cast<std::int64_t>(bytes.size()),
                    [&](std::span<std::byte> buffer) { return source->read(buffer); });
}

result<void> tar_writer::add_path(std::string_view name, const fs::path& path) {
    auto fd = detail::open_regular(path);
    if (!fd) return fd.error();
    auto size = detail::file_size(fd->get(), path);
    if (!size) return size.error();
    const int raw = fd->get();
    // A compressed layer is not compressed again: the sink passes it through at its cheapest level.
    std::array<std::byte, 8> head{};
    const auto got = ::pread(raw, head.data(), head.size(), 0);
    if (got < 0) return detail::io_failure("read", path, errno);
    if (auto r =
            sink_.set_compressible(!looks_compressed(std::span(head.data(), static_cast<std::size_t>(got))));
        !r)
        return r;
    return add_file(name, *size,
                    [&](std::span<std::byte> buffer) { return detail::read_some(raw, buffer, path); });
}

result<void> tar_writer::close() {
    const std::array<std::byte, tar_block * 2> zeros{};
    if (auto r = sink_.write(zeros); !r) return r;
    return sink_.close();
}

result<std::vector<std::string>> extract_tar(byte_source& source, std::string_view where,
                                             const fs::path& into, std::int64_t max_bytes,
                                             bool skip_symlinks) {
    tar_reader reader(source, std::string(where), skip_symlinks);
    std::vector<std::string> files;
    std::int64_t total = 0;
    std::vector<std::byte> buffer(tar_copy_chunk);
    for (;;) {
        auto entry = reader.next();
        if (!entry) return entry.error();
        if (!*entry) return files;
        const auto target = into / (*entry)->name;
        std::error_code ec;
        if ((*entry)->directory) {
            fs::create_directories(target, ec);
            if (ec) return detail::io_failure("create", target, ec.value());
            continue;
        }
        total += (*entry)->size;
        if (total > max_bytes)
            return invalid(
                where, (*entry)->name,
                fmt::format("the archive holds more than the {} bytes its size allows", max_bytes));
        fs::create_directories(target.parent_path(), ec);
        if (ec) return detail::io_failure("create", target.parent_path(), ec.value());
        detail::unique_fd fd(
            ::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
        if (!fd) {
            if (errno == EEXIST || errno == EISDIR)
                return invalid(where, (*entry)->name,
                               "a file where the archive already has a directory or file");
            return detail::io_failure("create", target, errno);
        }
        for (;;) {
            auto n = reader.read(buffer);
            if (!n) return n.error();
            if (*n == 0) break;
            if (auto w = detail::write_all(fd.get(), std::span<const std::byte>(buffer.data(), *n), target);
                !w)
                return w.error();
        }
        files.push_back((*entry)->name);
    }
}

result<std::vector<std::string>> extract_archive_file(const fs::path& file, const fs::path& into,
                                                      bool skip_symlinks) {
    auto source = open_archive_file(file);
    if (!source) return source.error();
    std::error_code ec;
    const auto archive_size = fs::file_size(file, ec);
    if (ec) return detail::io_failure("stat", file, ec.value());
    std::array<std::byte, 4> head{};
    {
        auto peek = detail::open_regular(file);
        if (!peek) return peek.error();
        auto n = detail::read_some(peek->get(), head, file);
        if (!n) return n.error();
    }
    // A plain tar is larger than the data it holds; a compressed one expands at most 1032 times (deflate's
    // limit; zstd's real ratios on layers are far below).
    const auto plain = detect_compression(head) == archive_compression::none;
    const auto size = std::min<std::uintmax_t>(archive_size, INT64_MAX / 1032);
    const auto bound = static_cast<std::int64_t>(plain ? size : size * 1032);
    return extract_tar(**source, file.string(), into, bound, skip_symlinks);
}

result<void> write_tar_file(const fs::path& target,
                            const std::vector<std::pair<std::string, fs::path>>& entries) {
    const auto compression = compression_for_target(target);
    if (!compression) return compression.error();
    const auto dir = target.parent_path().empty() ? fs::path(".") : target.parent_path();
    fs::path temp;
    auto fd = detail::create_temp_file(dir, fmt::format(".{}.tmp-", target.filename().string()), temp);
    if (!fd) return fd.error();
    auto written = [&]() -> result<void> {
        auto sink = compressing_sink(fd->get(), *compression, temp);
        tar_writer writer(*sink, target.string());
        for (const auto& [name, path] : entries)
            if (auto r = writer.add_path(name, path); !r) return r;
        if (auto r = writer.close(); !r) return r;
        if (::fchmod(fd->get(), 0644) != 0) return detail::io_failure("chmod", temp, errno);
        return detail::sync_file(fd->get(), temp);
    }();
    if (written) written = detail::rename_durably(temp, target);
    if (!written) ::unlink(temp.c_str());
    return written;
}

} // namespace libregistry
