// Man pages rendered from the command line (output/man_page): roff escaping, one page per command, the
// sections --help has.
#include "output/man_page.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace syncer;

namespace {

cli_command sample() {
    cli_command root;
    root.path = {"tool"};
    root.description = "a tool";
    cli_command run;
    run.path = {"tool", "run"};
    run.description = ".starts with a dot and has a \\ backslash";
    run.footer = "Examples:\n  tool run x\n\n'quoted line";
    cli_option positional;
    positional.positional_name = "SHELL";
    positional.value_name = "TEXT";
    positional.required = true;
    positional.description = "The shell";
    run.positionals.push_back(positional);
    cli_option retries;
    retries.names = {"-r", "--retry-times"};
    retries.value_name = "INT";
    retries.value_required = true;
    retries.constraint = "INT in [0 - 100]";
    retries.default_value = "3";
    retries.environment = "TOOL_RETRIES";
    retries.description = "Retries per request";
    run.options.push_back(retries);
    cli_command nested;
    nested.path = {"tool", "run", "deep"};
    nested.description = "deeper";
    run.subcommands.push_back(nested);
    root.subcommands.push_back(run);
    return root;
}

} // namespace

TEST_CASE("one page per command, at any depth, each pointing at its parent and children") {
    const auto pages = man_pages(sample(), "1.2.3");
    REQUIRE(pages.size() == 3);
    CHECK(pages[0].file_name == "tool.1");
    CHECK(pages[1].file_name == "tool-run.1");
    CHECK(pages[2].file_name == "tool-run-deep.1");
    CHECK(pages[0].text.find(".TH TOOL 1 \"\" \"tool 1.2.3\" \"User Commands\"\n") != std::string::npos);
    CHECK(pages[0].text.find(".SH COMMANDS\n.TP\n\\fBrun\\fR\n") != std::string::npos);
    CHECK(pages[1].text.find(".SH SEE ALSO\n\\fBtool\\fR(1),\n\\fBtool\\-run\\-deep\\fR(1)\n") !=
          std::string::npos);
    CHECK(pages[2].text.find(".SH SEE ALSO\n\\fBtool\\-run\\fR(1)\n") != std::string::npos);
}

TEST_CASE("text that roff would read as a request or an escape is escaped") {
    const auto page = man_pages(sample(), "1").at(1).text;
    CHECK(page.find(".SH NAME\ntool\\-run \\- \\&.starts with a dot and has a \\e backslash\n") !=
          std::string::npos);
    CHECK(page.find("\n.starts") == std::string::npos);
    // The footer keeps its lines; a blank one is a vertical space, a leading quote is not a control line.
    CHECK(page.find(".SH NOTES\n.nf\nExamples:\n  tool run x\n.sp\n\\&'quoted line\n.fi\n") !=
          std::string::npos);
}

TEST_CASE("options and arguments carry their value, constraint, default and environment variable") {
    const auto page = man_pages(sample(), "1").at(1).text;
    CHECK(page.find(".SH SYNOPSIS\n.B tool run\n[\\fIOPTIONS\\fR]\n\\fICOMMAND\\fR\n\\fISHELL\\fR\n") !=
          std::string::npos);
    CHECK(page.find(".SH ARGUMENTS\n.TP\n\\fISHELL\\fR\nThe shell\n.br\nRequired.\n") != std::string::npos);
    CHECK(page.find(
              ".SH OPTIONS\n.TP\n\\fB\\-r\\fR, \\fB\\-\\-retry\\-times\\fR \\fIINT\\fR\nRetries per request\n"
              ".br\nAccepts: INT in [0 - 100]. Default: 3. Environment: \\fBTOOL_RETRIES\\fR.\n") !=
          std::string::npos);
}
