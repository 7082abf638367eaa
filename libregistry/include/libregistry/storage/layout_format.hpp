#pragma once
// The files of an OCI image layout (image-spec "OCI Image Layout Specification"): `oci-layout`, `index.json`
// and `blobs/<alg>/<encoded>`. Pure parsers and writers: what is read from disk is input, parsed strictly and
// bounded in size; the messages name the file (`where`).
#include "libregistry/core/error.hpp"
#include "libregistry/core/manifest.hpp"

#include <cstddef>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace libregistry {

/// image-spec annotations.md: the reference (tag) of an index.json entry.
inline constexpr std::string_view ref_name_annotation = "org.opencontainers.image.ref.name";
/// syncer's annotation on index.json entries of a bundle of many repositories: the repository path
/// (`library/alpine`). The entry's ref.name is then `<repository>:<tag>`.
inline constexpr std::string_view repository_annotation = "io.github.syncer.repository";

/// The bound on `index.json` (about 200,000 entries).
inline constexpr std::size_t max_layout_index_size = 64 * 1024 * 1024;
/// The bound on `oci-layout`.
inline constexpr std::size_t max_oci_layout_size = 4096;

/// The `oci-layout` file syncer writes: `{"imageLayoutVersion":"1.0.0"}`.
std::string oci_layout_file();

/// Checks an `oci-layout` file: a JSON object whose `imageLayoutVersion` is a string "1.x.y" (image-spec:
/// 1.0.0 is the only version). errc::invalid_archive otherwise, naming `where`.
result<void> parse_oci_layout(std::string_view text, std::string_view where);

/// The manifests of an `index.json`: a JSON object (at most max_layout_index_size bytes) with
/// `schemaVersion` 2, an optional `mediaType` that must be the OCI index type, and `manifests`, an array of
/// descriptors: `mediaType` (a non-empty string), `digest` (sha256 or sha512), `size` (0 to 2^53),
/// optional `annotations` (strings only), `platform`, `artifactType`, `urls`. A `ref.name` annotation must
/// be a valid ref name (is_valid_ref_name). errc::invalid_archive naming `where` and the entry otherwise.
result<std::vector<descriptor>> parse_layout_index(std::string_view text, std::string_view where);

/// The `index.json` of `manifests`: an OCI image index with the fields parse_layout_index reads. A non-empty
/// `blobs` goes into the index's own annotations as blob_list_annotation (see parse_layout_blob_list).
std::string layout_index_file(const std::vector<descriptor>& manifests, const std::set<digest>& blobs = {});

/// The index.json annotation syncer writes on a bundle's index: every blob the bundle's images use (stored
/// or, in a delta, omitted), space-separated, so that a saved copy of index.json is enough for `export
/// --since`.
inline constexpr std::string_view blob_list_annotation = "io.github.syncer.blobs";

/// The blob_list_annotation of an `index.json` (parsed as parse_layout_index does): nullopt when the index
/// has none (another tool wrote it); errc::invalid_archive naming `where` for a malformed list.
result<std::optional<std::set<digest>>> parse_layout_blob_list(std::string_view text, std::string_view where);

/// The side file at the root of a delta bundle (`export --since`): the blobs the delta leaves out because its
/// base bundle holds them.
inline constexpr std::string_view delta_file_name = "syncer-delta.json";
/// The bound on syncer-delta.json (about 700,000 digests).
inline constexpr std::size_t max_delta_file_size = 64 * 1024 * 1024;
/// The bound on the base's name.
inline constexpr std::size_t max_delta_base_size = 4096;

struct delta_record {
    std::string base;  ///< the base bundle as `--since` named it (oci:DIR, oci-archive:FILE, index.json)
    digest base_index; ///< the digest of the base's index.json
    std::set<digest> omitted; ///< blobs the delta's images use but does not hold
};

/// `{"base": "...", "baseIndex": "sha256:...", "omitted": ["sha256:...", ...]}`, keys sorted, one line.
std::string delta_file(const delta_record& record);
/// Parses syncer-delta.json strictly: a JSON object (at most max_delta_file_size bytes) with exactly those
/// three keys; `base` a non-empty string of at most max_delta_base_size bytes without control characters,
/// `baseIndex` a digest, `omitted` an array of distinct digests. errc::invalid_archive naming `where`.
result<delta_record> parse_delta_file(std::string_view text, std::string_view where);

/// image-spec annotations.md, `org.opencontainers.image.ref.name`:
///   ref       ::= component ("/" component)*
///   component ::= alphanum (separator alphanum)*
///   alphanum  ::= [A-Za-z0-9]+
///   separator ::= [-._:@+] | "--"
/// So `library/alpine:3.19` is one, and so is `3.19`; `_x`, `a__b` and the empty string are not.
bool is_valid_ref_name(std::string_view name) noexcept;

/// The path of a blob inside a layout, `blobs/<algorithm>/<encoded>`. A parsed digest has only
/// `sha256`/`sha512` and lowercase hex, so the path never leaves the layout.
std::string blob_path(const digest& d);

} // namespace libregistry
