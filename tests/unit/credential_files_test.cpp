#include "credential_files.hpp"

#include "temp_dir.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <iostream>
#include <sstream>

using syncer::exposure_warning;

TEST_CASE("exposure_warning: private files pass, any group or other bit is named with its fix") {
    CHECK_FALSE(exposure_warning("auth.yaml", 0600));
    CHECK_FALSE(exposure_warning("auth.yaml", 0400));
    CHECK_FALSE(exposure_warning("auth.yaml", 0700));
    CHECK_FALSE(exposure_warning("auth.yaml", 0100600)); // file type bits from st_mode are ignored

    struct row {
        unsigned mode;
        const char* says;
    };
    for (auto [mode, says] : {
             row{0644, "is readable by group and others (mode 0644)"},
             row{0640, "is readable by group (mode 0640)"},
             row{0604, "is readable by others (mode 0604)"},
             row{0660, "is readable by group, writable by group (mode 0660)"},
             row{0666, "is readable by group and others, writable by group and others (mode 0666)"},
             row{0602, "is writable by others (mode 0602)"},
             row{0610, "is accessible to group (mode 0610)"},
         }) {
        const auto shown_mode = mode; // clang 14 cannot capture a structured binding
        CAPTURE(shown_mode);
        auto text = exposure_warning("/home/ci/auth.yaml", mode);
        REQUIRE(text);
        CHECK(text->find("credentials file /home/ci/auth.yaml " + std::string(says)) != std::string::npos);
        CHECK(text->ends_with("chmod 600 /home/ci/auth.yaml"));
        CHECK(text->find('\n') == std::string::npos);
    }
}

TEST_CASE("exposure_warning names the kind of file") {
    auto text = exposure_warning("/etc/docker/certs.d/reg/client.key", 0644, "TLS client key");
    REQUIRE(text);
    CHECK(
        text->starts_with("syncer: warning: TLS client key /etc/docker/certs.d/reg/client.key is readable"));
}

TEST_CASE("warn_if_exposed: once per file, nothing for a private file or a missing one") {
    libregistry::testing::temp_dir dir;
    auto open_file = dir.write("open.json", "{}");
    auto private_file = dir.write("private.json", "{}");
    std::filesystem::permissions(open_file, std::filesystem::perms(0644));
    std::filesystem::permissions(private_file, std::filesystem::perms(0600));

    std::ostringstream captured;
    auto* previous = std::cerr.rdbuf(captured.rdbuf());
    syncer::warn_if_exposed(open_file);
    syncer::warn_if_exposed(open_file);
    syncer::warn_if_exposed((dir.path() / "." / "open.json").string()); // the same file, spelt differently
    syncer::warn_if_exposed(private_file);
    syncer::warn_if_exposed((dir.path() / "missing.json").string());
    std::cerr.rdbuf(previous);

    auto text = captured.str();
    CHECK(text == *exposure_warning(open_file, 0644) + "\n");
}
