#include "storage_fixtures.hpp"

#include <libregistry/storage/empty_registry.hpp>

#include <doctest/doctest.h>

using namespace libregistry;
using namespace libregistry::testing;

TEST_CASE("an empty registry holds nothing, as a missing bundle does, and refuses every write") {
    empty_registry empty("oci:/media/new");
    CHECK(empty.name() == "oci:/media/new");
    CHECK_FALSE(run(empty.head_manifest("team/app", "v1")).value().has_value());
    const auto tags = run(empty.list_tags("team/app"));
    REQUIRE_FALSE(tags.has_value());
    // What an image layout without the repository answers: the planner reads it as "nothing there yet".
    CHECK(tags.error().code == errc::name_unknown);
    CHECK(tags.error().message.find("oci:/media/new") != std::string::npos);
    CHECK(run(empty.get_manifest("team/app", "v1")).error().code == errc::manifest_unknown);
    const auto some = digest_of("x");
    CHECK_FALSE(run(empty.has_blob("team/app", some)).value());
    const auto referrers = run(empty.list_referrers("team/app", some, std::nullopt)).value();
    CHECK(referrers.descriptors.empty());
    CHECK(referrers.source == referrers_source::none);
    CHECK(run(empty.delete_tag("team/app", "v1")).error().code == errc::unsupported);
    CHECK(empty.finish().has_value());

    // A copy into it fails at its first write, saying why, instead of creating anything.
    memory_registry source("src.test");
    add_image(source, "team/app", {"layer"}, "v1");
    reference to;
    to.registry = "oci:/media/new";
    to.repository = "team/app";
    to.tag = "v1";
    const auto copied = run(copy_image(source, image_ref("src.test/team/app:v1"), empty, to, copy_options{}));
    REQUIRE_FALSE(copied.has_value());
    CHECK(copied.error().message.find("not written in a dry run") != std::string::npos);
}
