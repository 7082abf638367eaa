#include "commands/multi_arch.hpp"
#include "session.hpp"

#include <fmt/format.h>

namespace syncer {

std::string this_machine_platform() {
#if defined(__x86_64__)
    return "linux/amd64";
#elif defined(__aarch64__)
    return "linux/arm64/v8";
#elif defined(__arm__) && defined(__ARM_ARCH) && __ARM_ARCH >= 7
    return "linux/arm/v7";
#elif defined(__arm__)
    return "linux/arm/v6";
#elif defined(__i386__)
    return "linux/386";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return "linux/ppc64le";
#elif defined(__s390x__)
    return "linux/s390x";
#elif defined(__riscv) && __riscv_xlen == 64
    return "linux/riscv64";
#else
#error "this_machine_platform: add this architecture's OCI name"
#endif
}

std::vector<std::string> multi_arch_platforms(const std::string& mode) {
    if (mode == "all") return {};
    if (mode == "system") return {this_machine_platform()};
    if (mode == "index-only")
        // skopeo copies the index alone, without its images. A registry refuses such an index unless it
        // already holds every image it names (docker-registry checks each one), and a mirror that lacks them
        // is broken for every pull; syncer does not write one.
        throw usage_error(
            "--multi-arch index-only: syncer does not copy an index without its images: a registry refuses "
            "an index whose images it does not hold, and a mirror without them fails every pull. Copy the "
            "index with its images (--multi-arch all, the default) or only some platforms (--platform "
            "os/arch, repeatable)");
    throw usage_error(fmt::format("--multi-arch {}: expected all, system or index-only", mode));
}

} // namespace syncer
