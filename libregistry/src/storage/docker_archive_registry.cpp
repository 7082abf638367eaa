#include "libregistry/storage/docker_archive_registry.hpp"

#include "libregistry/core/printable.hpp"
#include "libregistry/core/reference.hpp"
#include "libregistry/storage/docker_archive_format.hpp"
#include "libregistry/storage/layout_format.hpp"
#include "libregistry/storage/tar.hpp"
#include "storage/detail/archive_stream.hpp"
#include "storage/detail/files.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <sys/stat.h>

namespace libregistry {

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view docker_config_type = "application/vnd.docker.container.image.v1+json";
constexpr std::string_view oci_config_type = "application/vnd.oci.image.config.v1+json";
constexpr std::string_view docker_gzip_layer_type = "application/vnd.docker.image.rootfs.diff.tar.gzip";
constexpr std::size_t hash_chunk = 256 * 1024;

error invalid(const fs::path& file, std::string_view what) {
    return make_error(errc::invalid_archive, fmt::format("{}: {}", file.string(), what));
}

/// `library/alpine` for `alpine`, `docker.io/library/alpine` and `library/alpine`: the repository path
/// docker means, without the registry host.
std::string repository_of_repo_tag(std::string_view repo_tag) {
    auto ref = parse_reference(repo_tag);
    return ref ? ref->repository : std::string();
}

std::string tag_of_repo_tag(std::string_view repo_tag) {
    auto ref = parse_reference(repo_tag);
    return ref ? ref->tag : std::string();
}

std::string normalized_repository(const std::string& repository) {
    auto ref = parse_reference(repository + ":x");
    return ref ? ref->repository : repository;
}

struct file_facts {
    digest d;
    std::int64_t size = 0;
    archive_compression compression = archive_compression::none;
};

result<file_facts> hash_file(const fs::path& path) {
    auto fd = detail::open_regular(path);
    if (!fd) return fd.error();
    digester hasher;
    file_facts out;
    std::vector<std::byte> buffer(hash_chunk);
    for (bool first = true;; first = false) {
        auto n = detail::read_some(fd->get(), buffer, path);
        if (!n) return n.error();
        if (*n == 0) break;
        if (first) out.compression = detect_compression(std::span<const std::byte>(buffer.data(), *n));
        hasher.update(buffer.data(), *n);
        out.size += static_cast<std::int64_t>(*n);
    }
    out.d = hasher.finish();
    return out;
}

/// Reads an archive: moves the files manifest.json names into a layout's `blobs/` under their digests.
class resolver {
public:
    resolver(fs::path file, fs::path dir, const std::vector<std::string>& files)
        : file_(std::move(file)), dir_(std::move(dir)), present_(files.begin(), files.end()) {}

    result<docker_archive_entry> resolve(const docker_archive_image& image, std::size_t n) {
        at_ = fmt::format("manifest.json entry [{}] ({})", n,
                          image.repo_tags.empty() ? std::string("untagged")
                                                  : printable(image.repo_tags.front(), 200));
        docker_archive_entry out;
        out.repo_tags = image.repo_tags;
        auto m = image.manifest.empty() ? built(image) : stored(image);
        if (!m) return m.error();
        out.manifest = m->as_descriptor();
        return out;
    }

private:
    result<void> check_present(const std::string& name) const {
        if (!present_.contains(name))
            return invalid(file_,
                           fmt::format("{} names {}, which the archive lacks", at_, printable(name, 200)));
        return {};
    }

    /// Makes archive file `name` the layout's blob `d` (its bytes are checked against `d` when read).
    result<void> place(const std::string& name, const digest& d) {
        if (auto ok = check_present(name); !ok) return ok;
        if (const auto it = placed_.find(name); it != placed_.end()) {
            if (it->second != d)
                return invalid(file_, fmt::format("{} names {} as {}, another entry as {}", at_,
                                                  printable(name, 200), d.str(), it->second.str()));
            return {};
        }
        placed_.emplace(name, d);
        const auto target = blob_path(d);
        if (name == target) return {};
        struct stat st {};
        if (::lstat((dir_ / target).c_str(), &st) == 0) return {}; // the same blob under another name
        std::error_code ec;
        fs::create_directories((dir_ / target).parent_path(), ec);
        if (ec) return detail::io_failure("create", (dir_ / target).parent_path(), ec.value());
        fs::rename(dir_ / name, dir_ / target, ec);
        if (ec) return detail::io_failure("move", dir_ / name, ec.value());
        return {};
    }

    result<manifest> stored(const docker_archive_image& image) {
        if (auto ok = check_present(image.manifest); !ok) return ok.error();
        const auto path = placed_.contains(image.manifest) ? dir_ / blob_path(placed_.at(image.manifest))
                                                           : dir_ / image.manifest;
        auto bytes = detail::read_small_file(path, max_manifest_size);
        if (!bytes)
            return invalid(file_, fmt::format("{}: manifest {}: {}", at_, printable(image.manifest, 200),
                                              bytes.error().message));
        const auto d = digest_of(*bytes);
        auto m = parse_manifest(std::move(*bytes));
        if (!m)
            return invalid(file_, fmt::format("{}: manifest {}: {}", at_, printable(image.manifest, 200),
                                              m.error().message));
        if (m->kind != manifest_kind::image || !m->config || m->layers.size() != image.layers.size())
            return invalid(file_, fmt::format("{}: manifest {} does not describe the entry's config and {} "
                                              "layers",
                                              at_, printable(image.manifest, 200), image.layers.size()));
        if (auto ok = place(image.manifest, d); !ok) return ok.error();
        if (auto ok = place(image.config, m->config->digest); !ok) return ok.error();
        for (std::size_t i = 0; i < image.layers.size(); ++i)
            if (auto ok = place(image.layers[i], m->layers[i].digest); !ok) return ok.error();
        return m;
    }

    result<file_facts> facts(const std::string& name) {
        if (auto ok = check_present(name); !ok) return ok.error();
        if (const auto it = placed_.find(name); it != placed_.end())
            return hash_file(dir_ / blob_path(it->second));
        return hash_file(dir_ / name);
    }

    /// An archive docker or skopeo wrote: a Docker schema 2 manifest of the files as they are, built as
    /// skopeo builds it (config, then each layer file with the gzip layer type; docker load and pulls detect
    /// the real compression).
    result<manifest> built(const docker_archive_image& image) {
        auto config = facts(image.config);
        if (!config) return config.error();
        std::string layers;
        std::vector<file_facts> layer_facts;
        for (const auto& name : image.layers) {
            auto f = facts(name);
            if (!f) return f.error();
            if (f->compression == archive_compression::zstd)
                return make_error(errc::unsupported,
                                  fmt::format("{}: {}: layer {} is zstd-compressed, which a Docker schema 2 "
                                              "manifest cannot describe; load it with docker load",
                                              file_.string(), at_, printable(name, 200)));
            if (!layers.empty()) layers += ",";
            layers += fmt::format(R"({{"mediaType":"{}","size":{},"digest":"{}"}})", docker_gzip_layer_type,
                                  f->size, f->d.str());
            layer_facts.push_back(*f);
        }
        auto bytes = fmt::format(
            R"({{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","size":{},)"
            R"("digest":"{}"}},"layers":[{}]}})",
            media_types::docker_manifest, docker_config_type, config->size, config->d.str(), layers);
        if (auto ok = place(image.config, config->d); !ok) return ok.error();
        for (std::size_t i = 0; i < image.layers.size(); ++i)
            if (auto ok = place(image.layers[i], layer_facts[i].d); !ok) return ok.error();
        const auto d = digest_of(bytes);
        std::error_code ec;
        fs::create_directories((dir_ / blob_path(d)).parent_path(), ec);
        if (ec) return detail::io_failure("create", (dir_ / blob_path(d)).parent_path(), ec.value());
        if (auto w = detail::replace_file(dir_ / blob_path(d), bytes); !w) return w.error();
        return parse_manifest(std::move(bytes));
    }

    fs::path file_;
    fs::path dir_;
    std::set<std::string> present_;
    std::map<std::string, digest> placed_;
    std::string at_;
};

error refuse(const std::string& repository, const std::string& ref, std::string_view what) {
    return make_error(errc::unsupported,
                      fmt::format("{}:{} cannot be stored in a docker archive: {}", repository, ref, what));
}

} // namespace

docker_archive_registry::docker_archive_registry(fs::path file, fs::path work, bool writable,
                                                 std::unique_ptr<oci_layout_registry> layout,
                                                 std::vector<docker_archive_entry> images,
                                                 std::unique_ptr<detail::archive_stream> out)
    : file_(std::move(file)), work_(std::move(work)), writable_(writable), layout_(std::move(layout)),
      images_(std::move(images)), out_(std::move(out)) {}

docker_archive_registry::~docker_archive_registry() {
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

result<std::unique_ptr<docker_archive_registry>>
docker_archive_registry::open(fs::path file, docker_archive_options options) {
    std::error_code ec;
    if (options.writable) {
        // The same streaming writer as oci-archive: each verified blob is appended to the compressed temp
        // archive next to the target and its file removed; manifest.json and `repositories` go in at
        // finish(). No temp layout of the whole bundle, no second copy.
        auto out = detail::archive_stream::create(file);
        if (!out) return out.error();
        auto layout = oci_layout_registry::open((*out)->work() / "layout",
                                                oci_layout_options{layout_naming::bundle, true});
        if (!layout) return layout.error();
        (*layout)->skip_blob_sync();
        const auto work = (*out)->work();
        return std::unique_ptr<docker_archive_registry>(new docker_archive_registry(
            std::move(file), work, true, std::move(*layout), {}, std::move(*out)));
    }
    const auto spool_parent = options.spool_dir.empty() ? fs::temp_directory_path() : options.spool_dir;
    auto work = detail::create_temp_directory(spool_parent, "syncer-archive-");
    if (!work) return work.error();
    auto fail = [&](error e) -> result<std::unique_ptr<docker_archive_registry>> {
        fs::remove_all(*work, ec);
        return e;
    };
    const auto dir = *work / "layout";
    fs::create_directories(dir, ec);
    if (ec) return fail(detail::io_failure("create", dir, ec.value()));
    // docker save and skopeo add legacy `<id>/layer.tar` symlinks to the files manifest.json names: skipped.
    auto files = extract_archive_file(file, dir, true);
    if (!files) return fail(files.error());
    auto text = detail::read_small_file(dir / "manifest.json", max_docker_archive_index_size);
    if (!text) {
        if (text.error().code == errc::not_found)
            return fail(invalid(file, "not a docker archive: it has no manifest.json (an OCI archive is read "
                                      "with oci-archive:)"));
        return fail(invalid(file, fmt::format("manifest.json: {}", text.error().message)));
    }
    auto index = parse_docker_archive_index(*text, file.string() + ": manifest.json");
    if (!index) return fail(index.error());
    // The files become the blobs of an image layout with no tags of its own: manifests and blobs are read by
    // digest, with the layout's checks, and this class maps RepoTags to manifests.
    if (auto w = detail::replace_file(dir / "oci-layout", oci_layout_file()); !w) return fail(w.error());
    if (auto w = detail::replace_file(dir / "index.json", layout_index_file({})); !w) return fail(w.error());
    resolver resolve(file, dir, *files);
    std::vector<docker_archive_entry> images;
    for (std::size_t i = 0; i < index->size(); ++i) {
        auto entry = resolve.resolve((*index)[i], i);
        if (!entry) return fail(entry.error());
        images.push_back(std::move(*entry));
    }
    auto layout = oci_layout_registry::open(dir, oci_layout_options{layout_naming::bundle, false});
    if (!layout) return fail(layout.error());
    return std::unique_ptr<docker_archive_registry>(
        new docker_archive_registry(std::move(file), *work, false, std::move(*layout), std::move(images)));
}

const std::vector<docker_archive_entry>& docker_archive_registry::images() const noexcept {
    return images_;
}

std::string docker_archive_registry::name() const {
    return "docker-archive:" + file_.string();
}

result<std::optional<descriptor>> docker_archive_registry::find(const std::string& repository,
                                                                const std::string& ref) const {
    if (writable_ || ref.find(':') != std::string::npos) return layout_->lookup(repository, ref);
    if (ref.empty() || repository.empty()) {
        if (images_.size() == 1) return std::optional<descriptor>{images_.front().manifest};
        std::string names;
        for (const auto& image : images_)
            for (const auto& t : image.repo_tags)
                names += (names.empty() ? "" : ", ") + printable(t, 200);
        return make_error(errc::invalid_reference,
                          fmt::format("{} holds {} images ({}); name one as NAME:TAG", name(), images_.size(),
                                      names.empty() ? std::string("all untagged") : names));
    }
    const auto wanted = normalized_repository(repository);
    for (const auto& image : images_)
        for (const auto& t : image.repo_tags)
            if (repository_of_repo_tag(t) == wanted && tag_of_repo_tag(t) == ref)
                return std::optional<descriptor>{image.manifest};
    return std::optional<descriptor>{};
}

asio::awaitable<result<std::optional<descriptor>>>
docker_archive_registry::head_manifest(std::string repository, std::string ref) {
    co_return find(repository, ref);
}

asio::awaitable<result<manifest>> docker_archive_registry::get_manifest(std::string repository,
                                                                        std::string ref) {
    auto found = find(repository, ref);
    if (!found) co_return found.error();
    if (!*found)
        co_return make_error(
            errc::manifest_unknown,
            fmt::format("{} has no image {}:{}", name(), printable(repository, 200), printable(ref, 200)),
            404);
    co_return layout_->read_manifest(repository, (*found)->digest.str());
}

result<void> docker_archive_registry::can_store(const std::string& repository, const std::string& ref,
                                                const manifest& m) const {
    if (m.kind == manifest_kind::index)
        return refuse(repository, ref,
                      fmt::format("{} is an index of {} manifests, and the format holds single-platform "
                                  "images only; pick one platform (a platform filter) or write "
                                  "oci-archive: instead",
                                  m.digest.str(), m.manifests.size()));
    if (m.kind == manifest_kind::schema1)
        return refuse(repository, ref,
                      fmt::format("its {} manifest {} is Docker schema 1, whose digest is not that of its "
                                  "bytes, so no bundle (docker-archive:, oci-archive:, oci:) can hold it; "
                                  "copy it between registries",
                                  m.media_type, m.digest.str()));
    if (m.kind != manifest_kind::image)
        return refuse(repository, ref,
                      fmt::format("its {} manifest is not a schema 2 or OCI image; copy it between "
                                  "registries or write oci-archive:",
                                  m.media_type));
    if (!m.config || (m.config->media_type != docker_config_type && m.config->media_type != oci_config_type))
        return refuse(repository, ref,
                      fmt::format("{} is an artifact (config {}), which docker load cannot read; write "
                                  "oci-archive: instead",
                                  m.digest.str(), m.config ? m.config->media_type : std::string("none")));
    for (const auto& l : m.layers)
        if (is_foreign_layer(l.media_type))
            return refuse(repository, ref,
                          fmt::format("layer {} is a foreign layer the archive would not hold; write "
                                      "oci-archive: instead",
                                      l.digest.str()));
    return {};
}

asio::awaitable<result<pushed_manifest>> docker_archive_registry::put_manifest(std::string repository,
                                                                               std::string ref, manifest m) {
    if (!writable_)
        co_return make_error(errc::unsupported, fmt::format("{} is open for reading only", name()));
    if (auto storable = can_store(repository, ref, m); !storable) co_return storable.error();
    auto written = layout_->write_manifest(repository, ref, m);
    if (!written) co_return written.error();
    co_return pushed_manifest{*written, std::nullopt};
}

asio::awaitable<result<bool>> docker_archive_registry::has_blob(std::string, digest d) {
    co_return layout_->contains_blob(d);
}

asio::awaitable<result<std::unique_ptr<blob_reader>>> docker_archive_registry::get_blob(std::string,
                                                                                        descriptor desc) {
    co_return detail::open_archive_blob(*layout_, desc, file_);
}

asio::awaitable<result<std::optional<upload_session>>>
docker_archive_registry::start_upload(std::string repository, std::optional<digest> d,
                                      std::optional<std::string> mount_from) {
    auto r = co_await layout_->start_upload(std::move(repository), std::move(d), std::move(mount_from));
    co_return r;
}

asio::awaitable<result<void>> docker_archive_registry::finish_upload(upload_session session, descriptor desc,
                                                                     blob_reader& reader) {
    auto r = co_await detail::finish_archive_upload(*layout_, writable_ ? out_.get() : nullptr,
                                                    std::move(session), std::move(desc), reader);
    co_return r;
}

asio::awaitable<void> docker_archive_registry::cancel_upload(upload_session session) {
    co_await layout_->cancel_upload(std::move(session));
}

asio::awaitable<result<std::vector<std::string>>> docker_archive_registry::list_tags(std::string repository) {
    if (writable_) {
        auto r = co_await layout_->list_tags(std::move(repository));
        co_return r;
    }
    const auto wanted = normalized_repository(repository);
    std::vector<std::string> out;
    for (const auto& image : images_)
        for (const auto& t : image.repo_tags)
            if (repository_of_repo_tag(t) == wanted) out.push_back(tag_of_repo_tag(t));
    if (out.empty())
        co_return make_error(errc::name_unknown,
                             fmt::format("{} holds no image of {}", name(), printable(repository, 200)), 404);
    co_return out;
}

asio::awaitable<result<referrer_list>>
docker_archive_registry::list_referrers(std::string, digest, std::optional<std::string>, bool) {
    co_return referrer_list{};
}

asio::awaitable<result<bool>> docker_archive_registry::delete_tag(std::string repository, std::string tag) {
    auto r = co_await layout_->delete_tag(std::move(repository), std::move(tag));
    co_return r;
}

asio::awaitable<result<bool>> docker_archive_registry::delete_manifest(std::string repository, digest d) {
    auto r = co_await layout_->delete_manifest(std::move(repository), std::move(d));
    co_return r;
}

result<void> docker_archive_registry::finish() {
    if (!writable_) return {};
    if (auto r = layout_->finish(); !r) return r;
    // One manifest.json entry per manifest, with every tag pointing at it.
    std::vector<docker_archive_image> images;
    std::vector<digest> order;
    std::set<std::string> blobs;
    for (const auto& e : layout_->entries()) {
        const auto repository = e.annotations.at(std::string(repository_annotation));
        const auto ref = e.annotations.at(std::string(ref_name_annotation));
        const auto repo_tag = ref; // `<repository>:<tag>`, which docker reads as a NAME:TAG
        const auto at = std::find(order.begin(), order.end(), e.digest);
        if (at != order.end()) {
            images[static_cast<std::size_t>(at - order.begin())].repo_tags.push_back(repo_tag);
            continue;
        }
        auto m = layout_->read_manifest(repository, e.digest.str());
        if (!m) return m.error();
        docker_archive_image image;
        image.config = blob_path(m->config->digest);
        for (const auto& l : m->layers)
            image.layers.push_back(blob_path(l.digest));
        image.manifest = blob_path(m->digest);
        image.repo_tags.push_back(repo_tag);
        blobs.insert(image.config);
        blobs.insert(image.manifest);
        blobs.insert(image.layers.begin(), image.layers.end());
        order.push_back(e.digest);
        images.push_back(std::move(image));
    }
    const auto dir = layout_->path();
    const auto index_file = work_ / "manifest.json";
    const auto repositories_file = work_ / "repositories";
    if (auto w = detail::replace_file(index_file, docker_archive_index_file(images)); !w) return w;
    if (auto w = detail::replace_file(repositories_file, docker_archive_repositories_file(images)); !w)
        return w;
    // The layers and configs are in the stream already; the manifests (kept in the work layout, read back
    // above) follow, then manifest.json and `repositories`.
    std::vector<std::pair<std::string, fs::path>> entries;
    for (const auto& b : blobs)
        if (std::error_code ec; fs::is_regular_file(dir / b, ec)) entries.emplace_back(b, dir / b);
    entries.emplace_back("manifest.json", index_file);
    entries.emplace_back("repositories", repositories_file);
    return out_->finish(entries);
}

std::vector<std::string> docker_archive_registry::repositories() const {
    if (writable_) return layout_->repositories();
    std::vector<std::string> out;
    for (const auto& image : images_)
        for (const auto& t : image.repo_tags)
            if (auto repository = repository_of_repo_tag(t);
                !repository.empty() && std::find(out.begin(), out.end(), repository) == out.end())
                out.push_back(std::move(repository));
    return out;
}

} // namespace libregistry
