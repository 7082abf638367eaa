// `syncer delete IMAGE`: one-off removal of a tag or a manifest, with pruning's safety (safe_delete.hpp).
#include "commands/commands.hpp"
#include "commands/common_flags.hpp"
#include "session.hpp"
#include "storage_registries.hpp"
#include "text.hpp"

#include <libregistry/sync/safe_delete.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <iostream>
#include <memory>

namespace syncer {

namespace asio = boost::asio;
using namespace libregistry;

namespace {

struct delete_flags {
    std::string target;
    endpoint_flags endpoint;
    bool force = false;
    int retry_times = 3;
};

int run_delete(const delete_flags& f) {
    // An archive is written whole from what it holds: taking one image out is an export without it.
    for (const auto* archive : {"oci-archive:", "docker-archive:"})
        if (f.target.starts_with(archive))
            throw usage_error(fmt::format("{}: syncer does not delete from an archive, which is rewritten "
                                          "whole: export again without the image",
                                          safe_text(f.target)));
    session s(f.retry_times);
    storage_registries storage;
    const auto target = open_image_argument(s, storage, f.target, f.endpoint, true);
    const auto& ref = target.location.ref;
    auto& reg = target.reg;
    bool by_digest = ref.digest.has_value();
    if (by_digest && !ref.tag.empty())
        throw usage_error(fmt::format("{}: give a tag or a digest to delete, not both", safe_text(f.target)));
    if (!by_digest && ref.tag.empty())
        throw usage_error(fmt::format("{}: give the tag (:TAG) or the digest (@sha256:...) to delete",
                                      safe_text(f.target)));
    return s.run([&]() -> asio::awaitable<int> {
        auto what = target.location.str();
        auto tags = co_await reg.list_tags(ref.repository);
        if (!tags) {
            std::cerr << "syncer delete: " << safe_text(tags.error().message) << "\n";
            co_return exit_failed;
        }
        // Everything but the tag being deleted stays.
        std::vector<std::string> kept = std::move(*tags);
        if (!by_digest) std::erase(kept, ref.tag);
        safe_deleter deleter(reg, ref.repository, std::move(kept));
        delete_result done;
        if (by_digest)
            done = co_await deleter.delete_digest(*ref.digest, f.force);
        else
            done = co_await deleter.delete_tag(ref.tag, f.force);
        switch (done.status) {
        case delete_status::deleted:
            // A layout's index.json is rewritten only now, without the entry.
            if (auto finished = storage.finish(); !finished) {
                std::cerr << "syncer delete: " << safe_text(finished.error().message) << "\n";
                co_return exit_failed;
            }
            std::cout << safe_text(fmt::format("deleted {} ({})", what, done.reason)) << "\n";
            co_return exit_ok;
        case delete_status::absent:
            std::cerr << safe_text(fmt::format("syncer delete: {} not found; nothing deleted", what)) << "\n";
            co_return exit_failed;
        case delete_status::left:
            std::cerr << "syncer delete: "
                      << safe_text(fmt::format("{}; --force deletes it, and those tags with it", done.reason))
                      << "\n";
            co_return exit_failed;
        case delete_status::planned:
        case delete_status::failed:
            break;
        }
        std::cerr << "syncer delete: " << safe_text(fmt::format("deleting {} failed: {}", what, done.reason))
                  << "\n";
        co_return exit_failed;
    });
}

} // namespace

std::function<int()> add_delete_command(CLI::App& app) {
    auto flags = std::make_shared<delete_flags>();
    auto* cmd = app.add_subcommand(
        "delete", "Delete a tag, or a manifest by digest, refusing to take away what other tags still need");
    cmd->add_option("IMAGE", flags->target,
                    "[docker://]host/repo:tag or host/repo@digest, oci:DIR:[REPO:]TAG or @digest")
        ->required();
    cmd->add_flag("--force", flags->force,
                  "Delete by digest even when other tags point at it (they go too), or referrers or a kept "
                  "index need it");
    cmd->add_option("--creds", flags->endpoint.creds, "USER[:PASS] for the registry");
    add_password_flags(*cmd, flags->endpoint);
    cmd->add_flag("--tls-verify{true}", flags->endpoint.tls_verify,
                  "Verify the registry's TLS certificate (=false also allows plain HTTP)");
    cmd->add_option("--cert-dir", flags->endpoint.cert_dir,
                    "Directory with CA certificates and client certificates");
    cmd->add_option("--authfile", flags->endpoint.auth_file, "Docker config.json / containers auth.json");
    add_retries_flag(*cmd, flags->retry_times, "Retries per request");
    return [flags] { return run_delete(*flags); };
}

} // namespace syncer
