// list_tags REGISTRY/REPOSITORY: every tag of a repository with the digest of its manifest.
//
// The shape of every libregistry program: one io_context, one http::client shared by every registry, a
// remote_registry per registry, and the work as a coroutine co_spawned on the context.
#include <libregistry/client/remote_registry.hpp>
#include <libregistry/core/credentials.hpp>
#include <libregistry/core/reference.hpp>
#include <libregistry/http/client.hpp>
#include <libregistry/version.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <iostream>

namespace asio = boost::asio;
using namespace libregistry;

namespace {

asio::awaitable<int> print_tags(registry& source, reference repository) {
    auto tags = co_await source.list_tags(repository.repository);
    if (!tags) {
        std::cerr << "list_tags: " << tags.error() << "\n";
        co_return 1;
    }
    for (const auto& tag : *tags) {
        auto found = co_await source.head_manifest(repository.repository, tag);
        if (!found) {
            std::cerr << "list_tags: " << found.error() << "\n";
            co_return 1;
        }
        // A tag deleted between the listing and the HEAD has no manifest any more.
        std::cout << tag << "\t" << (*found ? (*found)->digest.str() : "(deleted)") << "\n";
    }
    co_return 0;
}

} // namespace

int main(int argc, char** argv) try {
    if (argc != 2) {
        std::cerr << "usage: list_tags REGISTRY/REPOSITORY\n"
                     "Prints every tag of the repository and the digest of its manifest, e.g.\n"
                     "  list_tags quay.io/prometheus/prometheus\n"
                     "Credentials come from the docker / containers auth files.\n";
        return 2;
    }
    auto repository = parse_repository(argv[1]);
    if (!repository) {
        std::cerr << "list_tags: " << repository.error() << "\n";
        return 2;
    }

    asio::io_context io;
    http::client_options client_options;
    client_options.user_agent = "list_tags/" LIBREGISTRY_VERSION;
    http::client client(io.get_executor(), client_options);
    remote_options options;
    options.registry = repository->registry;
    options.auth_files = default_auth_files();
    remote_registry source(client, options);

    int status = 1;
    asio::co_spawn(io, print_tags(source, *repository), [&status](std::exception_ptr e, int result) {
        if (e) std::rethrow_exception(e); // out of io.run(), to the catch below
        status = result;
    });
    io.run();
    return status;
} catch (const std::exception& e) {
    std::cerr << "list_tags: " << e.what() << "\n";
    return 1;
}
