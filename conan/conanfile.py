"""Conan recipe for users who build syncer with Conan; the project's own builds use Debian's packages.

The package holds libregistry (static libraries, headers) and the syncer binary. Consumers use the same
names as with the CMake package that `cmake --install` writes: find_package(libregistry) and the targets
libregistry::core, ::http, ::client, ::sync, ::storage and ::registry (all of them).

  conan create conan/ -s compiler.cppstd=20                               # from the repository root
  conan build conan/ -s compiler.cppstd=20 -o "&:with_tests=True"        # local build in build-conan/
"""
import os
import re

from conan import ConanFile
from conan.tools.build import check_min_cppstd
from conan.tools.cmake import CMake, CMakeDeps, CMakeToolchain, cmake_layout
from conan.tools.files import copy, load, rmdir

required_conan_version = ">=2.0.5"


class SyncerConan(ConanFile):
    name = "syncer"
    license = "Apache-2.0"
    description = "Native C++ OCI registry client (libregistry) and mirroring tool (syncer)"
    settings = "os", "compiler", "build_type", "arch"
    package_type = "static-library"  # the libraries are always static; the syncer binary comes along
    options = {"fPIC": [True, False], "with_tests": [True, False]}
    default_options = {"fPIC": True, "with_tests": False}

    def set_version(self):
        # One version, in the root CMakeLists.txt's project() (it also goes into libregistry/version.hpp).
        cmakelists = load(self, os.path.join(self.recipe_folder, "..", "CMakeLists.txt"))
        self.version = re.search(r"project\(syncer VERSION ([0-9.]+)", cmakelists).group(1)

    def export_sources(self):
        # The recipe lives in conan/; the sources are the repository root next to it.
        root = os.path.join(self.recipe_folder, "..")
        for pattern in ("CMakeLists.txt", "libregistry/*", "syncer/*", "examples/*", "tests/*", "fixtures/*"):
            copy(self, pattern, root, self.export_sources_folder, excludes=("*/__pycache__/*", "*.pyc"))

    def config_options(self):
        if self.settings.os == "Windows":
            del self.options.fPIC

    def layout(self):
        # The project root (CMakeLists.txt) is one level above this recipe; build-conan/ keeps local
        # `conan build` trees apart from the build/ directories of ./scripts/test.
        self.folders.root = ".."
        cmake_layout(self, build_folder="build-conan")

    def requirements(self):
        # Boost is in libregistry's public headers (Asio, Beast's verb, Boost.System's result); the rest is
        # linked, not included, by consumers.
        self.requires("boost/1.81.0", transitive_headers=True)
        self.requires("openssl/[>=3.0 <4]")
        self.requires("nlohmann_json/3.11.2")
        self.requires("fmt/9.1.0")
        self.requires("re2/20230201")
        self.requires("zlib/[>=1.2.13 <2]")
        self.requires("zstd/[>=1.5 <2]")
        # Only the syncer binary uses these.
        self.requires("yaml-cpp/0.7.0")
        self.requires("cli11/2.3.1")

    def build_requirements(self):
        if self.options.with_tests:
            self.test_requires("doctest/2.4.9")

    def validate(self):
        check_min_cppstd(self, 20)

    def generate(self):
        CMakeDeps(self).generate()
        tc = CMakeToolchain(self)
        tc.cache_variables["SYNCER_BUILD_TESTS"] = bool(self.options.with_tests)
        tc.cache_variables["SYNCER_BUILD_EXAMPLES"] = False
        tc.generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def package(self):
        # The static libraries, include/libregistry/** (version.hpp too) and bin/syncer. Conan's generators
        # (CMakeDeps, PkgConfigDeps) write consumers' config files from package_info(), so the project's own
        # libregistryConfig.cmake and libregistry.pc are left out.
        CMake(self).install()
        rmdir(self, os.path.join(self.package_folder, "lib", "cmake"))
        rmdir(self, os.path.join(self.package_folder, "lib", "pkgconfig"))

    def package_info(self):
        # Names as in the project's own CMake package.
        self.cpp_info.set_property("cmake_file_name", "libregistry")
        self.cpp_info.set_property("cmake_target_name", "libregistry::libregistry")
        self.cpp_info.set_property("pkg_config_name", "libregistry")

        def layer(name, requires):
            component = self.cpp_info.components[name]
            component.set_property("cmake_target_name", f"libregistry::{name}")
            component.libs = [f"registry_{name}"]
            component.bindirs = []
            component.requires = requires
            return component

        # What each layer's headers and sources use (libregistry/CMakeLists.txt has the same list).
        layer("core", ["boost::headers", "boost::url", "openssl::crypto", "nlohmann_json::nlohmann_json",
                       "fmt::fmt"])
        http = layer("http", ["core", "openssl::ssl", "boost::url"])
        if self.settings.os in ("Linux", "FreeBSD"):
            http.system_libs = ["pthread"]
        layer("client", ["http", "openssl::crypto", "nlohmann_json::nlohmann_json", "fmt::fmt", "boost::url"])
        layer("sync", ["client", "fmt::fmt", "re2::re2", "zlib::zlib", "zstd::zstdlib",
                       "nlohmann_json::nlohmann_json"])
        layer("storage", ["core", "fmt::fmt", "zlib::zlib", "zstd::zstdlib", "nlohmann_json::nlohmann_json"])

        umbrella = self.cpp_info.components["registry"]
        umbrella.set_property("cmake_target_name", "libregistry::registry")
        umbrella.requires = ["sync", "storage"]
        umbrella.libs = []
        umbrella.includedirs = []
        umbrella.bindirs = []

        # The syncer binary (bin/, on the PATH of Conan's run environment). A component with no library:
        # it names what the binary was built with, since Conan wants every requirement in some component.
        # Applications link libregistry::registry, not libregistry::libregistry, which includes this too.
        cli = self.cpp_info.components["syncer"]
        cli.set_property("cmake_target_name", "libregistry::syncer")
        cli.requires = ["sync", "yaml-cpp::yaml-cpp", "cli11::cli11"]
        cli.libs = []
        cli.includedirs = []
        cli.bindirs = ["bin"]
