#include "libregistry/core/digest.hpp"

#include <doctest/doctest.h>

#include <string>
#include <unordered_set>

using namespace libregistry;

namespace {

const std::string sha256_empty = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const std::string sha256_abc = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const std::string sha512_abc = "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                               "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";
const std::string sha512_empty = "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
                                 "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";

} // namespace

TEST_CASE("digest_of: known vectors") {
    struct vector {
        std::string input;
        std::string algorithm;
        std::string expected;
    };
    const vector vectors[] = {
        {"", "sha256", sha256_empty},
        {"abc", "sha256", sha256_abc},
        {"", "sha512", sha512_empty},
        {"abc", "sha512", sha512_abc},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "sha256",
         "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    for (const auto& v : vectors) {
        CAPTURE(v.input);
        CAPTURE(v.algorithm);
        CHECK(digest_of(v.input, v.algorithm).str() == v.expected);
    }
    CHECK(digest_of("abc").str() == sha256_abc);
}

TEST_CASE("digester: streaming in chunks equals one shot") {
    std::string data;
    for (int i = 0; i < 100000; ++i)
        data += static_cast<char>((i * 131) % 251);
    for (const std::string algorithm : {"sha256", "sha512"}) {
        const auto expected = digest_of(data, algorithm);
        for (const std::size_t chunk : {std::size_t{1}, std::size_t{7}, std::size_t{64}, std::size_t{4096},
                                        std::size_t{65536}, data.size()}) {
            CAPTURE(algorithm);
            CAPTURE(chunk);
            digester d(algorithm);
            for (std::size_t offset = 0; offset < data.size(); offset += chunk)
                d.update(std::string_view(data).substr(offset, chunk));
            d.update(nullptr, 0);
            CHECK(d.finish() == expected);
        }
    }
}

TEST_CASE("digester: movable") {
    digester a;
    a.update("ab");
    digester b(std::move(a));
    b.update("c");
    CHECK(b.finish().str() == sha256_abc);
}

TEST_CASE("digest::parse: valid") {
    for (const auto& text : {sha256_empty, sha256_abc, sha512_abc}) {
        CAPTURE(text);
        const auto d = digest::parse(text);
        REQUIRE(d.has_value());
        CHECK(d->str() == text);
        CHECK(d->algorithm() == text.substr(0, 6));
        CHECK(d->encoded() == text.substr(7));
        CHECK_FALSE(d->empty());
    }
}

TEST_CASE("digest::parse: invalid, naming the wrong part") {
    struct invalid_case {
        std::string text;
        std::string expected_in_message;
    };
    const std::string hex64 = sha256_abc.substr(7);
    const invalid_case cases[] = {
        {"", "empty"},
        {hex64, "missing ':'"},
        {":" + hex64, "missing algorithm"},
        {"md5:d41d8cd98f00b204e9800998ecf8427e", "unsupported algorithm \"md5\""},
        {"SHA256:" + hex64, "unsupported algorithm \"SHA256\""},
        {"sha256:", "needs 64 hex characters, got 0"},
        {"sha256:abc", "needs 64 hex characters, got 3"},
        {"sha256:" + hex64 + "0", "needs 64 hex characters, got 65"},
        {"sha512:" + hex64, "needs 128 hex characters, got 64"},
        {"sha256:BA7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
         "'B' at position 7 is uppercase"},
        {"sha256:xyz", "'x' at position 7 is not a hex digit"},
        {"sha256:" + hex64.substr(0, 63) + "g", "'g' at position 70 is not a hex digit"},
        {"sha256: " + hex64.substr(1), "' ' at position 7 is not a hex digit"},
        {"sha256:" + hex64.substr(0, 32) + ":" + hex64.substr(33), "':' at position 39"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.text);
        const auto d = digest::parse(c.text);
        REQUIRE(d.has_error());
        CHECK(d.error().code == errc::invalid_digest);
        CHECK(d.error().message.find("invalid digest \"" + c.text + "\"") == 0);
        CHECK(d.error().message.find(c.expected_in_message) != std::string::npos);
    }
}

TEST_CASE("digest: comparison and hashing") {
    const auto a = digest_of("a");
    const auto b = digest_of("b");
    CHECK(a == digest_of("a"));
    CHECK(a != b);
    CHECK((a < b) == (a.str() < b.str()));
    std::unordered_set<digest> set{a, b, a};
    CHECK(set.size() == 2);
    CHECK(digest{}.empty());
    CHECK(digest{}.algorithm().empty());
    CHECK(digest{}.encoded().empty());
}
