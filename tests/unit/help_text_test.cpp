// The command word, the unknown-command message (which never echoes what may be a secret), and the help
// footers' examples and environment.
#include "commands/help_text.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace syncer;

namespace {

std::optional<std::string> word(std::vector<const char*> args) {
    args.insert(args.begin(), "syncer");
    return command_word(static_cast<int>(args.size()), args.data());
}

} // namespace

TEST_CASE("the command word is the first argument after syncer's own flags") {
    CHECK(word({"copy", "a", "b"}) == "copy");
    CHECK(word({"--debug", "sync"}) == "sync");
    CHECK_FALSE(word({}));
    CHECK_FALSE(word({"--version"}));
    CHECK_FALSE(word({"-h", "foo"}));
}

TEST_CASE("an unknown command is named and the commands are listed") {
    CLI::App app{"syncer", "syncer"};
    app.add_subcommand("copy", "Copy an image");
    app.add_subcommand("sync-image", "Mirror one image");
    const auto text = unknown_command_text(app, "foo");
    CHECK(text.starts_with("unknown command \"foo\"; the commands are:\n"));
    CHECK(text.find("  copy        Copy an image\n") != std::string::npos);
    CHECK(text.find("  sync-image  Mirror one image\n") != std::string::npos);
    // A word that is no command name may be a password typed in the wrong place.
    const auto secret = unknown_command_text(app, "S3cret!pw");
    CHECK(secret.find("S3cret") == std::string::npos);
    CHECK(secret.starts_with("unknown command (the word is not shown"));
    CHECK(missing_command_text(app).find("  copy ") != std::string::npos);
}

TEST_CASE("every command's footer has examples; those reading variables list them") {
    for (const char* name : {"", "copy", "inspect", "digest", "tags", "catalog", "referrers", "delete",
                             "sync", "verify", "jobs", "sync-image", "version", "image-syncer"}) {
        const auto footer = help_footer(name);
        CAPTURE(name);
        CHECK(footer.starts_with("Examples:\n  "));
    }
    CHECK(help_footer("jobs").find("FILE_AUTH                as --auth") != std::string::npos);
    CHECK(help_footer("copy").find("REGISTRY_AUTH_FILE") != std::string::npos);
    CHECK(help_footer("").find("SYNCER_DEBUG=1") != std::string::npos);
    CHECK(help_footer("no-such-command").empty());
}
