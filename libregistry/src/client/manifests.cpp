// Manifests: HEAD, GET (checked against the digest asked for and Docker-Content-Digest), PUT and DELETE.
#include "libregistry/client/remote_registry.hpp"
#include "libregistry/core/media_type.hpp"

#include "client/session.hpp"

#include <fmt/format.h>

#include <cstdlib>

namespace libregistry {

namespace asio = boost::asio;
using detail::api_call;
using detail::verb;

namespace {

bool is_digest_ref(std::string_view ref) {
    return ref.find(':') != std::string_view::npos;
}

// Deleting needs the `delete` action in token auth (docker-registry's token scope for DELETE).
scope delete_scope(std::string repository) {
    return scope{"repository", std::move(repository), {"delete"}};
}

// 405, or UNSUPPORTED in the body: the registry does not delete (docker-registry answers both while
// `storage.delete.enabled` is false).
bool refuses_deletes(const error& e) {
    return e.http_status == 405 || e.code == errc::unsupported;
}

/// DELETE of a manifest reference (tag or digest): true when deleted, false when it was not there; an error
/// the registry answered carries its http_status, a failed exchange has none.
asio::awaitable<result<bool>> send_delete(detail::registry_session& s, const std::string& repository,
                                          const std::string& ref) {
    api_call c;
    c.method = verb::delete_;
    c.target = fmt::format("/v2/{}/manifests/{}", repository, ref);
    c.repository = repository;
    c.scopes = {delete_scope(repository)};
    auto resp = co_await s.send(c);
    if (!resp) co_return resp.error();
    if (resp->status == 202 || resp->status == 200) co_return true;
    if (resp->status == 404) co_return false;
    co_return s.error_from(*resp, verb::delete_, c.target);
}

} // namespace

asio::awaitable<result<std::optional<descriptor>>> remote_registry::head_manifest(std::string repository,
                                                                                  std::string ref) {
    auto& s = *session_;
    if (auto ok = detail::check_names(s.name(), repository, ref); !ok) co_return ok.error();
    api_call c;
    c.method = verb::head;
    c.target = fmt::format("/v2/{}/manifests/{}", repository, ref);
    c.headers.emplace_back("Accept", manifest_accept_header());
    c.repository = repository;
    c.scopes = {pull_scope(repository)};
    auto resp = co_await s.send(c);
    if (!resp) co_return resp.error();
    if (resp->status == 404) co_return std::optional<descriptor>{};
    if (resp->status != 200) co_return s.error_from(*resp, verb::head, c.target);
    auto header = resp->header("Docker-Content-Digest");
    if (header.empty()) {
        // Some registries omit the digest on HEAD (the spec only says SHOULD): fall back to a GET.
        auto m = co_await get_manifest(repository, ref);
        if (!m) co_return m.error();
        co_return std::optional<descriptor>{m->as_descriptor()};
    }
    auto d = digest::parse(header);
    if (!d)
        co_return make_error(errc::bad_response,
                             fmt::format("{}: bad Docker-Content-Digest: {}",
                                         s.describe(verb::head, c.target), d.error().message));
    if (is_digest_ref(ref) && d->str() != ref)
        co_return make_error(errc::digest_mismatch,
                             fmt::format("{}: registry reports digest {} for {}",
                                         s.describe(verb::head, c.target), d->str(), ref));
    descriptor out;
    out.digest = *d;
    out.media_type = std::string(media_type_essence(resp->header("Content-Type")));
    auto length = resp->header("Content-Length");
    out.size = length.empty() ? -1 : std::strtoll(std::string(length).c_str(), nullptr, 10);
    co_return std::optional<descriptor>{std::move(out)};
}

asio::awaitable<result<manifest>> remote_registry::get_manifest(std::string repository, std::string ref) {
    auto& s = *session_;
    if (auto ok = detail::check_names(s.name(), repository, ref); !ok) co_return ok.error();
    auto where = fmt::format("{}/{}:{}", s.name(), repository, ref);
    api_call c;
    c.pull = true;
    c.target = fmt::format("/v2/{}/manifests/{}", repository, ref);
    c.headers.emplace_back("Accept", manifest_accept_header());
    c.repository = repository;
    c.scopes = {pull_scope(repository)};
    c.body_limit = max_manifest_size;
    auto resp = co_await s.send(c);
    if (!resp) {
        auto e = resp.error();
        if (e.code == errc::too_large)
            e.message =
                fmt::format("manifest {} is larger than {} bytes; refusing it", where, max_manifest_size);
        co_return e;
    }
    if (resp->status == 404) {
        auto e = s.error_from(*resp, verb::get, c.target);
        e.code = make_error_code(errc::manifest_unknown);
        e.message = fmt::format("manifest {} not found: {}", where, e.message);
        co_return e;
    }
    if (resp->status != 200) co_return s.error_from(*resp, verb::get, c.target);
    auto m = parse_manifest(std::move(resp->body), resp->header("Content-Type"));
    if (!m) {
        auto e = m.error();
        e.message = fmt::format("manifest {}: {}", where, e.message);
        co_return e;
    }
    if (is_digest_ref(ref) && m->digest.str() != ref)
        co_return make_error(
            errc::digest_mismatch,
            fmt::format("manifest {} has digest {}: the registry sent different bytes than asked for", where,
                        m->digest.str()));
    // A signed schema 1 manifest's digest is its payload's (parse_manifest), as the registry computes it.
    if (auto header = resp->header("Docker-Content-Digest"); !header.empty()) {
        auto d = digest::parse(header);
        if (d && d->algorithm() == m->digest.algorithm() && *d != m->digest)
            co_return make_error(
                errc::digest_mismatch,
                fmt::format("manifest {}: body hashes to {} but Docker-Content-Digest says {}", where,
                            m->digest.str(), d->str()));
    }
    co_return std::move(*m);
}

asio::awaitable<result<pushed_manifest>> remote_registry::put_manifest(std::string repository,
                                                                       std::string ref, manifest m) {
    auto& s = *session_;
    if (auto ok = detail::check_names(s.name(), repository, ref); !ok) co_return ok.error();
    api_call c;
    c.method = verb::put;
    c.target = fmt::format("/v2/{}/manifests/{}", repository, ref);
    c.headers.emplace_back("Content-Type", m.media_type);
    c.body = m.bytes;
    c.repository = repository;
    c.scopes = {push_scope(repository)};
    auto resp = co_await s.send(c);
    auto failed = [&](error e) {
        e.message = fmt::format("pushing manifest {} to {}/{}:{} failed: {}", m.digest.str(), s.name(),
                                repository, ref, e.message);
        return e;
    };
    if (!resp) co_return failed(resp.error());
    if (resp->status != 201 && resp->status != 200)
        co_return failed(s.error_from(*resp, verb::put, c.target));
    if (auto header = resp->header("Docker-Content-Digest"); !header.empty()) {
        auto d = digest::parse(header);
        if (d && d->algorithm() == m.digest.algorithm() && *d != m.digest)
            co_return make_error(errc::digest_mismatch,
                                 fmt::format("{}/{}:{} stored manifest {} as {}: the registry rewrote it",
                                             s.name(), repository, ref, m.digest.str(), d->str()));
    }
    pushed_manifest out{m.digest, std::nullopt};
    // Only a digest counts: anything else is as good as no header, and the caller keeps the tag schema's
    // index itself (distribution-spec "Pushing Manifests with Subject").
    if (auto header = resp->header("OCI-Subject"); !header.empty())
        if (auto d = digest::parse(header)) out.subject = std::move(*d);
    co_return out;
}

asio::awaitable<result<bool>> remote_registry::delete_tag(std::string repository, std::string tag) {
    auto& s = *session_;
    if (auto ok = detail::check_names(s.name(), repository, tag); !ok) co_return ok.error();
    if (is_digest_ref(tag))
        co_return make_error(errc::invalid_argument,
                             fmt::format("delete_tag: {} is a digest, not a tag", tag));
    auto deleted = co_await send_delete(s, repository, tag);
    if (deleted || deleted.error().http_status == 0) co_return deleted;
    auto e = deleted.error();
    // docker-registry 2.8 parses the reference of a DELETE as a digest and answers 400 DIGEST_INVALID for a
    // tag; others answer 405 or UNSUPPORTED. Either way this registry deletes by digest or not at all.
    if (refuses_deletes(e) || (e.http_status == 400 && e.code == errc::digest_invalid)) {
        e.code = make_error_code(errc::unsupported);
        e.message = fmt::format("{}/{} does not delete a tag by itself: {}", s.name(), repository, e.message);
    }
    co_return e;
}

asio::awaitable<result<bool>> remote_registry::delete_manifest(std::string repository, digest d) {
    auto& s = *session_;
    if (auto ok = detail::check_names(s.name(), repository, d.str()); !ok) co_return ok.error();
    auto deleted = co_await send_delete(s, repository, d.str());
    if (deleted || deleted.error().http_status == 0) co_return deleted;
    auto e = deleted.error();
    if (refuses_deletes(e)) {
        e.code = make_error_code(errc::unsupported);
        e.message = fmt::format(
            "{} refuses to delete manifests ({}): deleting needs it enabled; for docker-registry set "
            "`storage: delete: enabled: true` in its config (REGISTRY_STORAGE_DELETE_ENABLED=true), for "
            "other registries allow deletes (tag immutability or retention settings) for {}",
            s.name(), e.message, repository);
    }
    co_return e;
}

} // namespace libregistry
