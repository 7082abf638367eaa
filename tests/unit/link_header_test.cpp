#include "libregistry/core/link_header.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <random>
#include <string>
#include <vector>

using namespace libregistry;

TEST_CASE("next_link") {
    struct row {
        std::string name;
        std::string header;
        std::optional<std::string> expected;
    };
    const std::vector<row> rows{
        {"distribution style", R"(</v2/x/tags/list?n=5&last=b>; rel="next")", "/v2/x/tags/list?n=5&last=b"},
        {"unquoted rel", "</v2/_catalog?last=a&n=2>; rel=next", "/v2/_catalog?last=a&n=2"},
        {"no whitespace", R"(</a>;rel="next")", "/a"},
        {"rel name case-insensitive", R"(</a>; REL="NEXT")", "/a"},
        {"several rel values", R"(</a>; rel="prefetch next")", "/a"},
        {"several rel values with tabs", "</a>; rel=\"next\tlast\"", "/a"},
        {"absolute URL", R"(<https://r.example/v2/x/tags/list?last=b&n=5>; rel="next")",
         "https://r.example/v2/x/tags/list?last=b&n=5"},
        {"opaque page token kept verbatim", R"(</v2/x/tags/list?n=5&next_page=AbC%3D%3D>; rel="next")",
         "/v2/x/tags/list?n=5&next_page=AbC%3D%3D"},
        {"next is second link", R"(</first>; rel="first", </second>; rel="next")", "/second"},
        {"next is first link", R"(</n>; rel="next", </p>; rel="prev")", "/n"},
        {"comma inside target", R"(</v2/x?last=a,b>; rel="next")", "/v2/x?last=a,b"},
        {"comma and semicolon inside quoted param", R"(</a>; title="x, y; z"; rel="next")", "/a"},
        {"other params before rel", R"(</a>; type="text/plain"; rel="next")", "/a"},
        {"valueless param", R"(</a>; crossorigin; rel="next")", "/a"},
        {"second rel ignored", R"(</a>; rel="prev"; rel="next")", std::nullopt},
        {"first of two next links", R"(</a>; rel="next", </b>; rel="next")", "/a"},
        {"only prev", R"(</p>; rel="prev")", std::nullopt},
        {"no rel", "</a>", std::nullopt},
        {"rel next as prefix of another word", R"(</a>; rel="nextpage")", std::nullopt},
        {"empty target", R"(<>; rel="next")", std::nullopt},
        {"empty header", "", std::nullopt},
        {"whitespace around", "  </a> ;  rel = \"next\"  ", "/a"},
        {"escaped quote in param", R"(</a>; title="q\"uote"; rel="next")", "/a"},
        // Malformed headers give nothing, even when a next link came earlier.
        {"garbage", "not a link header", std::nullopt},
        {"missing angle brackets", R"(/a; rel="next")", std::nullopt},
        {"unterminated target", R"(</a; rel="next")", std::nullopt},
        {"unterminated quoted string", R"(</a>; rel="next)", std::nullopt},
        {"junk between params", R"(</a> x; rel="next")", std::nullopt},
        {"empty param name", R"(</a>; ="next")", std::nullopt},
        {"missing value after equals", R"(</a>; rel=)", std::nullopt},
        {"garbage after valid link", R"(</a>; rel="next", garbage)", std::nullopt},
        {"control character in target", "</a\nb>; rel=\"next\"", std::nullopt},
        {"nested angle bracket", R"(<<a>; rel="next")", std::nullopt},
    };
    for (const auto& r : rows) {
        CAPTURE(r.name);
        CHECK(next_link(r.header) == r.expected);
    }
}

TEST_CASE("next_link survives random garbage") {
    std::mt19937 rng(4242);
    const std::string alphabet = "<>;,=\" \t\\relnxt/?&a\x01";
    std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
    std::uniform_int_distribution<std::size_t> length(0, 40);
    for (int i = 0; i < 20000; ++i) {
        std::string header;
        const auto n = length(rng);
        for (std::size_t j = 0; j < n; ++j)
            header.push_back(alphabet[pick(rng)]);
        auto next = next_link(header);
        if (next) CHECK_FALSE(next->empty());
    }
}
