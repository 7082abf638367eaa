#include <libregistry/sync/blob_ledger.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace libregistry;
namespace asio = boost::asio;

namespace {

const digest layer = digest_of("layer");

// Claims `layer` in `registry`/`repository`, logs what it got, holds a lease over one turn of the event loop
// and then lets it go, arrived or not.
asio::awaitable<void> send(blob_ledger& ledger, std::string registry, std::string repository, bool arrives,
                           std::vector<std::string>& log) {
    auto lease = co_await ledger.claim(registry, repository, layer);
    if (!lease) {
        log.push_back(repository + " has it");
        co_return;
    }
    log.push_back(repository + " sends");
    auto executor = co_await asio::this_coro::executor;
    co_await asio::post(executor, asio::use_awaitable);
    log.push_back(repository + (arrives ? " arrived" : " failed"));
    if (arrives) lease->arrived();
}

} // namespace

TEST_CASE("the ledger knows which repositories of a registry hold a blob") {
    blob_ledger ledger;
    CHECK_FALSE(ledger.holds("r.example", "a", layer));
    CHECK_FALSE(ledger.holder("r.example", layer, "b"));
    ledger.record("r.example", "a", layer);
    ledger.record("r.example", "a", layer);
    CHECK(ledger.holds("r.example", "a", layer));
    CHECK_FALSE(ledger.holds("other.example", "a", layer));
    CHECK(ledger.holder("r.example", layer, "b") == "a");
    CHECK_FALSE(ledger.holder("r.example", layer, "a")); // the only holder is the one asking
}

TEST_CASE("one transfer of a blob into a registry at a time; the others wait and then look again") {
    struct row {
        const char* name;
        std::string second_repository;
        bool first_arrives;
        std::vector<std::string> expected;
    };
    const std::vector<row> rows{
        {"the same repository then has it", "a", true, {"a sends", "a arrived", "a has it"}},
        {"another repository then sends (it mounts)",
         "b",
         true,
         {"a sends", "a arrived", "b sends", "b arrived"}},
        {"a failed transfer lets the next one lead",
         "a",
         false,
         {"a sends", "a failed", "a sends", "a arrived"}},
    };
    for (const auto& r : rows) {
        CAPTURE(r.name);
        asio::io_context io;
        blob_ledger ledger;
        std::vector<std::string> log;
        asio::co_spawn(io, send(ledger, "r.example", "a", r.first_arrives, log), asio::detached);
        asio::co_spawn(io, send(ledger, "r.example", r.second_repository, true, log), asio::detached);
        io.run();
        CHECK(log == r.expected);
    }
}

TEST_CASE("once a repository of the registry holds the blob, the repositories waiting for it mount at once") {
    asio::io_context io;
    blob_ledger ledger;
    std::vector<std::string> log;
    // Two copies want it in c (two tags of one repository): one mount there, the other finds it mounted.
    for (const char* repository : {"a", "b", "c", "c"})
        asio::co_spawn(io, send(ledger, "r.example", repository, true, log), asio::detached);
    io.run();
    CHECK(log == std::vector<std::string>{"a sends", "a arrived", "b sends", "c sends", "b arrived",
                                          "c arrived", "c has it"});
}

TEST_CASE("transfers into different registries do not wait for each other") {
    asio::io_context io;
    blob_ledger ledger;
    std::vector<std::string> log;
    asio::co_spawn(io, send(ledger, "east.example", "a", true, log), asio::detached);
    asio::co_spawn(io, send(ledger, "west.example", "b", true, log), asio::detached);
    io.run();
    CHECK(log == std::vector<std::string>{"a sends", "b sends", "a arrived", "b arrived"});
}
