// The syncer command line: parses flags, hands them to a subcommand, maps failures to exit statuses.
#include "commands/commands.hpp"
#include "commands/docs_commands.hpp"
#include "commands/help_text.hpp"
#include "commands/image_syncer_compat.hpp"
#include "commands/labnow_commands.hpp"
#include "commands/parse_errors.hpp"
#include "output/logger.hpp"
#include "session.hpp"
#include "text.hpp"

#include <iostream>
#include <map>

namespace {

// `--log-format json` of the command being run, as far as it was parsed: its usage errors are JSON lines too.
bool wants_json_log(const CLI::App& app) {
    for (const auto* sub : app.get_subcommands())
        if (const auto* option = sub->get_option_no_throw("--log-format");
            option != nullptr && option->count() > 0 && option->as<std::string>() == "json")
            return true;
    return false;
}

} // namespace

int main(int argc, char** argv) {
    // Installed under image-syncer's name (a symlink in the docker-kit image), syncer is image-syncer.
    if (argc > 0 && syncer::invoked_as_image_syncer(argv[0])) return syncer::run_image_syncer(argc, argv);
    CLI::App app{"syncer: copy and mirror OCI images between registries, byte for byte", "syncer"};
    app.require_subcommand(1);
    // Every option's help shows its default; set before the subcommands, which copy these settings.
    app.option_defaults()->always_capture_default();
    app.set_version_flag("--version,-V", "syncer " SYNCER_VERSION, "Print syncer's version and exit");
    // `--debug` may come before or after the subcommand.
    app.fallthrough(true);
    bool debug = false;
    app.add_flag(
        "--debug", debug,
        "Describe every HTTP request and response on stderr (secrets redacted; also SYNCER_DEBUG=1)");
    std::map<CLI::App*, std::function<int()>> commands;
    auto add = [&](std::function<int()> run) {
        commands.emplace(app.get_subcommands({}).back(), std::move(run));
    };
    add(syncer::add_copy_command(app));
    add(syncer::add_inspect_command(app));
    add(syncer::add_digest_command(app));
    add(syncer::add_tags_command(app));
    add(syncer::add_catalog_command(app));
    add(syncer::add_referrers_command(app));
    add(syncer::add_delete_command(app));
    add(syncer::add_sync_command(app));
    add(syncer::add_export_command(app));
    add(syncer::add_import_command(app));
    add(syncer::add_verify_command(app));
    add(syncer::add_jobs_command(app));
    add(syncer::add_sync_image_command(app));
    add(syncer::add_login_command(app));
    add(syncer::add_logout_command(app));
    add(syncer::add_completion_command(app));
    add(syncer::add_docs_command(app));
    auto* version = app.add_subcommand("version", "Print syncer's version");
    commands.emplace(version, [] {
        std::cout << "syncer " SYNCER_VERSION "\n";
        return 0;
    });
    syncer::add_help_footers(app);

    // Said before CLI11 parses: it would call an unknown word an unexpected argument, or ask for a command.
    if (auto word = syncer::command_word(argc, argv)) {
        auto subs = app.get_subcommands([&](const CLI::App* sub) { return sub->check_name(*word); });
        if (subs.empty()) {
            std::cerr << "syncer: " << syncer::unknown_command_text(app, *word);
            return syncer::exit_usage;
        }
    }

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        syncer::set_stderr_json(wants_json_log(app));
        if (app.get_subcommands().empty() && dynamic_cast<const CLI::RequiredError*>(&e) != nullptr) {
            std::cerr << "syncer: " << syncer::missing_command_text(app);
            return syncer::exit_usage;
        }
        syncer::report_parse_error(app, e, "syncer");
        return syncer::exit_usage;
    }
    syncer::set_stderr_json(wants_json_log(app));
    if (debug) syncer::enable_debug_log();
    try {
        for (auto* sub : app.get_subcommands())
            if (auto it = commands.find(sub); it != commands.end()) return it->second();
        return syncer::exit_usage;
    } catch (const syncer::usage_error& e) {
        syncer::stderr_line("error", "usage_error", std::string("syncer: ") + e.what(), e.what());
        return syncer::exit_usage;
    } catch (const std::exception& e) {
        // Only bugs and resource exhaustion get here.
        syncer::stderr_line("error", "internal_error", std::string("syncer: internal error: ") + e.what(),
                            std::string("internal error: ") + e.what());
        return syncer::exit_failed;
    }
}
