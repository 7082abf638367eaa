// Registry-supplied text on its way to a terminal or a log line.
#include "libregistry/core/printable.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using libregistry::printable;

TEST_CASE("printable escapes C0, DEL and C1 controls and keeps UTF-8") {
    struct row {
        std::string input;
        std::string expected;
    };
    const std::vector<row> rows{
        {"plain text: 404 Not Found", "plain text: 404 Not Found"},
        {"line\nERROR fake line", "line\\nERROR fake line"},
        {"\x1b[2Jcleared", "\\e[2Jcleared"},
        {"\x1b]0;title\x07", "\\e]0;title\\x07"},
        {"cr\rtab\t", "cr\\rtab\\t"},
        {std::string("nul\0x", 5), "nul\\x00x"},
        {"del\x7f", "del\\x7f"},
        {"\xc2\x9b"
         "2J",
         "\\u009b2J"},           // CSI as a C1 control in UTF-8
        {"\xc2\x85", "\\u0085"}, // NEL
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb3", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb3"},
        {"\x9b"
         "2J",
         "\\x9b2J"}, // a lone C1 byte is not UTF-8
        {"\xff\xfe", "\\xff\\xfe"},
        {"\xe2\x82", "\\xe2\\x82"},          // a cut sequence
        {"\xc0\xaf", "\\xc0\\xaf"},          // an overlong '/'
        {"\xed\xa0\x80", "\\xed\\xa0\\x80"}, // a surrogate
    };
    for (const auto& r : rows) {
        CAPTURE(r.input);
        CHECK(printable(r.input) == r.expected);
    }
}

TEST_CASE("printable with a limit cuts long text") {
    CHECK(printable("abcdef", 3) == "abc...");
    CHECK(printable("abc", 3) == "abc");
    CHECK(printable(std::string(300, 'a') + "\n", 128) == std::string(128, 'a') + "...");
}
