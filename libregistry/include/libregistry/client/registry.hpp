#pragma once
// The storage interface the copy engine and the sync runner are written against. `remote_registry` implements
// it over HTTP; tests and other back ends may implement it in memory or over an OCI layout.
#include "libregistry/core/digest.hpp"
#include "libregistry/core/error.hpp"
#include "libregistry/core/manifest.hpp"
#include "libregistry/core/referrers.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace libregistry {

/// A blob being read; `read` returns 0 at the end. Implementations resume broken downloads themselves.
class blob_reader {
public:
    virtual ~blob_reader() = default;
    virtual boost::asio::awaitable<result<std::size_t>> read(std::span<std::byte> buffer) = 0;
};

/// An open upload session (distribution-spec "Pushing blobs"); `location` is opaque.
struct upload_session {
    std::string repository;
    std::string location;
    std::int64_t offset = 0;
    std::int64_t min_chunk = 0; ///< OCI-Chunk-Min-Length, when the registry sent one
    /// False: nothing was sent yet. The registry's finish_upload opens the session itself, or sends the blob
    /// in one request (remote_registry's single POST); cancel_upload has nothing to give back.
    bool opened = true;
};

/// What a manifest PUT came to.
struct pushed_manifest {
    libregistry::digest digest; ///< the digest the registry reports (the manifest's own)
    /// The `OCI-Subject` response header (distribution-spec "Pushing Manifests with Subject"): the registry
    /// indexed the manifest under this subject in its referrers API. nullopt when it did not say so (no
    /// header, or not a digest): a client keeps the referrers tag schema's index itself.
    std::optional<libregistry::digest> subject;
};

/// What a run is about to do in a repository: read it, or read and write it.
enum class repository_access { pull, push };

class registry {
public:
    virtual ~registry() = default;

    /// A hint: these repositories are about to be read (or written). A registry that authorizes per
    /// repository may ask for them all at once (remote_registry: one Docker token request for several
    /// scopes); the default does nothing. Nothing is reported: every later request still authorizes itself.
    virtual boost::asio::awaitable<void> prepare(std::vector<std::string> repositories,
                                                 repository_access access) {
        (void)repositories;
        (void)access;
        co_return;
    }

    /// host[:port] as normalised in references (`docker.io` for Docker Hub); equal names mean mounts can
    /// work.
    virtual std::string name() const = 0;

    /// HEAD: the manifest's descriptor (digest, media type, size), or nullopt when the registry has none.
    virtual boost::asio::awaitable<result<std::optional<descriptor>>> head_manifest(std::string repository,
                                                                                    std::string ref) = 0;
    /// GET: the exact bytes, checked against `ref` when it is a digest and against Docker-Content-Digest.
    virtual boost::asio::awaitable<result<manifest>> get_manifest(std::string repository,
                                                                  std::string ref) = 0;
    /// PUT the manifest's bytes under `ref` (a tag or its digest); returns the digest the registry reports,
    /// and the subject it indexed.
    virtual boost::asio::awaitable<result<pushed_manifest>> put_manifest(std::string repository,
                                                                         std::string ref, manifest m) = 0;

    /// Whether `m` can be stored under `repository`:`ref` at all, asked before any of its blobs is sent, so
    /// content a back end cannot hold (an image layout: Docker schema 1; a docker archive: an index or an
    /// artifact) fails with nothing written. Registries hold anything: the default says yes. put_manifest
    /// still refuses what it cannot store.
    virtual result<void> can_store(const std::string& repository, const std::string& ref,
                                   const manifest& m) const {
        (void)repository;
        (void)ref;
        (void)m;
        return {};
    }

    /// HEAD: whether `repository` holds the blob.
    virtual boost::asio::awaitable<result<bool>> has_blob(std::string repository, digest d) = 0;
    /// GET, streamed; `desc.size` bounds what is accepted.
    virtual boost::asio::awaitable<result<std::unique_ptr<blob_reader>>> get_blob(std::string repository,
                                                                                  descriptor desc) = 0;

    /// POST an upload. With `mount_from` set, asks to mount `d` from that repository of this registry first:
    /// nullopt means the blob was mounted and nothing is left to send; otherwise the registry opened a
    /// session.
    virtual boost::asio::awaitable<result<std::optional<upload_session>>>
    start_upload(std::string repository, std::optional<digest> d, std::optional<std::string> mount_from) = 0;
    /// Sends the whole blob from `reader` into `session` and commits it as `desc.digest`. The bytes are
    /// hashed on the way: a digest or size mismatch aborts before the commit.
    virtual boost::asio::awaitable<result<void>> finish_upload(upload_session session, descriptor desc,
                                                               blob_reader& reader) = 0;
    /// DELETE an abandoned session; best effort.
    virtual boost::asio::awaitable<void> cancel_upload(upload_session session) = 0;

    /// Every tag, following pagination.
    virtual boost::asio::awaitable<result<std::vector<std::string>>> list_tags(std::string repository) = 0;

    /// The manifests of `repository` whose `subject` is `subject` (OCI 1.1 referrers), from the referrers API
    /// or, where the registry has none, from the tag schema's index (`sha256-<hex>`); `source` says which,
    /// `none` when neither exists. With `artifact_type` set, only referrers of that artifactType come back.
    /// Cosign's `sha256-<hex>.sig`-style tags are not looked at: they are in list_tags (cosign_tags_for).
    /// `tag_schema` false: where the registry has no API, the tag schema's tag is not read (the caller knows
    /// from the tag list that it does not exist) and the answer is `none`.
    virtual boost::asio::awaitable<result<referrer_list>>
    list_referrers(std::string repository, digest subject, std::optional<std::string> artifact_type,
                   bool tag_schema = true) = 0;

    /// DELETE a tag only (OCI distribution-spec "Deleting tags"): true when deleted, false when it was gone
    /// already. errc::unsupported when the registry does not delete by tag (docker-registry 2.8 answers 400
    /// DIGEST_INVALID) or refuses deletes altogether (405 UNSUPPORTED); delete by digest is the fallback.
    virtual boost::asio::awaitable<result<bool>> delete_tag(std::string repository, std::string tag) = 0;
    /// DELETE a manifest by digest, and with it every tag pointing at it: true when deleted, false when it
    /// was gone already. errc::unsupported, with a message saying what to configure, when the registry
    /// refuses deletes (405, UNSUPPORTED).
    virtual boost::asio::awaitable<result<bool>> delete_manifest(std::string repository, digest d) = 0;
    /// Sets what to call whenever the registry throttles a request: answers 429 or 503, or holds requests
    /// back for its rate limit (the client retries and waits by itself, so callers hear of it only here).
    /// An empty function stops the calls. Back ends without rate limits never call it.
    virtual void on_throttle(std::function<void()> observer) { (void)observer; }
};

} // namespace libregistry
