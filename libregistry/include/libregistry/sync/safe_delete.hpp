#pragma once
// Deleting tags and manifests in one repository without taking away what stays. A registry that deletes a
// tag by itself (OCI "Deleting tags") is asked to; one that deletes by digest only (docker-registry 2.8)
// deletes every tag of that digest at once, so a digest that a kept tag, a referrer of a kept image (the
// referrers tag schema) or a kept index's entry still needs is left alone, with a warning naming the tags.
#include "libregistry/client/registry.hpp"
#include "libregistry/core/digest.hpp"

#include <boost/asio/awaitable.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace libregistry {

/// `planned`: a dry run's deletion. `absent`: gone already. `left`: not deleted because something kept
/// needs its digest (the reason names it). `failed`: the registry's error.
enum class delete_status { deleted, planned, absent, left, failed };
std::string_view to_string(delete_status s);

struct delete_result {
    delete_status status = delete_status::failed;
    std::string reason;                        ///< printable; how, or why not
    std::optional<libregistry::digest> digest; ///< the digest deleted or left, when it came to one
    /// The registry refuses deletes altogether (405 / UNSUPPORTED): trying the next one is pointless.
    bool registry_refuses = false;
};

class safe_deleter {
public:
    /// `kept`: the repository's tags that must stay; `kept_digests`: images that must stay without a tag.
    safe_deleter(registry& r, std::string repository, std::vector<std::string> kept,
                 std::vector<digest> kept_digests = {});

    /// Deletes `tag`: by tag where the registry can, else by its digest unless something kept needs that
    /// digest (then `left`, or deleted anyway with `force`).
    boost::asio::awaitable<delete_result> delete_tag(std::string tag, bool force);
    /// Deletes the manifest `d` unless something kept needs it (then `left`, or deleted with `force`).
    boost::asio::awaitable<delete_result> delete_digest(digest d, bool force);

private:
    // What needs each digest (kept tags by name, referrer tags as "referrer TAG", index entries as "entry of
    // TAG"): HEADs every kept tag once, and GETs kept indexes.
    boost::asio::awaitable<result<void>> learn_kept();
    boost::asio::awaitable<delete_result> delete_by_digest(digest d, std::string what, bool force);

    registry& registry_;
    std::string repository_;
    std::vector<std::string> kept_;
    std::map<digest, std::vector<std::string>> needed_by_;
    bool learned_ = false;
    bool deletes_by_digest_only_ = false;
};

} // namespace libregistry
