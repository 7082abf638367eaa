// `syncer copy SRC DST`: flags -> copy_options -> libregistry::copy_image.
#include "commands/commands.hpp"
#include "commands/common_flags.hpp"
#include "commands/multi_arch.hpp"
#include "commands/referrer_flags.hpp"
#include "commands/run_limits.hpp"
#include "output/progress.hpp"
#include "output/referrers_output.hpp"
#include "session.hpp"
#include "storage_registries.hpp"
#include "text.hpp"

#include <libregistry/core/transport.hpp>

#include <libregistry/sync/copy.hpp>
#include <libregistry/sync/referrers_copy.hpp>

#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <memory>

namespace syncer {

namespace asio = boost::asio;
using namespace libregistry;

namespace {

struct copy_flags {
    std::string source;
    std::string destination;
    endpoint_flags src;
    endpoint_flags dst;
    std::string auth_file;
    std::vector<std::string> platforms;
    int retry_times = 3;
    std::size_t jobs = 6;
    bool quiet = false;
    bool force = false;
    run_limit_flags limits;
    referrer_flags referrers;
    std::string digest_file;
    bool all = false;
    std::string multi_arch;
};

void add_endpoint_flags(CLI::App& cmd, endpoint_flags& flags, const std::string& prefix,
                        const std::string& side) {
    flags.flag_prefix = prefix + "-";
    cmd.add_option("--" + prefix + "-creds", flags.creds, "USER[:PASS] for the " + side + " registry");
    add_password_flags(cmd, flags);
    cmd.add_flag("--" + prefix + "-tls-verify{true}", flags.tls_verify,
                 "Verify the " + side + " registry's TLS certificate (=false also allows plain HTTP)");
    cmd.add_option("--" + prefix + "-cert-dir", flags.cert_dir,
                   "Directory with ca.crt / *.crt CAs and *.cert + *.key client certificates for the " +
                       side);
}

int run_copy(const copy_flags& f) {
    auto from_location = parse_image_location(f.source);
    if (!from_location)
        throw usage_error(fmt::format("invalid source reference: {}", from_location.error().message));
    auto to_location = parse_image_location(f.destination);
    if (!to_location)
        throw usage_error(fmt::format("invalid destination reference: {}", to_location.error().message));
    if (from_location->is_storage() && from_location->ref.tag.empty() && !from_location->ref.digest)
        throw usage_error(fmt::format("source {}: name the image to copy: {}:REPOSITORY:TAG (a bundle) or "
                                      "{}:TAG",
                                      f.source, from_location->ref.registry, from_location->ref.registry));
    // `oci:DIR` alone as the destination: the image keeps the source's repository and tag in the bundle.
    if (to_location->is_storage() && !to_location->named && to_location->ref.tag.empty() &&
        !to_location->ref.digest) {
        to_location->named = true;
        to_location->ref.repository = from_location->ref.repository;
        to_location->ref.tag = from_location->ref.tag;
        to_location->ref.digest = from_location->ref.digest;
        if (to_location->ref.repository.empty())
            throw usage_error(fmt::format("destination {}: name the image: {}:REPOSITORY:TAG", f.destination,
                                          to_location->ref.registry));
    }
    auto from = from_location->ref;
    auto to = to_location->ref;
    const auto from_text = from_location->str();
    const auto to_text = to_location->str();
    const auto limits = parse_run_limits(f.limits);
    // Lives as long as the copy: the copy engine keeps what it learns about the registries in it.
    referrers_context referrers(parse_referrer_flags(f.referrers));
    copy_options options;
    // docker save's format has no place for an artifact (docker load cannot read one): the image goes in, its
    // referrers are left behind, said once rather than failing the copy.
    if (referrers.policy().enabled && to_location->transport == transport_kind::docker_archive)
        std::cerr << "syncer copy: warning: a docker archive cannot hold referrers (signatures, SBOMs, "
                     "attestations): they are not carried; write oci-archive: to keep them, or pass "
                     "--no-referrers\n";
    else if (referrers.policy().enabled)
        options.referrers = &referrers;
    options.jobs = std::max<std::size_t>(f.jobs, 1);
    options.retry.max_attempts = f.retry_times + 1;
    options.force = f.force;
    auto platforms = f.platforms;
    if (f.all && !f.multi_arch.empty() && f.multi_arch != "all")
        throw usage_error(
            fmt::format("--all and --multi-arch {} ask for different platforms: use one", f.multi_arch));
    if (f.all || !f.multi_arch.empty()) {
        if (!platforms.empty())
            throw usage_error(fmt::format("{} and --platform both choose platforms: use one",
                                          f.all ? "--all" : "--multi-arch " + f.multi_arch));
        platforms = multi_arch_platforms(f.all ? "all" : f.multi_arch);
    }
    for (const auto& text : platforms) {
        auto p = parse_platform(text);
        if (!p) throw usage_error(fmt::format("--platform {}: {}", text, p.error().message));
        options.platforms.push_back(*p);
    }
    if (f.src.password_stdin && f.dst.password_stdin)
        throw usage_error("--src-password-stdin and --dest-password-stdin: stdin can give only one password; "
                          "take the other from an environment variable (--src-password-env or "
                          "--dest-password-env VAR)");
    auto src_flags = f.src;
    auto dst_flags = f.dst;
    if (!f.auth_file.empty()) {
        if (src_flags.auth_file.empty()) src_flags.auth_file = f.auth_file;
        if (dst_flags.auth_file.empty()) dst_flags.auth_file = f.auth_file;
    }

    session s(f.retry_times, limits.min_rate);
    s.timeout = limits.timeout;
    s.max_wait = limits.max_wait;
    storage_registries storage;
    const auto naming = [](const image_location& l) {
        return l.named ? layout_naming::bundle : layout_naming::single;
    };
    auto& source = from_location->is_storage() ? storage.open(from.registry, false, naming(*from_location))
                                               : static_cast<registry&>(s.open(from.registry, src_flags));
    auto& destination = to_location->is_storage() ? storage.open(to.registry, true, naming(*to_location))
                                                  : static_cast<registry&>(s.open(to.registry, dst_flags));
    progress out(f.quiet, progress::stderr_is_terminal());
    options.on_event = [&out](const copy_event& e) { out.on_event(e); };
    options.stop = s.stop_token();

    return s.run([&]() -> asio::awaitable<int> {
        auto r = co_await copy_image(source, from, destination, to, options);
        out.finish();
        if (!r) {
            // What was sent before the failure, as the progress counted it: blobs that made it are not sent
            // again by the next run.
            const auto& tally = out.tally();
            const auto sent = fmt::format("{} sent ({} complete)", human_bytes(double(tally.moved())),
                                          plural(std::uint64_t(tally.blobs_done()), "blob", "blobs"));
            if (!s.stopped_by().empty())
                std::cerr << fmt::format("syncer copy: {}: {}; {}; {} does not point at an incomplete "
                                         "image, and running the same command again resumes\n",
                                         s.stop_text(), safe_text(r.error().message), sent, to_text);
            else
                std::cerr << fmt::format("syncer copy: {}; {}\n", safe_text(r.error().message), sent);
            co_return exit_failed;
        }
        // The layout's index.json, or the archive, is written only now that the image is complete.
        if (auto finished = storage.finish(); !finished) {
            std::cerr << fmt::format("syncer copy: {}\n", safe_text(finished.error().message));
            co_return exit_failed;
        }
        const auto& st = *r;
        if (!f.digest_file.empty()) {
            // As skopeo writes it: the digest the destination now holds, with no newline.
            std::ofstream digest_out(f.digest_file, std::ios::binary | std::ios::trunc);
            digest_out << st.manifest_digest.str();
            digest_out.close();
            if (!digest_out) {
                std::cerr << fmt::format("syncer copy: {} was copied ({}), but --digestfile {} could not be "
                                         "written\n",
                                         to_text, st.manifest_digest.str(), f.digest_file);
                co_return exit_failed;
            }
        }
        // Notes say what could not be carried (a cycle, the depth bound, a rewritten index's own
        // referrers): worth seeing even with --quiet.
        for (const auto& note : st.referrers.notes)
            std::cerr << "syncer copy: warning: " << safe_text(note) << "\n";
        if (!f.quiet) {
            // Said only when it happened: a single image, or an index every entry of which matched, is
            // copied unchanged.
            const std::string rewritten =
                st.filtered ? "; --platform rewrote the index, so its digest differs from the source's" : "";
            const auto carried = referrers_outcome(st.referrers);
            const auto carried_up = carried.empty() ? std::string() : fmt::format("; {}", carried);
            const auto carried_copied = carried.empty() ? std::string() : fmt::format(", {}", carried);
            if (st.up_to_date)
                std::cerr << fmt::format("{} is already up to date at {} ({}{}){}\n", from_text, to_text,
                                         st.manifest_digest.str(), carried_up, rewritten);
            else
                std::cerr << fmt::format(
                    "Copied {} to {}: {} ({} uploaded, {} mounted, {} already present, {} sent, {}{}, "
                    "{:.1f} s){}\n",
                    from_text, to_text, st.manifest_digest.str(),
                    plural(std::uint64_t(st.blobs_uploaded), "blob", "blobs"), st.blobs_mounted,
                    st.blobs_skipped, human_bytes(double(st.bytes_sent)),
                    plural(std::uint64_t(st.manifests_pushed), "manifest", "manifests"), carried_copied,
                    st.duration.count() / 1000.0, rewritten);
        }
        co_return exit_ok;
    });
}

} // namespace

std::function<int()> add_copy_command(CLI::App& app) {
    auto flags = std::make_shared<copy_flags>();
    auto* cmd =
        app.add_subcommand("copy", "Copy an image (manifest, index and blobs) from one registry to another");
    cmd->add_option("SOURCE", flags->source,
                    "Source image: [docker://]host/repo:tag or @digest, oci:DIR:[REPO:]TAG, "
                    "oci-archive:FILE:[REPO:]TAG")
        ->required();
    cmd->add_option("DESTINATION", flags->destination,
                    "Destination image: [docker://]host/repo[:tag|@digest], oci:DIR[:[REPO:]TAG], "
                    "oci-archive:FILE[:[REPO:]TAG]")
        ->required();
    add_endpoint_flags(*cmd, flags->src, "src", "source");
    add_endpoint_flags(*cmd, flags->dst, "dest", "destination");
    cmd->add_option("--authfile", flags->auth_file,
                    "Docker config.json / containers auth.json with credentials");
    cmd->add_option("--src-authfile", flags->src.auth_file, "Auth file for the source only");
    cmd->add_option("--dest-authfile", flags->dst.auth_file, "Auth file for the destination only");
    cmd->add_option(
        "--platform", flags->platforms,
        "Keep only os/arch[/variant] (repeatable): matching entries of an index, nested ones included (the "
        "index digest changes); a single image is copied only if it matches");
    cmd->add_flag("--all,-a", flags->all,
                  "Copy every platform of an index (skopeo's --all; syncer does this by default)");
    cmd->add_option("--multi-arch", flags->multi_arch,
                    "skopeo's choice for an index: all (syncer's default), system (only " +
                        this_machine_platform() +
                        ", like --platform) or index-only (refused: a registry rejects an index without its "
                        "images)");
    cmd->add_option("--digestfile", flags->digest_file,
                    "Write the digest the destination now holds to FILE (no newline, as skopeo)");
    add_retries_flag(*cmd, flags->retry_times,
                     "Retries per request; a blob transfer that starts over shares the budget");
    cmd->add_option("--jobs,-j", flags->jobs, "Blobs copied in parallel")->check(CLI::Range(1, 256));
    cmd->add_flag("--force", flags->force, "Push manifests even when the destination already has the digest");
    cmd->add_flag("--quiet,-q", flags->quiet, "Print nothing but errors");
    add_run_limit_flags(*cmd, flags->limits);
    add_referrer_flags(*cmd, flags->referrers);
    return [flags] { return run_copy(*flags); };
}

} // namespace syncer
