#include "libregistry/storage/oci_archive_registry.hpp"

#include "libregistry/storage/tar.hpp"
#include "storage/detail/archive_stream.hpp"
#include "storage/detail/files.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>

#include <sys/stat.h>
#include <unistd.h>

namespace libregistry {

namespace asio = boost::asio;
namespace fs = std::filesystem;

result<std::vector<std::pair<std::string, fs::path>>> layout_archive_entries(const fs::path& dir) {
    std::vector<std::pair<std::string, fs::path>> out{{"oci-layout", dir / "oci-layout"},
                                                      {"index.json", dir / "index.json"}};
    std::vector<std::pair<std::string, fs::path>> blobs;
    std::error_code ec;
    if (fs::exists(dir / delta_file_name, ec))
        out.emplace_back(std::string(delta_file_name), dir / delta_file_name);
    for (fs::recursive_directory_iterator it(dir / "blobs", ec), end; !ec && it != end; it.increment(ec)) {
        if (!it->is_regular_file(ec)) continue;
        const auto name = fs::relative(it->path(), dir, ec).generic_string();
        blobs.emplace_back(name, it->path());
    }
    if (ec) return detail::io_failure("list", dir / "blobs", ec.value());
    std::sort(blobs.begin(), blobs.end());
    out.insert(out.end(), blobs.begin(), blobs.end());
    return out;
}

oci_archive_registry::oci_archive_registry(fs::path file, fs::path work, bool writable,
                                           std::unique_ptr<oci_layout_registry> layout,
                                           std::unique_ptr<detail::archive_stream> out)
    : file_(std::move(file)), work_(std::move(work)), writable_(writable), layout_(std::move(layout)),
      out_(std::move(out)) {}

oci_archive_registry::~oci_archive_registry() {
    layout_.reset();
    // A writer's work directory belongs to its stream, which removes it (and the temp archive, unless
    // finished); a reader's spool is removed here.
    if (out_) {
        out_.reset();
        return;
    }
    std::error_code ec;
    fs::remove_all(work_, ec);
}

result<std::unique_ptr<oci_archive_registry>> oci_archive_registry::open(fs::path file,
                                                                         oci_archive_options options) {
    std::error_code ec;
    if (options.writable) {
        if (auto compression = compression_for_target(file); !compression) return compression.error();
        // The temp archive and the work directory (uploads in flight, manifests, index.json) sit next to
        // the target; a crash leaves a .<name>.tmp-* file and a .<name>.syncer-* directory there, never a
        // partial archive under the target's name, and the next writer of the target removes them.
        auto out = detail::archive_stream::create(file);
        if (!out) return out.error();
        auto layout =
            oci_layout_registry::open((*out)->work() / "layout", oci_layout_options{options.naming, true});
        if (!layout) return layout.error();
        // Each blob's file lives until it is appended, and a crash discards the work directory: syncing it
        // would only wait for the disk. The archive is synced once, before its rename.
        (*layout)->skip_blob_sync();
        const auto work = (*out)->work();
        return std::unique_ptr<oci_archive_registry>(
            new oci_archive_registry(std::move(file), work, true, std::move(*layout), std::move(*out)));
    }
    const auto spool_parent = options.spool_dir.empty() ? fs::temp_directory_path() : options.spool_dir;
    auto work = detail::create_temp_directory(spool_parent, "syncer-archive-");
    if (!work) return work.error();
    auto fail = [&](error e) -> result<std::unique_ptr<oci_archive_registry>> {
        fs::remove_all(*work, ec);
        return e;
    };
    // The spool holds the archive's entries, no more (extract_archive_file's bound).
    const auto layout_dir = *work / "layout";
    fs::create_directories(layout_dir, ec);
    if (ec) return fail(detail::io_failure("create", layout_dir, ec.value()));
    auto files = extract_archive_file(file, layout_dir);
    if (!files) return fail(files.error());
    auto layout = oci_layout_registry::open(layout_dir, oci_layout_options{options.naming, false});
    if (!layout) {
        auto e = layout.error();
        e.message = fmt::format("{} (in archive {})", e.message, file.string());
        return fail(e);
    }
    if (auto complete = (*layout)->verify_complete(); !complete) {
        auto e = complete.error();
        e.message = fmt::format("{} (in archive {})", e.message, file.string());
        return fail(e);
    }
    return std::unique_ptr<oci_archive_registry>(
        new oci_archive_registry(std::move(file), *work, false, std::move(*layout), nullptr));
}

oci_layout_registry& oci_archive_registry::layout() noexcept {
    return *layout_;
}

std::string oci_archive_registry::name() const {
    return "oci-archive:" + file_.string();
}

asio::awaitable<result<std::optional<descriptor>>> oci_archive_registry::head_manifest(std::string repository,
                                                                                       std::string ref) {
    co_return layout_->lookup(repository, ref);
}

asio::awaitable<result<manifest>> oci_archive_registry::get_manifest(std::string repository,
                                                                     std::string ref) {
    co_return layout_->read_manifest(repository, ref);
}

result<void> oci_archive_registry::can_store(const std::string& repository, const std::string& ref,
                                             const manifest& m) const {
    return layout_->can_store(repository, ref, m);
}

asio::awaitable<result<pushed_manifest>> oci_archive_registry::put_manifest(std::string repository,
                                                                            std::string ref, manifest m) {
    // A layout keeps no referrers index of its own: the copy engine writes the tag schema's index there.
    auto written = layout_->write_manifest(repository, ref, m);
    if (!written) co_return written.error();
    co_return pushed_manifest{*written, std::nullopt};
}

asio::awaitable<result<bool>> oci_archive_registry::has_blob(std::string repository, digest d) {
    auto found = co_await layout_->has_blob(std::move(repository), d);
    co_return found;
}

asio::awaitable<result<std::unique_ptr<blob_reader>>> oci_archive_registry::get_blob(std::string,
                                                                                     descriptor desc) {
    co_return detail::open_archive_blob(*layout_, desc, file_);
}

asio::awaitable<result<std::optional<upload_session>>>
oci_archive_registry::start_upload(std::string repository, std::optional<digest> d,
                                   std::optional<std::string> mount_from) {
    // Every blob of an archive serves every repository in it: the layout takes a mount of one already
    // written (streamed) as done.
    auto r = co_await layout_->start_upload(std::move(repository), std::move(d), std::move(mount_from));
    co_return r;
}

asio::awaitable<result<void>> oci_archive_registry::finish_upload(upload_session session, descriptor desc,
                                                                  blob_reader& reader) {
    auto r = co_await detail::finish_archive_upload(*layout_, writable_ ? out_.get() : nullptr,
                                                    std::move(session), std::move(desc), reader);
    co_return r;
}

asio::awaitable<void> oci_archive_registry::cancel_upload(upload_session session) {
    co_await layout_->cancel_upload(std::move(session));
}

asio::awaitable<result<std::vector<std::string>>> oci_archive_registry::list_tags(std::string repository) {
    auto r = co_await layout_->list_tags(std::move(repository));
    co_return r;
}

asio::awaitable<result<referrer_list>>
oci_archive_registry::list_referrers(std::string repository, digest subject,
                                     std::optional<std::string> artifact_type, bool tag_schema) {
    auto r = co_await layout_->list_referrers(std::move(repository), std::move(subject),
                                              std::move(artifact_type), tag_schema);
    co_return r;
}

asio::awaitable<result<bool>> oci_archive_registry::delete_tag(std::string repository, std::string tag) {
    auto r = co_await layout_->delete_tag(std::move(repository), std::move(tag));
    co_return r;
}

asio::awaitable<result<bool>> oci_archive_registry::delete_manifest(std::string repository, digest d) {
    auto r = co_await layout_->delete_manifest(std::move(repository), std::move(d));
    co_return r;
}

result<void> oci_archive_registry::finish() {
    if (!writable_ || !out_) return {};
    if (auto r = layout_->finish(); !r) return r;
    auto entries = layout_archive_entries(layout_->path());
    if (!entries) return entries.error();
    // What is left under blobs/ is what was not streamed: manifests (small, read back while the export
    // runs) and blobs stored whole. oci-layout and index.json come last: the reader spools the archive
    // before it reads them.
    std::vector<std::pair<std::string, fs::path>> tail;
    for (auto& entry : *entries)
        if (entry.first.starts_with("blobs/")) tail.push_back(entry);
    for (auto& entry : *entries)
        if (!entry.first.starts_with("blobs/")) tail.push_back(entry);
    return out_->finish(tail);
}

std::vector<std::string> oci_archive_registry::repositories() const {
    return layout_->repositories();
}

} // namespace libregistry
