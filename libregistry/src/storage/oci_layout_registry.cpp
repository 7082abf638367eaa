#include "libregistry/storage/oci_layout_registry.hpp"

#include "libregistry/core/printable.hpp"
#include "libregistry/core/reference.hpp"
#include "libregistry/storage/layout_format.hpp"
#include "storage/detail/file_blob_reader.hpp"
#include "storage/detail/files.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <fcntl.h>
#include <set>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace libregistry {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using detail::unique_fd;

namespace {

constexpr std::string_view temp_dir_name = ".syncer-tmp";
constexpr std::size_t copy_chunk = 256 * 1024;

std::string ref_name_of(const descriptor& d) {
    const auto it = d.annotations.find(std::string(ref_name_annotation));
    return it == d.annotations.end() ? std::string() : it->second;
}

std::string repository_of(const descriptor& d) {
    const auto it = d.annotations.find(std::string(repository_annotation));
    return it == d.annotations.end() ? std::string() : it->second;
}

/// A file over its bound is malformed input, not a registry's oversized answer.
error as_invalid(error e) {
    if (e.code == errc::too_large) e.code = errc::invalid_archive;
    return e;
}

bool is_digest_ref(std::string_view ref) {
    return ref.find(':') != std::string_view::npos;
}

} // namespace

struct oci_layout_registry::impl {
    fs::path dir;
    oci_layout_options options;
    unique_fd lock;
    std::vector<descriptor> entries;
    std::map<std::string, std::pair<unique_fd, fs::path>> uploads; ///< location -> temp file
    int upload_count = 0;
    std::set<digest> base_blobs;       ///< writing a delta: every blob of the base
    std::optional<delta_record> delta; ///< the delta read or being written
    std::set<digest> streamed;         ///< writing: blobs handed on (mark_streamed) and removed from blobs/
    bool sync_blobs = true;            ///< false: skip_blob_sync()

    std::string where() const { return dir.string(); }
    fs::path blob_file(const digest& d) const { return dir / blob_path(d); }
    fs::path temp_dir() const { return dir / temp_dir_name; }

    error read_only() const {
        return make_error(errc::unsupported,
                          fmt::format("image layout {} is open for reading only", where()));
    }

    /// The tag an entry gives `repository`, or nullopt when it is not one of its entries.
    std::optional<std::string> tag_of(const descriptor& d, const std::string& repository) const {
        const auto ref = ref_name_of(d);
        if (ref.empty()) return std::nullopt;
        if (options.naming == layout_naming::single) return ref;
        if (repository_of(d) != repository) return std::nullopt;
        const auto prefix = repository + ":";
        if (!ref.starts_with(prefix)) return std::nullopt;
        return ref.substr(prefix.size());
    }

    result<void> check_repository(const std::string& repository) const {
        if (options.naming == layout_naming::bundle && !is_valid_repository_path(repository))
            return make_error(errc::name_invalid,
                              fmt::format("{} is not a valid repository name (image layout {})",
                                          printable(repository, 200), where()));
        return {};
    }

    result<void> check_tag(const std::string& repository, const std::string& tag) const {
        if (!is_valid_tag(tag))
            return make_error(errc::invalid_reference, fmt::format("{} is not a valid tag (image layout {})",
                                                                   printable(tag, 200), where()));
        const auto ref = options.naming == layout_naming::single ? tag : repository + ":" + tag;
        if (!is_valid_ref_name(ref))
            return make_error(
                errc::invalid_reference,
                fmt::format("tag {} of {} cannot be stored in image layout {}: its "
                            "org.opencontainers.image.ref.name {} breaks the image-spec grammar "
                            "(alphanumerics joined by one of -._:@+ or --); rename the tag",
                            tag, repository, where(), ref));
        return {};
    }

    bool has_file(const digest& d) const {
        struct stat st {};
        return ::lstat(blob_file(d).c_str(), &st) == 0 && S_ISREG(st.st_mode);
    }

    /// Under blobs/, or already handed on to an archive stream.
    bool stored(const digest& d) const { return streamed.contains(d) || has_file(d); }

    /// Stored, or left out of a delta because its base holds it.
    bool present(const digest& d) const { return stored(d) || (delta && delta->omitted.contains(d)); }

    result<void> ensure_blob_dir(const digest& d) const {
        std::error_code ec;
        fs::create_directories(dir / "blobs" / std::string(d.algorithm()), ec);
        if (ec) return detail::io_failure("create", dir / "blobs" / std::string(d.algorithm()), ec.value());
        return {};
    }

    /// Moves a finished temp file into place as blob `d`.
    result<void> commit_blob(const fs::path& temp, const digest& d) const {
        if (auto made = ensure_blob_dir(d); !made) return made;
        if (!sync_blobs) {
            std::error_code ec;
            fs::rename(temp, blob_file(d), ec);
            if (ec) return detail::io_failure("rename", temp, ec.value());
            return {};
        }
        return detail::rename_durably(temp, blob_file(d));
    }

    result<digest> store(std::string_view bytes, const std::optional<digest>& expected) const {
        const auto d = digest_of(bytes, expected ? expected->algorithm() : "sha256");
        if (expected && d != *expected)
            return make_error(errc::digest_invalid,
                              fmt::format("the bytes for {} hash to {}", expected->str(), d.str()));
        if (has_file(d)) return d;
        fs::path temp;
        auto fd = detail::create_temp_file(temp_dir(), "blob-", temp);
        if (!fd) return fd.error();
        auto done = detail::write_all(fd->get(), bytes, temp);
        if (done && sync_blobs) done = detail::sync_file(fd->get(), temp);
        if (done) done = commit_blob(temp, d);
        if (!done) {
            ::unlink(temp.c_str());
            return done.error();
        }
        return d;
    }

    result<std::optional<descriptor>> find(const std::string& repository, const std::string& ref) const {
        if (is_digest_ref(ref)) {
            auto d = digest::parse(ref);
            if (!d) return d.error();
            for (const auto& e : entries)
                if (e.digest == *d) return std::optional<descriptor>{e};
            if (!has_file(*d)) return std::optional<descriptor>{};
            // An untagged manifest (an index's child): its media type is in its bytes.
            auto m = read(*d, std::string());
            if (!m) return m.error();
            return std::optional<descriptor>{m->as_descriptor()};
        }
        for (auto it = entries.rbegin(); it != entries.rend(); ++it)
            if (tag_of(*it, repository) == ref) return std::optional<descriptor>{*it};
        return std::optional<descriptor>{};
    }

    result<manifest> read(const digest& d, const std::string& media_type) const {
        const auto path = blob_file(d);
        auto bytes = detail::read_small_file(path, max_manifest_size);
        if (!bytes) {
            if (bytes.error().code == errc::not_found)
                return make_error(
                    errc::manifest_unknown,
                    fmt::format("manifest {} is missing from image layout {} ({} does not exist)", d.str(),
                                where(), path.string()),
                    404);
            return bytes.error();
        }
        if (digest_of(*bytes, d.algorithm()) != d)
            return make_error(
                errc::digest_mismatch,
                fmt::format("{} does not hash to {}: the layout is corrupt; copy the image again",
                            path.string(), d.str()));
        auto m = parse_manifest(std::move(*bytes), media_type);
        if (!m)
            return make_error(m.error().code == errc::too_large ? errc::too_large : errc::invalid_manifest,
                              fmt::format("{}: {}", path.string(), m.error().message));
        return m;
    }
};

oci_layout_registry::oci_layout_registry(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

oci_layout_registry::~oci_layout_registry() {
    for (auto& [location, upload] : impl_->uploads)
        ::unlink(upload.second.c_str());
}

result<std::unique_ptr<oci_layout_registry>> oci_layout_registry::open(fs::path dir,
                                                                       oci_layout_options options) {
    auto p = std::make_unique<impl>();
    p->dir = dir;
    p->options = options;
    std::error_code ec;
    const auto layout_file = dir / "oci-layout";
    const auto index_file = dir / "index.json";
    const bool exists = fs::exists(fs::symlink_status(dir, ec));
    if (!exists && !options.writable)
        return make_error(errc::not_found, fmt::format("image layout {} does not exist", dir.string()));
    if (exists && !fs::is_directory(fs::symlink_status(dir, ec)))
        return make_error(errc::invalid_argument,
                          fmt::format("{} is not a directory; an image layout is a directory", dir.string()));
    if (!exists) {
        fs::create_directories(dir, ec);
        if (ec) return detail::io_failure("create", dir, ec.value());
    }
    if (options.writable) {
        p->lock = unique_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!p->lock) return detail::io_failure("open", dir, errno);
        if (::flock(p->lock.get(), LOCK_EX | LOCK_NB) != 0) {
            if (errno == EWOULDBLOCK)
                return make_error(
                    errc::busy,
                    fmt::format("image layout {} is being written by another process; wait for it "
                                "to finish or write to another directory",
                                dir.string()));
            return detail::io_failure("lock", dir, errno);
        }
    }
    auto layout = detail::read_small_file(layout_file, max_oci_layout_size);
    if (!layout && layout.error().code == errc::not_found) {
        bool empty = true;
        for (const auto& item : fs::directory_iterator(dir, ec))
            if (item.path().filename() != temp_dir_name) empty = false;
        if (!options.writable || !empty)
            return make_error(
                errc::invalid_archive,
                fmt::format("{} is not an OCI image layout: it has no oci-layout file{}", dir.string(),
                            options.writable ? " and is not empty; name an empty or new directory" : ""));
        if (auto written = detail::replace_file(layout_file, oci_layout_file()); !written)
            return written.error();
    } else if (!layout) {
        return as_invalid(layout.error());
    } else if (auto ok = parse_oci_layout(*layout, layout_file.string()); !ok) {
        return ok.error();
    }
    auto index = detail::read_small_file(index_file, max_layout_index_size);
    if (index) {
        auto parsed = parse_layout_index(*index, index_file.string());
        if (!parsed) return parsed.error();
        p->entries = std::move(*parsed);
    } else if (index.error().code != errc::not_found) {
        return as_invalid(index.error());
    } else if (!options.writable) {
        return make_error(errc::invalid_archive,
                          fmt::format("{} is not an OCI image layout: it has no index.json", dir.string()));
    }
    auto delta = detail::read_small_file(dir / delta_file_name, max_delta_file_size);
    if (delta) {
        auto parsed = parse_delta_file(*delta, (dir / delta_file_name).string());
        if (!parsed) return parsed.error();
        p->delta = std::move(*parsed);
    } else if (delta.error().code != errc::not_found) {
        return as_invalid(delta.error());
    }
    if (options.writable) {
        // Whatever an earlier writer left half-written (it was killed) is of no use: the lock says it is
        // gone.
        fs::remove_all(p->temp_dir(), ec);
        fs::create_directories(p->temp_dir(), ec);
        if (ec) return detail::io_failure("create", p->temp_dir(), ec.value());
    }
    return std::unique_ptr<oci_layout_registry>(new oci_layout_registry(std::move(p)));
}

const fs::path& oci_layout_registry::path() const noexcept {
    return impl_->dir;
}

const std::vector<descriptor>& oci_layout_registry::entries() const noexcept {
    return impl_->entries;
}

std::string oci_layout_registry::name() const {
    return "oci:" + impl_->dir.string();
}

std::vector<std::string> oci_layout_registry::repositories() const {
    std::vector<std::string> out;
    for (const auto& e : impl_->entries) {
        auto repo = repository_of(e);
        if (!repo.empty() && std::find(out.begin(), out.end(), repo) == out.end())
            out.push_back(std::move(repo));
    }
    return out;
}

result<std::optional<descriptor>> oci_layout_registry::lookup(const std::string& repository,
                                                              const std::string& ref) const {
    return impl_->find(repository, ref);
}

result<manifest> oci_layout_registry::read_manifest(const std::string& repository,
                                                    const std::string& ref) const {
    auto found = impl_->find(repository, ref);
    if (!found) return found.error();
    if (!*found)
        return make_error(errc::manifest_unknown,
                          fmt::format("image layout {} has no manifest {} for {}", impl_->where(),
                                      printable(ref, 200), printable(repository, 200)),
                          404);
    return impl_->read((*found)->digest, (*found)->media_type);
}

result<void> oci_layout_registry::can_store(const std::string& repository, const std::string&,
                                            const manifest& m) const {
    if (m.kind == manifest_kind::schema1 || digest_of(m.bytes, m.digest.algorithm()) != m.digest)
        return make_error(
            errc::unsupported,
            fmt::format("the {} manifest {} of {} cannot be stored in an image layout (its digest is "
                        "not that of its bytes: Docker schema 1); copy it between registries",
                        m.media_type, m.digest.str(), repository));
    return {};
}

result<digest> oci_layout_registry::write_manifest(const std::string& repository, const std::string& ref,
                                                   const manifest& m) {
    if (!impl_->options.writable) return impl_->read_only();
    if (auto ok = impl_->check_repository(repository); !ok) return ok.error();
    if (auto storable = can_store(repository, ref, m); !storable) return storable.error();
    const bool by_digest = is_digest_ref(ref);
    if (by_digest) {
        auto d = digest::parse(ref);
        if (!d) return d.error();
        if (*d != m.digest)
            return make_error(errc::digest_invalid,
                              fmt::format("manifest {} pushed as {}", m.digest.str(), d->str()));
    } else if (auto ok = impl_->check_tag(repository, ref); !ok) {
        return ok.error();
    }
    // What an index.json entry names must be there first: every blob of an image, every child of an index.
    for (const auto& b : m.blobs())
        if (!impl_->present(b.digest))
            return make_error(errc::manifest_blob_unknown,
                              fmt::format("manifest {} of {} names blob {}, which image layout {} lacks",
                                          m.digest.str(), repository, b.digest.str(), impl_->where()));
    for (const auto& c : m.manifests)
        if (!impl_->has_file(c.digest))
            return make_error(errc::manifest_blob_unknown,
                              fmt::format("index {} of {} names manifest {}, which image layout {} lacks",
                                          m.digest.str(), repository, c.digest.str(), impl_->where()));
    auto stored = impl_->store(m.bytes, m.digest);
    if (!stored) return stored.error();
    if (by_digest) return m.digest;
    std::erase_if(impl_->entries, [&](const descriptor& e) { return impl_->tag_of(e, repository) == ref; });
    descriptor entry;
    entry.media_type = m.media_type;
    entry.digest = m.digest;
    entry.size = static_cast<std::int64_t>(m.bytes.size());
    if (impl_->options.naming == layout_naming::single) {
        entry.annotations[std::string(ref_name_annotation)] = ref;
    } else {
        entry.annotations[std::string(ref_name_annotation)] = repository + ":" + ref;
        entry.annotations[std::string(repository_annotation)] = repository;
    }
    impl_->entries.push_back(std::move(entry));
    return m.digest;
}

result<digest> oci_layout_registry::write_blob(std::string_view bytes,
                                               const std::optional<digest>& expected) {
    if (!impl_->options.writable) return impl_->read_only();
    return impl_->store(bytes, expected);
}

bool oci_layout_registry::contains_blob(const digest& d) const {
    return impl_->stored(d);
}

void oci_layout_registry::skip_blob_sync() noexcept {
    impl_->sync_blobs = false;
}

void oci_layout_registry::mark_streamed(const digest& d) {
    impl_->streamed.insert(d);
}

bool oci_layout_registry::streamed(const digest& d) const {
    return impl_->streamed.contains(d);
}

result<std::unique_ptr<blob_reader>> oci_layout_registry::open_blob(const descriptor& desc) const {
    if (impl_->delta && !impl_->has_file(desc.digest) && impl_->delta->omitted.contains(desc.digest))
        return make_error(
            errc::blob_unknown,
            fmt::format("blob {} is not in delta bundle {}: it was left out because base bundle {} "
                        "holds it; import that bundle first",
                        desc.digest.str(), impl_->where(), impl_->delta->base),
            404);
    return detail::open_file_blob(impl_->blob_file(desc.digest), desc);
}

asio::awaitable<result<std::optional<descriptor>>> oci_layout_registry::head_manifest(std::string repository,
                                                                                      std::string ref) {
    co_return lookup(repository, ref);
}

asio::awaitable<result<manifest>> oci_layout_registry::get_manifest(std::string repository, std::string ref) {
    co_return read_manifest(repository, ref);
}

asio::awaitable<result<pushed_manifest>> oci_layout_registry::put_manifest(std::string repository,
                                                                           std::string ref, manifest m) {
    // A layout keeps no referrers index of its own: the copy engine writes the tag schema's index there.
    auto written = write_manifest(repository, ref, m);
    if (!written) co_return written.error();
    co_return pushed_manifest{*written, std::nullopt};
}

asio::awaitable<result<bool>> oci_layout_registry::has_blob(std::string, digest d) {
    if (impl_->stored(d)) co_return true;
    if (impl_->options.writable && impl_->delta && impl_->base_blobs.contains(d)) {
        impl_->delta->omitted.insert(d);
        co_return true;
    }
    co_return false;
}

asio::awaitable<result<std::unique_ptr<blob_reader>>> oci_layout_registry::get_blob(std::string,
                                                                                    descriptor desc) {
    co_return open_blob(desc);
}

asio::awaitable<result<std::optional<upload_session>>>
oci_layout_registry::start_upload(std::string repository, std::optional<digest> d,
                                  std::optional<std::string> mount_from) {
    if (!impl_->options.writable) co_return impl_->read_only();
    // Every blob of a layout serves every repository in it: a mount is a blob already there.
    if (d && mount_from && impl_->stored(*d)) co_return std::optional<upload_session>{};
    fs::path temp;
    auto fd = detail::create_temp_file(impl_->temp_dir(), "upload-", temp);
    if (!fd) co_return fd.error();
    upload_session s;
    s.repository = repository;
    s.location = fmt::format("upload-{}", ++impl_->upload_count);
    impl_->uploads.emplace(s.location, std::make_pair(std::move(*fd), temp));
    co_return std::optional<upload_session>{s};
}

asio::awaitable<result<void>> oci_layout_registry::finish_upload(upload_session session, descriptor desc,
                                                                 blob_reader& reader) {
    const auto it = impl_->uploads.find(session.location);
    if (it == impl_->uploads.end())
        co_return make_error(errc::blob_upload_unknown, fmt::format("no upload {} in image layout {}",
                                                                    session.location, impl_->where()));
    auto [fd, temp] = std::move(it->second);
    impl_->uploads.erase(it);
    digester hasher(desc.digest.algorithm());
    std::int64_t size = 0;
    std::vector<std::byte> buffer(copy_chunk);
    result<void> done;
    for (;;) {
        auto n = co_await reader.read(buffer);
        if (!n) {
            done = n.error();
            break;
        }
        if (*n == 0) break;
        const std::span<const std::byte> chunk(buffer.data(), *n);
        hasher.update(chunk.data(), chunk.size());
        size += static_cast<std::int64_t>(*n);
        done = detail::write_all(fd.get(), chunk, temp);
        if (!done) break;
    }
    if (done && desc.size >= 0 && size != desc.size)
        done =
            make_error(errc::size_invalid, fmt::format("blob {} is {} bytes, not the {} its descriptor says",
                                                       desc.digest.str(), size, desc.size));
    if (done) {
        const auto got = hasher.finish();
        if (got != desc.digest)
            done = make_error(errc::digest_invalid, fmt::format("the bytes sent for blob {} hash to {}",
                                                                desc.digest.str(), got.str()));
    }
    if (done && impl_->sync_blobs) done = detail::sync_file(fd.get(), temp);
    if (done) done = impl_->commit_blob(temp, desc.digest);
    if (!done) ::unlink(temp.c_str());
    co_return done;
}

asio::awaitable<void> oci_layout_registry::cancel_upload(upload_session session) {
    const auto it = impl_->uploads.find(session.location);
    if (it == impl_->uploads.end()) co_return;
    ::unlink(it->second.second.c_str());
    impl_->uploads.erase(it);
}

asio::awaitable<result<std::vector<std::string>>> oci_layout_registry::list_tags(std::string repository) {
    std::vector<std::string> out;
    for (const auto& e : impl_->entries)
        if (auto tag = impl_->tag_of(e, repository);
            tag && std::find(out.begin(), out.end(), *tag) == out.end())
            out.push_back(std::move(*tag));
    if (out.empty())
        co_return make_error(
            errc::name_unknown,
            fmt::format("image layout {} holds no image of {}", impl_->where(), printable(repository, 200)),
            404);
    co_return out;
}

asio::awaitable<result<referrer_list>>
oci_layout_registry::list_referrers(std::string repository, digest subject,
                                    std::optional<std::string> artifact_type, bool tag_schema) {
    referrer_list out;
    if (!tag_schema) co_return out; // a layout has only the tag schema
    auto found = impl_->find(repository, referrers_tag(subject));
    if (!found) co_return found.error();
    if (!*found) co_return out;
    auto index = impl_->read((*found)->digest, (*found)->media_type);
    if (!index) co_return index.error();
    if (index->kind != manifest_kind::index)
        co_return make_error(
            errc::invalid_manifest,
            fmt::format("tag {} of {} in image layout {} holds no index, so it is not a referrers "
                        "tag schema index",
                        referrers_tag(subject), repository, impl_->where()));
    out.source = referrers_source::tag_schema;
    out.descriptors = filter_artifact_type(index->manifests, artifact_type);
    co_return out;
}

asio::awaitable<result<bool>> oci_layout_registry::delete_tag(std::string repository, std::string tag) {
    if (!impl_->options.writable) co_return impl_->read_only();
    const auto removed = std::erase_if(
        impl_->entries, [&](const descriptor& e) { return impl_->tag_of(e, repository) == tag; });
    co_return removed > 0;
}

asio::awaitable<result<bool>> oci_layout_registry::delete_manifest(std::string repository, digest d) {
    if (!impl_->options.writable) co_return impl_->read_only();
    const auto removed = std::erase_if(impl_->entries, [&](const descriptor& e) {
        return e.digest == d && impl_->tag_of(e, repository).has_value();
    });
    co_return removed > 0;
}

result<void> oci_layout_registry::verify_complete() const {
    for (const auto& e : impl_->entries) {
        const auto name = ref_name_of(e).empty() ? e.digest.str() : ref_name_of(e);
        std::vector<descriptor> pending{e};
        std::set<digest> seen;
        while (!pending.empty()) {
            const auto d = pending.back();
            pending.pop_back();
            if (!seen.insert(d.digest).second) continue;
            auto m = impl_->read(d.digest, d.media_type);
            if (!m)
                return make_error(errc::invalid_archive,
                                  fmt::format("{}: index.json entry {} is incomplete: {}", impl_->where(),
                                              printable(name, 200), m.error().message));
            for (const auto& b : m->blobs())
                if (!impl_->present(b.digest))
                    return make_error(
                        errc::invalid_archive,
                        fmt::format("{}: index.json entry {} is incomplete: manifest {} names blob {}, "
                                    "which is missing ({})",
                                    impl_->where(), printable(name, 200), m->digest.str(), b.digest.str(),
                                    blob_path(b.digest)));
            for (const auto& c : m->manifests)
                pending.push_back(c);
        }
    }
    return {};
}

result<void> oci_layout_registry::finish() {
    if (!impl_->options.writable) return {};
    for (const auto& e : impl_->entries)
        if (!impl_->has_file(e.digest))
            return make_error(
                errc::manifest_blob_unknown,
                fmt::format("index.json of image layout {} would name manifest {}, which is missing; "
                            "index.json is left as it was",
                            impl_->where(), e.digest.str()));
    if (impl_->delta)
        if (auto written = detail::replace_file(impl_->dir / delta_file_name, delta_file(*impl_->delta));
            !written)
            return written;
    auto blobs = blob_set();
    if (!blobs) return blobs.error();
    return detail::replace_file(impl_->dir / "index.json", layout_index_file(impl_->entries, *blobs));
}

void oci_layout_registry::omit_base_blobs(delta_record base) {
    impl_->base_blobs = std::move(base.omitted);
    // A rerun into the same delta keeps what the earlier run left out.
    auto kept = impl_->delta ? std::move(impl_->delta->omitted) : std::set<digest>{};
    base.omitted = std::move(kept);
    impl_->delta = std::move(base);
}

const std::optional<delta_record>& oci_layout_registry::delta() const noexcept {
    return impl_->delta;
}

result<std::set<digest>> oci_layout_registry::blob_set() const {
    std::set<digest> out = impl_->streamed;
    if (impl_->delta) out.insert(impl_->delta->omitted.begin(), impl_->delta->omitted.end());
    std::error_code ec;
    for (const auto* algorithm : {"sha256", "sha512"}) {
        const auto folder = impl_->dir / "blobs" / algorithm;
        if (!fs::exists(folder, ec)) continue;
        for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
            auto d = digest::parse(fmt::format("{}:{}", algorithm, it->path().filename().string()));
            if (d && it->is_regular_file(ec)) out.insert(*d);
        }
        if (ec) return detail::io_failure("list", folder, ec.value());
    }
    return out;
}

} // namespace libregistry
