// Built by run_test with nothing but `pkg-config --cflags --libs libregistry`: the flags find the installed
// headers (version.hpp included) and link the static libraries with their dependencies.
#include <libregistry/core/reference.hpp>
#include <libregistry/version.hpp>

#include <iostream>

int main() {
    auto parsed = libregistry::parse_reference("quay.io/org/app:1.4");
    if (!parsed || parsed->repository != "org/app") {
        std::cerr << "pkg_config_check: parse_reference failed\n";
        return 1;
    }
    std::cout << "libregistry " << LIBREGISTRY_VERSION << ": " << parsed->str() << "\n";
    return 0;
}
