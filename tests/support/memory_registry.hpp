#pragma once
// An in-memory `registry` for unit tests of the copy engine and the sync runner: no network, every write
// logged in order, and switches to make blobs come back corrupt.
#include <libregistry/client/registry.hpp>

#include <boost/asio/awaitable.hpp>

#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace libregistry::testing {

class memory_registry final : public registry {
public:
    explicit memory_registry(std::string name) : name_(std::move(name)) {}

    /// Test setup: store a blob / a manifest (under its digest and, if given, a tag).
    digest add_blob(const std::string& repository, const std::string& bytes);
    manifest add_manifest(const std::string& repository, const std::string& bytes,
                          const std::string& tag = {});

    /// Every write, in order: "blob REPO DIGEST", "mount REPO DIGEST", "manifest REPO REF", "untag REPO TAG",
    /// "delete REPO DIGEST".
    std::vector<std::string> log;
    /// Counters of reads.
    int manifest_gets = 0;
    int manifest_heads = 0;
    int blob_gets = 0;
    int blob_heads = 0;
    /// Blob readers get_blob handed out and not yet dropped, and the most at once.
    int readers_open = 0;
    int readers_open_max = 0;
    /// Blobs served with their last byte flipped.
    std::set<digest> corrupt;
    /// Called with each entry as it is added to `log`, and with "session REPO" when an upload session opens;
    /// lets a test act (request a stop) at a precise point of a copy.
    std::function<void(const std::string&)> on_write;
    /// Called with "head REPO REF" as a manifest HEAD starts: the order of reads across registries.
    std::function<void(const std::string&)> on_read;
    /// Upload sessions given back with cancel_upload.
    int cancelled_uploads = 0;
    /// finish_upload of a blob fails with the first error queued for its digest (after reading the bytes),
    /// which is then dropped; uploads_tried counts the calls per digest.
    std::map<digest, std::deque<error>> failing_uploads;
    std::map<digest, int> uploads_tried;
    /// list_tags of these repositories gives way to other work this many times before it answers (a slow
    /// listing, without a clock); "listed REPO" goes to on_read when a listing answers.
    std::map<std::string, int> list_yields;
    /// Manifest HEADs in these repositories give way this many times before they answer (a slow HEAD);
    /// "headed REPO REF" goes to on_read when they answer.
    std::map<std::string, int> head_yields;
    /// list_tags fails with a retryable 503 this many times before it answers.
    int list_failures = 0;
    int list_calls = 0;
    /// delete_tag answers errc::unsupported, as docker-registry 2.8 does: only deletes by digest work.
    bool deletes_by_digest_only = false;
    /// Both deletes answer errc::unsupported, as docker-registry does without storage.delete.enabled.
    bool deletes_refused = false;
    /// list_referrers answers as a registry with the referrers API (the stored manifests whose subject is the
    /// digest); false answers as one without it (docker-registry): only the tag schema's tag is read.
    bool referrers_api = true;
    int referrers_calls = 0;

    /// HEADs of manifests yield to the io_context before answering, so that calls overlap as a network's
    /// do; heads_in_flight_max is the most that were in progress at once.
    bool yielding_heads = false;
    /// Uploads yield once when they open and once before they read, as a network would: concurrent copies
    /// then interleave their transfers.
    bool yielding_uploads = false;
    int heads_in_flight = 0;
    int heads_in_flight_max = 0;
    /// The first this many manifest HEADs are throttled: the on_throttle observer hears of each, as it does
    /// of a 429 the HTTP client retries, and the HEAD then answers.
    int throttled_heads = 0;

    bool has_manifest(const std::string& repository, const std::string& ref) const;
    bool has_blob_in(const std::string& repository, const digest& d) const;

    std::string name() const override { return name_; }
    boost::asio::awaitable<result<std::optional<descriptor>>> head_manifest(std::string repository,
                                                                            std::string ref) override;
    boost::asio::awaitable<result<manifest>> get_manifest(std::string repository, std::string ref) override;
    boost::asio::awaitable<result<pushed_manifest>> put_manifest(std::string repository, std::string ref,
                                                                 manifest m) override;
    boost::asio::awaitable<result<bool>> has_blob(std::string repository, digest d) override;
    boost::asio::awaitable<result<std::unique_ptr<blob_reader>>> get_blob(std::string repository,
                                                                          descriptor desc) override;
    boost::asio::awaitable<result<std::optional<upload_session>>>
    start_upload(std::string repository, std::optional<digest> d,
                 std::optional<std::string> mount_from) override;
    boost::asio::awaitable<result<void>> finish_upload(upload_session session, descriptor desc,
                                                       blob_reader& reader) override;
    boost::asio::awaitable<void> cancel_upload(upload_session session) override;
    boost::asio::awaitable<result<std::vector<std::string>>> list_tags(std::string repository) override;
    boost::asio::awaitable<result<referrer_list>> list_referrers(std::string repository, digest subject,
                                                                 std::optional<std::string> artifact_type,
                                                                 bool tag_schema = true) override;
    boost::asio::awaitable<result<bool>> delete_tag(std::string repository, std::string tag) override;
    boost::asio::awaitable<result<bool>> delete_manifest(std::string repository, digest d) override;
    void on_throttle(std::function<void()> observer) override { on_throttle_ = std::move(observer); }

private:
    void note(std::string entry);

    struct repo {
        std::map<std::string, std::string> tags;   ///< tag -> digest
        std::map<std::string, manifest> manifests; ///< digest -> manifest
        std::set<digest> blobs;
    };
    std::string name_;
    std::function<void()> on_throttle_;
    std::map<std::string, repo> repos_;
    std::map<digest, std::string> blob_bytes_;
    int sessions_ = 0;
};

} // namespace libregistry::testing
