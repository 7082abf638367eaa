"""Conan recipe for users who build syncer with Conan; the project's own builds use Debian's packages."""
from conan import ConanFile
from conan.tools.cmake import CMake, CMakeDeps, CMakeToolchain, cmake_layout


class SyncerConan(ConanFile):
    name = "syncer"
    version = "0.1.0"
    license = "Apache-2.0"
    description = "Native C++ OCI registry client (libregistry) and mirroring tool (syncer)"
    settings = "os", "compiler", "build_type", "arch"
    exports_sources = "../CMakeLists.txt", "../libregistry/*", "../syncer/*", "../tests/*", "../fixtures/*"
    options = {"with_tests": [True, False]}
    default_options = {"with_tests": False}

    def requirements(self):
        self.requires("boost/1.81.0")
        self.requires("openssl/[>=3.0 <4]")
        self.requires("nlohmann_json/3.11.2")
        self.requires("fmt/9.1.0")
        self.requires("yaml-cpp/0.7.0")
        self.requires("re2/20230201")
        self.requires("cli11/2.3.1")
        if self.options.with_tests:
            self.requires("doctest/2.4.9")

    def layout(self):
        cmake_layout(self, src_folder="..")

    def generate(self):
        CMakeDeps(self).generate()
        tc = CMakeToolchain(self)
        tc.variables["SYNCER_BUILD_TESTS"] = bool(self.options.with_tests)
        tc.generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def package(self):
        CMake(self).install()
