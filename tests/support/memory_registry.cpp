#include "memory_registry.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cstring>

namespace libregistry::testing {

namespace asio = boost::asio;

namespace {

class string_reader final : public blob_reader {
public:
    string_reader(std::string bytes, int& open, int& open_max) : bytes_(std::move(bytes)), open_(open) {
        open_max = std::max(open_max, ++open_);
    }
    ~string_reader() override { --open_; }
    string_reader(const string_reader&) = delete;
    string_reader& operator=(const string_reader&) = delete;
    asio::awaitable<result<std::size_t>> read(std::span<std::byte> buffer) override {
        auto n = std::min(buffer.size(), bytes_.size() - offset_);
        std::memcpy(buffer.data(), bytes_.data() + offset_, n);
        offset_ += n;
        co_return n;
    }

private:
    std::string bytes_;
    std::size_t offset_ = 0;
    int& open_;
};

} // namespace

digest memory_registry::add_blob(const std::string& repository, const std::string& bytes) {
    auto d = digest_of(bytes);
    blob_bytes_[d] = bytes;
    repos_[repository].blobs.insert(d);
    return d;
}

manifest memory_registry::add_manifest(const std::string& repository, const std::string& bytes,
                                       const std::string& tag) {
    auto m = parse_manifest(bytes).value();
    repos_[repository].manifests[m.digest.str()] = m;
    if (!tag.empty()) repos_[repository].tags[tag] = m.digest.str();
    return m;
}

bool memory_registry::has_manifest(const std::string& repository, const std::string& ref) const {
    auto r = repos_.find(repository);
    if (r == repos_.end()) return false;
    return r->second.tags.count(ref) || r->second.manifests.count(ref);
}

bool memory_registry::has_blob_in(const std::string& repository, const digest& d) const {
    auto r = repos_.find(repository);
    return r != repos_.end() && r->second.blobs.count(d);
}

asio::awaitable<result<std::optional<descriptor>>> memory_registry::head_manifest(std::string repository,
                                                                                  std::string ref) {
    ++manifest_heads;
    if (on_read) on_read("head " + repository + " " + ref);
    const bool throttled = manifest_heads <= throttled_heads;
    if (yielding_heads) {
        heads_in_flight_max = std::max(heads_in_flight_max, ++heads_in_flight);
        auto executor = co_await asio::this_coro::executor;
        co_await asio::post(executor, asio::use_awaitable);
        --heads_in_flight;
    }
    if (auto yields = head_yields.find(repository); yields != head_yields.end()) {
        for (int i = 0; i < yields->second; ++i)
            co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
        if (on_read) on_read("headed " + repository + " " + ref);
    }
    // As over a network, the throttle is heard when the answer comes back.
    if (throttled && on_throttle_) on_throttle_();
    auto& r = repos_[repository];
    auto key = r.tags.count(ref) ? r.tags[ref] : ref;
    auto it = r.manifests.find(key);
    if (it == r.manifests.end()) co_return std::optional<descriptor>{};
    co_return std::optional<descriptor>{it->second.as_descriptor()};
}

asio::awaitable<result<manifest>> memory_registry::get_manifest(std::string repository, std::string ref) {
    ++manifest_gets;
    auto& r = repos_[repository];
    auto key = r.tags.count(ref) ? r.tags[ref] : ref;
    auto it = r.manifests.find(key);
    if (it == r.manifests.end())
        co_return make_error(errc::manifest_unknown, "manifest unknown: " + ref, 404);
    co_return it->second;
}

asio::awaitable<result<pushed_manifest>> memory_registry::put_manifest(std::string repository,
                                                                       std::string ref, manifest m) {
    auto& r = repos_[repository];
    // Like the distribution registry: a manifest whose blobs or children are missing is refused.
    for (const auto& b : m.blobs())
        if (!r.blobs.count(b.digest))
            co_return make_error(errc::manifest_blob_unknown, "blob unknown " + b.digest.str());
    for (const auto& c : m.manifests)
        if (!r.manifests.count(c.digest.str()))
            co_return make_error(errc::manifest_blob_unknown, "child unknown " + c.digest.str());
    note("manifest " + repository + " " + ref);
    r.manifests[m.digest.str()] = m;
    if (ref.find(':') == std::string::npos) r.tags[ref] = m.digest.str();
    pushed_manifest out{m.digest, std::nullopt};
    // A registry with the referrers API indexes the subject and says so (OCI-Subject).
    if (referrers_api && m.subject) out.subject = m.subject->digest;
    co_return out;
}

asio::awaitable<result<bool>> memory_registry::has_blob(std::string repository, digest d) {
    ++blob_heads;
    co_return has_blob_in(repository, d);
}

asio::awaitable<result<std::unique_ptr<blob_reader>>> memory_registry::get_blob(std::string repository,
                                                                                descriptor desc) {
    ++blob_gets;
    if (!has_blob_in(repository, desc.digest)) co_return make_error(errc::blob_unknown, "blob unknown", 404);
    auto bytes = blob_bytes_[desc.digest];
    if (corrupt.count(desc.digest) && !bytes.empty()) bytes.back() = static_cast<char>(bytes.back() ^ 1);
    co_return std::unique_ptr<blob_reader>(
        std::make_unique<string_reader>(std::move(bytes), readers_open, readers_open_max));
}

asio::awaitable<result<std::optional<upload_session>>>
memory_registry::start_upload(std::string repository, std::optional<digest> d,
                              std::optional<std::string> mount_from) {
    if (yielding_uploads) co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    if (d && mount_from && has_blob_in(*mount_from, *d)) {
        repos_[repository].blobs.insert(*d);
        note("mount " + repository + " " + d->str());
        co_return std::optional<upload_session>{};
    }
    upload_session s;
    s.repository = repository;
    s.location = "/upload/" + std::to_string(++sessions_);
    if (on_write) on_write("session " + repository);
    co_return std::optional<upload_session>{s};
}

asio::awaitable<result<void>> memory_registry::finish_upload(upload_session session, descriptor desc,
                                                             blob_reader& reader) {
    if (yielding_uploads) co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    std::string bytes;
    std::array<std::byte, 7> chunk{};
    for (;;) {
        auto n = co_await reader.read(chunk);
        if (!n) co_return n.error();
        if (*n == 0) break;
        bytes.append(reinterpret_cast<const char*>(chunk.data()), *n);
    }
    ++uploads_tried[desc.digest];
    if (auto queued = failing_uploads.find(desc.digest);
        queued != failing_uploads.end() && !queued->second.empty()) {
        auto failure = queued->second.front();
        queued->second.pop_front();
        co_return failure;
    }
    if (digest_of(bytes) != desc.digest) co_return make_error(errc::digest_invalid, "digest invalid", 400);
    blob_bytes_[desc.digest] = bytes;
    repos_[session.repository].blobs.insert(desc.digest);
    note("blob " + session.repository + " " + desc.digest.str());
    co_return result<void>{};
}

asio::awaitable<void> memory_registry::cancel_upload(upload_session) {
    ++cancelled_uploads;
    co_return;
}

void memory_registry::note(std::string entry) {
    log.push_back(entry);
    if (on_write) on_write(entry);
}

asio::awaitable<result<std::vector<std::string>>> memory_registry::list_tags(std::string repository) {
    if (++list_calls <= list_failures)
        co_return make_error(errc::server_error, "503 Service Unavailable (injected)", 503);
    if (auto yields = list_yields.find(repository); yields != list_yields.end())
        for (int i = 0; i < yields->second; ++i)
            co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    if (on_read) on_read("listed " + repository);
    auto it = repos_.find(repository);
    if (it == repos_.end()) co_return make_error(errc::name_unknown, "repository unknown", 404);
    std::vector<std::string> out;
    for (const auto& [tag, d] : it->second.tags)
        out.push_back(tag);
    co_return out;
}

asio::awaitable<result<referrer_list>>
memory_registry::list_referrers(std::string repository, digest subject,
                                std::optional<std::string> artifact_type, bool tag_schema) {
    ++referrers_calls;
    referrer_list out;
    const auto& r = repos_[repository];
    if (referrers_api) {
        out.source = referrers_source::api;
        out.filtered_by_registry = artifact_type && !artifact_type->empty();
        for (const auto& [d, m] : r.manifests)
            if (m.subject && m.subject->digest == subject) out.descriptors.push_back(referrer_descriptor(m));
    } else {
        const auto tag = r.tags.find(referrers_tag(subject));
        if (!tag_schema || tag == r.tags.end()) co_return out;
        const auto& index = r.manifests.at(tag->second);
        if (index.kind != manifest_kind::index)
            co_return make_error(errc::bad_response, "the tag schema tag holds no index (memory registry)");
        out.source = referrers_source::tag_schema;
        out.descriptors = index.manifests;
    }
    out.descriptors = filter_artifact_type(std::move(out.descriptors), artifact_type);
    co_return out;
}

asio::awaitable<result<bool>> memory_registry::delete_tag(std::string repository, std::string tag) {
    if (deletes_refused || deletes_by_digest_only)
        co_return make_error(errc::unsupported, "405 UNSUPPORTED (memory registry)", 405);
    auto it = repos_.find(repository);
    if (it == repos_.end() || it->second.tags.erase(tag) == 0) co_return false;
    note("untag " + repository + " " + tag);
    co_return true;
}

asio::awaitable<result<bool>> memory_registry::delete_manifest(std::string repository, digest d) {
    if (deletes_refused) co_return make_error(errc::unsupported, "405 UNSUPPORTED (memory registry)", 405);
    auto it = repos_.find(repository);
    if (it == repos_.end() || it->second.manifests.erase(d.str()) == 0) co_return false;
    std::erase_if(it->second.tags, [&](const auto& t) { return t.second == d.str(); });
    note("delete " + repository + " " + d.str());
    co_return true;
}

} // namespace libregistry::testing
