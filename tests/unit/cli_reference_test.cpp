// The command line read back from CLI11 (output/cli_reference): what --help shows and nothing it hides.
#include "output/cli_reference.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

using namespace syncer;

namespace {

struct parsed_flags {
    std::string shell, format, authfile, list;
    int retries = 3;
    bool debug = false, all = false;
    std::string hidden;
};

const cli_option* find(const std::vector<cli_option>& options, const std::string& name) {
    const auto it = std::find_if(options.begin(), options.end(), [&](const cli_option& o) {
        return std::find(o.names.begin(), o.names.end(), name) != o.names.end() || o.positional_name == name;
    });
    return it == options.end() ? nullptr : &*it;
}

} // namespace

TEST_CASE("describe_cli reads options, positionals and subcommands as --help shows them") {
    parsed_flags flags;
    CLI::App app{"a tool", "tool"};
    app.fallthrough(true);
    app.add_flag("--debug", flags.debug, "Say more");
    auto* run = app.add_subcommand("run", "Run it");
    run->alias("r");
    run->add_option("SHELL", flags.shell, "The shell")->required()->check(CLI::IsMember({"bash", "zsh"}));
    run->add_option("--format,-f", flags.format, "Output format")->envname("TOOL_FORMAT");
    run->add_option("--retries", flags.retries, "Retries")->capture_default_str()->check(CLI::Range(0, 100));
    run->add_option("--list", flags.list, "Optional value")->type_size(0, 1)->type_name("LIST");
    run->add_flag("--all,-a", flags.all, "Everything");
    run->add_option("--secret", flags.hidden, "Not shown")->group("");
    auto* hidden = app.add_subcommand("__internal", "Not shown");
    hidden->group("");

    const auto root = describe_cli(app);
    CHECK(root.path == std::vector<std::string>{"tool"});
    CHECK(root.description == "a tool");
    REQUIRE(root.subcommands.size() == 1);
    const auto& sub = root.subcommands.front();
    CHECK(command_line(sub) == "tool run");
    CHECK(page_name(sub) == "tool-run");
    CHECK(sub.aliases == std::vector<std::string>{"r"});

    CHECK(find(sub.options, "--secret") == nullptr);
    const auto* shell = find(sub.positionals, "SHELL");
    REQUIRE(shell != nullptr);
    CHECK(shell->required);
    CHECK(shell->value_name == "TEXT");
    CHECK(shell->choices == std::vector<std::string>{"bash", "zsh"});

    const auto* format = find(sub.options, "-f");
    REQUIRE(format != nullptr);
    CHECK(format->names == std::vector<std::string>{"-f", "--format"});
    CHECK(format->environment == "TOOL_FORMAT");
    CHECK(format->value_required);

    const auto* retries = find(sub.options, "--retries");
    REQUIRE(retries != nullptr);
    CHECK(retries->value_name == "INT");
    CHECK(retries->constraint == "INT in [0 - 100]");
    CHECK(retries->choices.empty());
    CHECK(retries->default_value == "3");

    const auto* list = find(sub.options, "--list");
    REQUIRE(list != nullptr);
    CHECK(list->value_name == "LIST");
    CHECK_FALSE(list->value_required);

    const auto* all = find(sub.options, "--all");
    REQUIRE(all != nullptr);
    CHECK(all->value_name.empty());
    CHECK_FALSE(all->value_required);

    // The root's flags are accepted after the subcommand (fallthrough), its --help is the subcommand's own.
    REQUIRE(sub.inherited_options.size() == 1);
    CHECK(sub.inherited_options.front().names == std::vector<std::string>{"--debug"});
}

TEST_CASE("without fallthrough a subcommand inherits no options") {
    bool debug = false;
    CLI::App app{"a tool", "tool"};
    app.add_flag("--debug", debug, "Say more");
    app.add_subcommand("run", "Run it");
    const auto root = describe_cli(app);
    REQUIRE(root.subcommands.size() == 1);
    CHECK(root.subcommands.front().inherited_options.empty());
}
