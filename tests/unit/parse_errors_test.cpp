// Issue 10: a mistyped flag must not echo the value after it (it may be a password), and should name the flag
// that was meant.
#include "commands/parse_errors.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using syncer::closest_flags;
using syncer::unexpected_arguments_message;

namespace {

const std::vector<std::string> copy_flags{"--help",
                                          "-h",
                                          "--debug",
                                          "--src-creds",
                                          "--src-password-stdin",
                                          "--src-password-env",
                                          "--dest-creds",
                                          "--dest-password-stdin",
                                          "--dest-password-env",
                                          "--authfile",
                                          "--platform",
                                          "--retry-times",
                                          "--jobs",
                                          "-j",
                                          "--force",
                                          "--quiet",
                                          "-q"};

} // namespace

TEST_CASE("closest_flags: typos, prefixes and a side's flag for skopeo's one") {
    struct row {
        std::string typed;
        std::vector<std::string> expected;
    };
    const std::vector<row> rows{
        {"--dest-cred", {"--dest-creds"}},
        {"--dest-credss", {"--dest-creds"}},
        {"--src-pasword-stdin", {"--src-password-stdin"}},
        {"--retry-time", {"--retry-times"}},
        {"--src-password", {"--src-password-stdin", "--src-password-env"}},
        {"--creds", {"--src-creds", "--dest-creds"}},
        {"--job", {"--jobs"}},
        {"--unrelated-thing", {}},
        {"-x", {}},
    };
    for (const auto& r : rows) {
        CAPTURE(r.typed);
        CHECK(closest_flags(r.typed, copy_flags) == r.expected);
    }
}

TEST_CASE("unexpected_arguments_message: flag names shown, every value counted and never shown") {
    struct row {
        std::vector<std::string> extras;
        std::string expected;
    };
    const std::vector<row> rows{
        // The report of issue 10: `syncer copy SRC DST --dest-cred user:S3cretPW`.
        {{"--dest-cred", "user:S3cretPW"},
         "unknown option --dest-cred (did you mean --dest-creds?); 1 more unexpected argument (not shown: it "
         "may "
         "hold a secret)"},
        {{"--dest-cred=user:S3cretPW"},
         "unknown option --dest-cred=... (did you mean --dest-creds?), its value not shown: it may hold a "
         "secret"},
        {{"--creds", "user:S3cretPW"},
         "unknown option --creds (did you mean --src-creds or --dest-creds?); 1 more unexpected argument "
         "(not "
         "shown: it may hold a secret)"},
        {{"third-positional"}, "1 unexpected argument (not shown: it may hold a secret)"},
        {{"a", "b"}, "2 unexpected arguments (not shown: they may hold a secret)"},
        // Not a flag name as syncer spells them: a password that starts with dashes stays hidden.
        {{"--S3cret!PW"}, "1 unexpected argument (not shown: it may hold a secret)"},
        {{"-S3cretPW"}, "1 unexpected argument (not shown: it may hold a secret)"},
        {{"-x"}, "unknown option -x"},
        // `syncer --dest-creds user:S3cretPW copy ...`: the flag is the command's, but came first.
        {{"--dest-creds", "user:S3cretPW"},
         "option --dest-creds must come after the command's name; 1 more unexpected argument (not shown: it "
         "may "
         "hold a secret)"},
        {{"--zzz-unknown", "v1", "v2"},
         "unknown option --zzz-unknown; 2 more unexpected arguments (not shown: they may hold a secret)"},
    };
    for (const auto& r : rows) {
        CAPTURE(r.expected);
        const auto message = unexpected_arguments_message(r.extras, copy_flags);
        CHECK(message == r.expected);
        CHECK(message.find("S3cret") == std::string::npos);
    }
}
