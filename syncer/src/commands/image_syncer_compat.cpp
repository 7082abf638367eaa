// image-syncer v1.5's command line on top of `syncer sync`. Only the flags image-syncer v1.5 has are
// accepted (so a call that works here works with image-syncer, and the other way round), plus syncer's
// referrers flags: referrers travel with images by default here too, and a destination that refuses them
// needs a switch without rewriting every rule of the images file. The two flags image-syncer removed in v1.5
// get a message saying what replaced them instead of CLI11's bare "not expected".
#include "commands/image_syncer_compat.hpp"
#include "commands/commands.hpp"
#include "commands/help_text.hpp"
#include "commands/parse_errors.hpp"
#include "commands/sync_command.hpp"
#include "session.hpp"
#include "text.hpp"

#include <CLI/CLI.hpp>

#include <iostream>

namespace syncer {

namespace {

// image-syncer ends every failure with os.Exit(-1), which the shell sees as 255.
constexpr int image_syncer_failed = 255;

int fail(std::string_view message) {
    std::cerr << "image-syncer: " << safe_text(message) << "\n";
    return image_syncer_failed;
}

} // namespace

bool invoked_as_image_syncer(std::string_view argv0) noexcept {
    const auto slash = argv0.rfind('/');
    return argv0.substr(slash == std::string_view::npos ? 0 : slash + 1) == "image-syncer";
}

int run_image_syncer(int argc, char** argv) {
    CLI::App app{
        "image-syncer (syncer): mirror images between registries; image-syncer v1.5's flags and exit "
        "statuses, syncer's engine",
        "image-syncer"};
    app.option_defaults()->always_capture_default();
    app.footer("\n" + help_footer("image-syncer") + "\n");
    sync_flags f;
    f.proc = 5; // image-syncer's own default; `syncer sync` starts 64 (its registries' limits bound them)
    app.add_option("--auth", f.auth, "auth file path");
    app.add_option("--images", f.images, "images file path");
    app.add_option("--config", f.config,
                   "config file path ({auth: ..., images: ...}; deprecated by image-syncer)");
    app.add_option("--log", f.log, "log file path (default in os.Stderr)");
    app.add_option("--proc,-p", f.proc, "numbers of images copied at once")->default_str("5");
    app.add_option("--retries,-r", f.retries, "times to retry failed task")->default_str("2");
    app.add_option("--os", f.os, "os list to filter source tags (repeatable)");
    app.add_option("--arch", f.arch, "architecture list to filter source tags (repeatable)");
    app.add_flag("--force", f.force, "force update manifest whether the destination manifest exists");
    app.add_option("--output-success-images", f.output_success, "output success images in a new file");
    app.add_option("--output-images-format", f.output_format, "success images output format, json or yaml")
        ->default_str("yaml");
    add_referrer_flags(app, f.referrers);
    bool version = false;
    app.add_flag("--version", version, "print app version");
    // Removed in image-syncer v1.5 (destinations must be complete); caught only to say so. The empty group
    // keeps them out of --help.
    std::string removed_registry;
    std::string removed_namespace;
    app.add_option("--registry", removed_registry)->group("");
    app.add_option("--namespace", removed_namespace)->group("");

    hide_empty_list_defaults(app);
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        report_parse_error(app, e, "image-syncer");
        return image_syncer_failed;
    }
    if (app.count("--registry") > 0 || app.count("--namespace") > 0)
        return fail(
            "--registry and --namespace were removed in image-syncer v1.5 and are not supported: write "
            "every destination in full (registry/namespace/repository) in the images file");
    if (version) {
        std::cout << "app-version: syncer " SYNCER_VERSION " (image-syncer v1.5 compatible)\n";
        return 0;
    }
    try {
        // 130 / 143 after SIGINT / SIGTERM, as the shell reports a Go program killed by them.
        const int status = run_sync_command(f);
        if (status > exit_signal_base) return status;
        return status == exit_ok ? 0 : image_syncer_failed;
    } catch (const usage_error& e) {
        return fail(e.what());
    } catch (const std::exception& e) {
        // Only bugs and resource exhaustion get here.
        return fail(std::string("internal error: ") + e.what());
    }
}

} // namespace syncer
