#include "storage/detail/archive_stream.hpp"

#include "libregistry/storage/layout_format.hpp"
#include "libregistry/storage/oci_layout_registry.hpp"
#include "libregistry/storage/tar.hpp"
#include "storage/detail/files.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <cerrno>
#include <fcntl.h>
#include <mutex>
#include <optional>
#include <set>
#include <sys/file.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace libregistry::detail {

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

/// libzstd's own compression threads for a `.tar.zst`: one, beside the appending thread, where the machine
/// has a second core; none (compression in the appending thread) on one core.
int zstd_workers() {
    return std::thread::hardware_concurrency() >= 2 ? 1 : 0;
}

/// Opens `path` (a directory when `directory`) without following a symlink and takes its exclusive flock,
/// without waiting. An empty descriptor when it cannot be opened or another process holds the lock.
unique_fd try_lock(const fs::path& path, bool directory) {
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (directory ? O_DIRECTORY : 0)));
    if (!fd || ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) return unique_fd();
    return fd;
}

/// Removes the temp archives and work directories of `target` that no live writer holds: a writer holds
/// the flock of each of its own from the moment it creates them (under the directory's lock) until it ends,
/// so one whose lock can be taken belongs to a writer that was killed.
void remove_stale(const fs::path& dir, const std::string& name) {
    const auto temp_prefix = fmt::format(".{}.tmp-", name);
    const auto work_prefix = fmt::format(".{}.syncer-", name);
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const auto file = it->path().filename().string();
        const bool temp = file.starts_with(temp_prefix) && file.size() == temp_prefix.size() + 6;
        const bool work = file.starts_with(work_prefix) && file.size() == work_prefix.size() + 6;
        if (!temp && !work) continue;
        std::error_code status_ec;
        const auto status = it->symlink_status(status_ec);
        if (status_ec || (temp && !fs::is_regular_file(status)) || (work && !fs::is_directory(status)))
            continue;
        const auto held = try_lock(it->path(), work);
        if (!held) continue;
        std::error_code removed;
        if (work)
            fs::remove_all(it->path(), removed);
        else
            fs::remove(it->path(), removed);
    }
}

} // namespace

struct archive_stream::impl {
    fs::path target;
    fs::path work;
    unique_fd work_lock;
    fs::path temp;
    unique_fd fd; ///< the temp archive, flock'ed
    std::unique_ptr<byte_sink> sink;
    std::unique_ptr<tar_writer> writer;
    std::mutex lock;
    /// A failed append leaves a tar stream with a partial entry: nothing more may go in.
    std::optional<error> failed;
    /// Blobs appended (or being appended): a second upload of one is dropped.
    std::set<digest> appended;
    bool finished = false;
    bool closing = false; ///< finish() was called: the worker takes no more jobs
    /// Declared last: stopped and joined first, before what its jobs use is destroyed. Each verified upload
    /// is one job; its caller waits for it, so the queue holds at most one job per upload in flight (the
    /// copy engine's bound) and memory is constant: the tar writer's one read buffer and the compressor.
    asio::thread_pool worker{1};

    /// Runs on the worker.
    result<void> append(const fs::path& blob_file, const digest& d) {
        const std::lock_guard<std::mutex> guard(lock);
        if (failed) return *failed;
        if (appended.insert(d).second) {
            if (auto r = writer->add_path(blob_path(d), blob_file); !r) {
                failed = r.error();
                return r;
            }
            // Start the write-back of what is written so far, without waiting for it, so that the fsync
            // before the rename has little left to do.
            ::sync_file_range(fd.get(), 0, 0, SYNC_FILE_RANGE_WRITE);
        }
        std::error_code ec;
        if (!fs::remove(blob_file, ec) && ec) return io_failure("remove", blob_file, ec.value());
        return {};
    }
};

archive_stream::archive_stream(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

archive_stream::~archive_stream() {
    impl_->worker.stop();
    impl_->worker.join();
    if (!impl_->finished) {
        impl_->writer.reset();
        impl_->sink.reset();
        ::unlink(impl_->temp.c_str());
    }
    impl_->fd = unique_fd();
    std::error_code ec;
    fs::remove_all(impl_->work, ec);
}

result<std::unique_ptr<archive_stream>> archive_stream::create(const fs::path& target) {
    const auto name = target.filename().string();
    const auto compression = compression_for_target(target);
    if (!compression) return compression.error();
    // Next to the target: the same file system, so the rename is atomic and disk use shows where the
    // archive goes.
    const auto dir = target.parent_path().empty() ? fs::path(".") : target.parent_path();
    unique_fd dir_lock(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir_lock) return io_failure("open", dir, errno);
    // Held for milliseconds by each writer; waited for a while in case something else holds the directory.
    for (int attempt = 0; ::flock(dir_lock.get(), LOCK_EX | LOCK_NB) != 0; ++attempt) {
        if (errno != EWOULDBLOCK) return io_failure("lock", dir, errno);
        if (attempt == 500)
            return make_error(errc::busy,
                              fmt::format("directory {} stayed locked by another process for 5 s; "
                                          "write the archive elsewhere",
                                          dir.string()));
        ::usleep(10'000);
    }
    remove_stale(dir, name);
    auto p = std::make_unique<impl>();
    p->target = target;
    auto work = create_temp_directory(dir, fmt::format(".{}.syncer-", name));
    if (!work) return work.error();
    p->work = *work;
    std::error_code ec;
    p->work_lock = try_lock(p->work, true);
    if (!p->work_lock) {
        const int err = errno;
        fs::remove_all(p->work, ec);
        return io_failure("lock", p->work, err);
    }
    auto fd = create_temp_file(dir, fmt::format(".{}.tmp-", name), p->temp);
    if (!fd) {
        fs::remove_all(p->work, ec);
        return fd.error();
    }
    p->fd = std::move(*fd);
    if (::flock(p->fd.get(), LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        ::unlink(p->temp.c_str());
        fs::remove_all(p->work, ec);
        return io_failure("lock", p->temp, err);
    }
    p->sink = compressing_sink(p->fd.get(), *compression, p->temp, zstd_workers());
    p->writer = std::make_unique<tar_writer>(*p->sink, target.string());
    return std::unique_ptr<archive_stream>(new archive_stream(std::move(p)));
}

const fs::path& archive_stream::work() const noexcept {
    return impl_->work;
}

asio::awaitable<result<void>> archive_stream::append_blob(oci_layout_registry& layout, digest d) {
    // Counted as stored from now on (has_blob, mounts, index.json), as it is once the job is done; a failed
    // append fails the whole archive, so the early mark is never seen in a finished one.
    if (impl_->closing)
        co_return make_error(errc::unsupported,
                             fmt::format("archive {} was finished; blob {} cannot be added to it any more",
                                         impl_->target.string(), d.str()));
    layout.mark_streamed(d);
    const auto file = layout.path() / blob_path(d);
    auto job = [p = impl_.get(), file, d]() -> asio::awaitable<result<void>> {
        co_return p->append(file, d);
    };
    auto appended = asio::co_spawn(impl_->worker.get_executor(), std::move(job), asio::use_awaitable);
    auto r = co_await std::move(appended);
    co_return r;
}

result<void> archive_stream::finish(const std::vector<std::pair<std::string, fs::path>>& entries) {
    if (impl_->finished) return {};
    // Every upload waited for its own append; one abandoned by a cancelled copy finishes first.
    impl_->closing = true;
    impl_->worker.join();
    auto& p = *impl_;
    if (p.failed) return *p.failed;
    auto written = [&]() -> result<void> {
        for (const auto& [name, path] : entries)
            if (auto r = p.writer->add_path(name, path); !r) return r;
        if (auto r = p.writer->close(); !r) return r;
        if (::fchmod(p.fd.get(), 0644) != 0) return io_failure("chmod", p.temp, errno);
        if (auto r = sync_file(p.fd.get(), p.temp); !r) return r;
        return rename_durably(p.temp, p.target);
    }();
    if (!written) {
        p.failed = written.error();
        return written;
    }
    p.finished = true;
    p.writer.reset();
    p.sink.reset();
    return {};
}

result<std::unique_ptr<blob_reader>> open_archive_blob(const oci_layout_registry& layout,
                                                       const descriptor& desc, const fs::path& archive) {
    if (layout.streamed(desc.digest))
        return make_error(errc::unsupported,
                          fmt::format("blob {} was already written into archive {}, which is being "
                                      "written and cannot be read back until the export finishes",
                                      desc.digest.str(), archive.string()));
    return layout.open_blob(desc);
}

asio::awaitable<result<void>> finish_archive_upload(oci_layout_registry& layout, archive_stream* out,
                                                    upload_session session, descriptor desc,
                                                    blob_reader& reader) {
    const auto d = desc.digest;
    auto r = co_await layout.finish_upload(std::move(session), std::move(desc), reader);
    if (!r || !out) co_return r;
    auto appended = co_await out->append_blob(layout, d);
    co_return appended;
}

} // namespace libregistry::detail
