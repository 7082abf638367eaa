// copy_image SRC DST: one image (a manifest, or an index with every child) from one registry to another,
// byte for byte, with libregistry::copy_image. Prints the digest DST now points at and the bytes sent.
#include <libregistry/client/remote_registry.hpp>
#include <libregistry/core/credentials.hpp>
#include <libregistry/core/reference.hpp>
#include <libregistry/http/client.hpp>
#include <libregistry/sync/copy.hpp>
#include <libregistry/version.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <iostream>

namespace asio = boost::asio;
using namespace libregistry;

namespace {

remote_options options_for(const reference& image) {
    remote_options options;
    options.registry = image.registry;
    options.auth_files = default_auth_files();
    return options;
}

asio::awaitable<int> run_copy(registry& source, reference from, registry& destination, reference to) {
    copy_options options; // the defaults: every platform, 6 blobs at a time, retries with backoff
    auto copied = co_await copy_image(source, from, destination, to, options);
    if (!copied) {
        std::cerr << "copy_image: " << copied.error() << "\n";
        co_return 1;
    }
    std::cout << to.str() << " is " << copied->manifest_digest.str() << " (" << copied->bytes_sent
              << " bytes sent)\n";
    co_return 0;
}

} // namespace

int main(int argc, char** argv) try {
    if (argc != 3) {
        std::cerr << "usage: copy_image SRC DST\n"
                     "Copies one image between registries, e.g.\n"
                     "  copy_image quay.io/org/app:1.4 registry.example.com/mirror/app:1.4\n"
                     "Credentials come from the docker / containers auth files.\n";
        return 2;
    }
    auto from = parse_reference(argv[1]);
    auto to = parse_reference(argv[2]);
    if (!from || !to) {
        std::cerr << "copy_image: " << (!from ? from.error() : to.error()) << "\n";
        return 2;
    }

    asio::io_context io;
    http::client_options client_options;
    client_options.user_agent = "copy_image/" LIBREGISTRY_VERSION;
    http::client client(io.get_executor(), client_options);
    remote_registry source(client, options_for(*from));
    remote_registry destination(client, options_for(*to));

    int status = 1;
    asio::co_spawn(io, run_copy(source, *from, destination, *to),
                   [&status](std::exception_ptr e, int result) {
                       if (e) std::rethrow_exception(e); // out of io.run(), to the catch below
                       status = result;
                   });
    io.run();
    return status;
} catch (const std::exception& e) {
    std::cerr << "copy_image: " << e.what() << "\n";
    return 1;
}
