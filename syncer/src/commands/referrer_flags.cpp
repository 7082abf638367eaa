#include "commands/referrer_flags.hpp"

#include "session.hpp"

#include <libregistry/sync/tag_policy.hpp>

#include <fmt/format.h>

#include <charconv>

namespace syncer {

using namespace libregistry;

void add_referrer_flags(CLI::App& cmd, referrer_flags& flags, bool with_switch) {
    flags.switch_offered = with_switch;
    const referrer_policy defaults;
    if (with_switch)
        cmd.add_flag(
            "--referrers,!--no-referrers", flags.enabled,
            "Carry each image's referrers (signatures, SBOMs, attestations: OCI referrers API, "
            "referrers tag schema, cosign tags) with it; default on, --no-referrers copies the image "
            "alone");
    cmd.add_option("--referrer-types", flags.include_types,
                   "Only referrers of these artifact types: types and /regex/ (repeatable, comma-separated), "
                   "e.g. application/vnd.dev.cosign.artifact.sig.v1+json or /cosign/; default every type")
        ->type_size(0, 1)
        ->allow_extra_args(false)
        ->type_name("LIST");
    cmd.add_option("--exclude-referrer-types", flags.exclude_types,
                   "Leave out referrers of these artifact types: types and /regex/ (repeatable, "
                   "comma-separated)")
        ->type_size(0, 1)
        ->allow_extra_args(false)
        ->type_name("LIST");
    cmd.add_option("--referrers-depth", flags.depth,
                   fmt::format("Follow referrers of referrers this deep (1: only the image's own; a "
                               "signature of an SBOM is 2); default {}",
                               defaults.max_depth))
        ->type_name("N");
}

referrer_policy parse_referrer_flags(const referrer_flags& flags) {
    referrer_policy policy;
    policy.enabled = flags.enabled;
    for (const auto& [values, list, flag] :
         {std::tuple{&flags.include_types, &policy.include_types, "--referrer-types"},
          std::tuple{&flags.exclude_types, &policy.exclude_types, "--exclude-referrer-types"}}) {
        for (const auto& value : *values) {
            auto entries = split_tag_patterns(value);
            if (entries.empty())
                throw usage_error(
                    fmt::format("{}: the list is empty; give artifact types or /regex/, or leave "
                                "the flag out for every type",
                                flag));
            list->insert(list->end(), entries.begin(), entries.end());
        }
        referrer_policy alone;
        alone.include_types = *list;
        if (auto ok = check_referrer_policy(alone, flag); !ok) throw usage_error(ok.error().message);
    }
    if (!flags.depth.empty()) {
        const auto& text = flags.depth;
        int n = 0;
        const auto parsed = std::from_chars(text.data(), text.data() + text.size(), n);
        if (parsed.ptr != text.data() + text.size() || parsed.ec != std::errc{} || n < 1 ||
            n > max_referrers_depth)
            throw usage_error(
                fmt::format("--referrers-depth {}: expected a whole number from 1 to {} (1: only "
                            "the image's own referrers)",
                            text, max_referrers_depth));
        policy.max_depth = n;
    }
    if (!policy.enabled &&
        (!policy.include_types.empty() || !policy.exclude_types.empty() || !flags.depth.empty()))
        throw usage_error(
            "--no-referrers carries no referrers, so --referrer-types, --exclude-referrer-types "
            "and --referrers-depth have nothing to select; give one or the other");
    return policy;
}

} // namespace syncer
