// skopeo inspect's --format templates and JSON: the expected texts are what skopeo 1.9.3 printed for the
// same values (tests/integration/test_skopeo_compat.py compares against the real skopeo).
#include "output/inspect_template.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace syncer;

namespace {

inspect_info sample() {
    inspect_info info;
    info.name = "127.0.0.1:5000/probe/img";
    info.digest = "sha256:17f8";
    info.repo_tags = {"v1", "v2"};
    info.created = parse_go_time("2024-03-05T06:07:08.123456789Z");
    info.labels =
        std::map<std::string, std::string>{{"zeta", "last"}, {"alpha", "a b"}, {"html", "<b>&amp;"}};
    info.architecture = "amd64";
    info.os = "linux";
    info.layers = {"sha256:aa", "sha256:bb"};
    info.env = std::vector<std::string>{"A=1", "B=<x>&y"};
    return info;
}

std::string render(const std::string& text, const inspect_info& info = sample()) {
    auto t = inspect_template::parse(text);
    REQUIRE_MESSAGE(t.has_value(), text);
    auto out = t->render(info);
    REQUIRE_MESSAGE(out.has_value(), text);
    return *out;
}

std::string parse_error(const std::string& text) {
    auto t = inspect_template::parse(text);
    REQUIRE_FALSE_MESSAGE(t.has_value(), text);
    return t.error().message;
}

} // namespace

TEST_CASE("inspect --format: fields print as Go's fmt prints them") {
    struct row {
        const char* tmpl;
        const char* out;
    };
    const row rows[] = {
        {"{{.Digest}}", "sha256:17f8\n"},
        {"{{.Name}}", "127.0.0.1:5000/probe/img\n"},
        {"{{.RepoTags}}", "[v1 v2]\n"},
        {"{{.Created}}", "2024-03-05 06:07:08.123456789 +0000 UTC\n"},
        {"{{.Labels}}", "map[alpha:a b html:<b>&amp; zeta:last]\n"},
        {"{{.Layers}}", "[sha256:aa sha256:bb]\n"},
        {"{{.Env}}", "[A=1 B=<x>&y]\n"},
        {"{{.Architecture}}/{{.Os}}", "amd64/linux\n"},
        {"{{.DockerVersion}}|", "|\n"},
        {"{{index .Labels \"alpha\"}}", "a b\n"},
        {"{{index .Labels \"nope\"}}|", "|\n"},
        {"{{.Labels.alpha}}", "a b\n"},
        {"{{.Labels.nope}}|", "<no value>|\n"},
        {"{{index .RepoTags 1}}", "v2\n"},
        {"{{range .RepoTags}}<{{.}}>{{end}}", "<v1><v2>\n"},
        {"{{range .Labels}}{{.}};{{end}}", "a b;<b>&amp;;last;\n"},
        {"{{ .Os }}", "linux\n"},
        {"x {{- .Os -}} y", "xlinuxy\n"},
        {"{{.Os}}\n", "linux\n"},
        {"plain", "plain\n"},
    };
    for (const auto& r : rows) {
        CAPTURE(r.tmpl);
        CHECK(render(r.tmpl) == r.out);
    }
}

TEST_CASE("inspect --format: a config without labels, env or created") {
    inspect_info info = sample();
    info.labels.reset();
    info.env.reset();
    info.created.reset();
    CHECK(render("{{.Labels}}", info) == "map[]\n");
    CHECK(render("{{.Env}}", info) == "[]\n");
    CHECK(render("{{.Created}}", info) == "<nil>\n");
    CHECK(render("{{index .Labels \"x\"}}|", info) == "|\n");
    const auto json = render("{{json .}}", info);
    CHECK(json.find("\"Labels\": null,") != std::string::npos);
    CHECK(json.find("\"Env\": null\n") != std::string::npos);
    CHECK(json.find("\"Created\": null,") != std::string::npos);
}

TEST_CASE("inspect --format json: skopeo's indented JSON, HTML characters escaped") {
    const std::string expected =
        "{\n"
        "    \"Name\": \"127.0.0.1:5000/probe/img\",\n"
        "    \"Digest\": \"sha256:17f8\",\n"
        "    \"RepoTags\": [\n        \"v1\",\n        \"v2\"\n    ],\n"
        "    \"Created\": \"2024-03-05T06:07:08.123456789Z\",\n"
        "    \"DockerVersion\": \"\",\n"
        "    \"Labels\": {\n"
        "        \"alpha\": \"a b\",\n"
        "        \"html\": \"\\u003cb\\u003e\\u0026amp;\",\n"
        "        \"zeta\": \"last\"\n    },\n"
        "    \"Architecture\": \"amd64\",\n"
        "    \"Os\": \"linux\",\n"
        "    \"Layers\": [\n        \"sha256:aa\",\n        \"sha256:bb\"\n    ],\n"
        "    \"Env\": [\n        \"A=1\",\n        \"B=\\u003cx\\u003e\\u0026y\"\n    ]\n"
        "}\n";
    CHECK(render("{{json .}}") == expected);
    CHECK(render("{{ json . }}") == expected);
    CHECK(render("json") == expected);
}

TEST_CASE("inspect --format: errors name what is wrong, before anything is fetched") {
    CHECK(parse_error("{{.Nope}}").find("unknown field \"Nope\"") != std::string::npos);
    CHECK(parse_error("{{.Digest.Algo}}").find("can't evaluate field Algo in type string") !=
          std::string::npos);
    CHECK(parse_error("{{json .Labels}}").find("{{json .}}") != std::string::npos);
    CHECK(parse_error("{{range .RepoTags}}x").find("without {{end}}") != std::string::npos);
    CHECK(parse_error("{{end}}").find("without {{range}}") != std::string::npos);
    CHECK(parse_error("{{.Os").find("unclosed") != std::string::npos);
    CHECK(parse_error("{{if .Os}}x{{end}}").find("unsupported {{if}}") != std::string::npos);
    CHECK(parse_error("{{range .Os}}{{end}}").find("can't iterate") != std::string::npos);
    CHECK(parse_error("{{index .Labels 0}}").find("quoted key") != std::string::npos);
    CHECK(parse_error("{{.}}").find("{{json .}}") != std::string::npos);
    CHECK(parse_error("{{range .RepoTags}}{{.Name}}{{end}}").find("in type string") != std::string::npos);

    auto t = inspect_template::parse("{{index .RepoTags 5}}");
    REQUIRE(t.has_value());
    auto out = t->render(sample());
    REQUIRE_FALSE(out.has_value());
    CHECK(out.error().message.find("index 5 is out of range") != std::string::npos);
}

TEST_CASE("Go time forms") {
    auto t = parse_go_time("2024-01-01T00:00:00.500000000Z");
    REQUIRE(t.has_value());
    CHECK(go_time_string(*t) == "2024-01-01 00:00:00.5 +0000 UTC");
    CHECK(go_time_json(*t) == "2024-01-01T00:00:00.5Z");
    t = parse_go_time("2024-01-01T10:00:00+02:00");
    REQUIRE(t.has_value());
    CHECK(go_time_string(*t) == "2024-01-01 10:00:00 +0200 +0200");
    CHECK(go_time_json(*t) == "2024-01-01T10:00:00+02:00");
    t = parse_go_time("2024-01-01T10:00:00-05:30");
    REQUIRE(t.has_value());
    CHECK(go_time_string(*t) == "2024-01-01 10:00:00 -0530 -0530");
    for (const char* bad : {"2024-01-01", "2024-01-01 10:00:00Z", "2024-01-01T10:00:00", "yesterday",
                            "2024-01-01T10:00:00.Z"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_go_time(bad).has_value());
    }
}

TEST_CASE("inspect --config: the config as skopeo re-encodes it") {
    const std::string config =
        R"({"architecture":"amd64","os":"linux","created":"2024-03-05T06:07:08.120Z","docker_version":"20.10",)"
        R"("config":{"Env":["A=<1>"],"Labels":{"z":"1","a":"2"},"ExposedPorts":{"80/tcp":{}},"Cmd":[]},)"
        R"("rootfs":{"type":"layers","diff_ids":["sha256:aa"]},"history":[{"created_by":"x","empty_layer":true}]})";
    auto out = inspect_config_json(config);
    REQUIRE(out.has_value());
    CHECK(*out == "{\n"
                  "    \"created\": \"2024-03-05T06:07:08.12Z\",\n"
                  "    \"architecture\": \"amd64\",\n"
                  "    \"os\": \"linux\",\n"
                  "    \"config\": {\n"
                  "        \"ExposedPorts\": {\n            \"80/tcp\": {}\n        },\n"
                  "        \"Env\": [\n            \"A=\\u003c1\\u003e\"\n        ],\n"
                  "        \"Labels\": {\n            \"a\": \"2\",\n            \"z\": \"1\"\n        }\n"
                  "    },\n"
                  "    \"rootfs\": {\n        \"type\": \"layers\",\n        \"diff_ids\": [\n"
                  "            \"sha256:aa\"\n        ]\n    },\n"
                  "    \"history\": [\n        {\n            \"created_by\": \"x\",\n"
                  "            \"empty_layer\": true\n        }\n    ]\n"
                  "}\n");
    CHECK_FALSE(inspect_config_json("[]").has_value());
    CHECK_FALSE(inspect_config_json(R"({"created":"soon"})").has_value());
}
