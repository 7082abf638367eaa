// Help footers (examples, environment) and the messages for a missing or unknown command word.
#include "commands/help_text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <utility>

namespace syncer {

namespace {

struct command_help {
    std::string_view name;
    std::string_view examples;    ///< one per line, each line a command
    std::string_view environment; ///< `NAME  what it sets`, one per line; empty: none
};

// The variables docker/containers auth files are found with, for every command that reads them.
constexpr std::string_view auth_file_environment =
    "  REGISTRY_AUTH_FILE, XDG_RUNTIME_DIR, DOCKER_CONFIG\n"
    "      where the auth file is looked for without --authfile (then ~/.docker/config.json)\n"
    "  HTTPS_PROXY, HTTP_PROXY, NO_PROXY\n"
    "      the proxy for registries (lowercase spellings too)\n";

constexpr std::array commands{
    command_help{"",
                 "syncer copy docker.io/library/alpine:3.20 registry.example.com/mirror/alpine:3.20\n"
                 "syncer sync --auth auth.yaml --images images.yaml --metrics-file "
                 "/var/lib/node_exporter/syncer.prom\n"
                 "syncer sync --check --images images.yaml",
                 "  SYNCER_DEBUG=1\n      as --debug\n"},
    command_help{"copy",
                 "syncer copy docker.io/library/alpine:3.20 registry.example.com/mirror/alpine:3.20\n"
                 "syncer copy --platform linux/arm64 --dest-creds ci --dest-password-env REGISTRY_PASSWORD "
                 "ghcr.io/org/app:v1 registry.example.com/org/app:v1\n"
                 "syncer copy --authfile ~/.docker/config.json --retries 5 docker://quay.io/org/app:v1 "
                 "registry.example.com/org/app:v1",
                 ""},
    command_help{"inspect",
                 "syncer inspect docker.io/library/alpine:3.20\n"
                 "syncer inspect --raw ghcr.io/org/app:v1 | jq .\n"
                 "syncer inspect --tls-verify=false localhost:5000/app:v1",
                 ""},
    command_help{"digest",
                 "syncer digest docker.io/library/alpine:3.20\n"
                 "syncer digest --creds ci --password-env REGISTRY_PASSWORD registry.example.com/org/app:v1",
                 ""},
    command_help{"tags",
                 "syncer tags docker.io/library/alpine\n"
                 "syncer tags --authfile auth.json registry.example.com/org/app",
                 ""},
    command_help{"catalog",
                 "syncer catalog localhost:5000\n"
                 "syncer catalog --creds admin --password-stdin registry.example.com < password.txt",
                 ""},
    command_help{
        "referrers",
        "syncer referrers ghcr.io/org/app:v1\n"
        "syncer referrers --format json --referrer-types application/vnd.dev.cosign.artifact.sig.v1+json "
        "ghcr.io/org/app:v1",
        ""},
    command_help{"delete",
                 "syncer delete registry.example.com/org/app:old\n"
                 "syncer delete --authfile auth.json registry.example.com/org/app:old",
                 ""},
    command_help{"sync",
                 "syncer sync --auth auth.yaml --images images.yaml\n"
                 "syncer sync --check --config syncer.yaml\n"
                 "syncer sync --config syncer.yaml --platform linux/amd64 --platform linux/arm64 "
                 "--metrics-file /var/lib/node_exporter/textfile/syncer.prom --report report.json",
                 "  $NAME and ${NAME} in the auth, images and config files\n"
                 "      replaced by the variable's value\n"},
    command_help{"verify",
                 "syncer verify --auth auth.yaml --images images.yaml\n"
                 "syncer verify --deep --config syncer.yaml --report verify.json",
                 "  $NAME and ${NAME} in the auth, images and config files\n"
                 "      replaced by the variable's value\n"},
    command_help{"jobs",
                 "syncer jobs --target-registry registry.example.com\n"
                 "syncer jobs --check --workflow-file .github/workflows/build-docker.yml "
                 "--target-registry registry.example.com\n"
                 "FILE_AUTH=auth.yaml DOCKER_MIRROR_REGISTRY=registry.example.com syncer jobs --latest 3",
                 "  FILE_AUTH                as --auth\n"
                 "  REGISTRY_URL             as --source-registry\n"
                 "  IMG_NAMESPACE            as --image-namespace\n"
                 "  DOCKER_MIRROR_REGISTRY   added to --target-registry\n"
                 "  DOCKER_REGISTRY_USERNAME, DOCKER_REGISTRY_PASSWORD\n"
                 "      the source's credentials, without --auth\n"
                 "  DOCKER_MIRROR_REGISTRY_USERNAME, DOCKER_MIRROR_REGISTRY_PASSWORD\n"
                 "      the targets' credentials, without --auth\n"},
    command_help{"sync-image",
                 "syncer sync-image labnow/base\n"
                 "syncer sync-image --tags latest,2024.1 --target-registry registry.example.com labnow/base\n"
                 "syncer sync-image --check --platform linux/amd64 labnow/base",
                 "  FILE_AUTH                as --auth\n"
                 "  DOCKER_REGISTRY_USERNAME, DOCKER_REGISTRY_PASSWORD\n"
                 "      the source's credentials, without --auth\n"
                 "  DOCKER_MIRROR_REGISTRY_USERNAME, DOCKER_MIRROR_REGISTRY_PASSWORD\n"
                 "      the targets' credentials, without --auth\n"},
    command_help{"version", "syncer version\nsyncer --version", ""},
    command_help{"image-syncer",
                 "image-syncer --auth auth.yaml --images images.yaml\n"
                 "image-syncer --auth auth.yaml --images images.yaml --proc 10 --retries 3 "
                 "--output-failed-images failed.yaml",
                 "  $NAME and ${NAME} in the auth, images and config files\n"
                 "      replaced by the variable's value\n"},
};

// Commands that reach registries find docker/containers auth files and proxies through the environment.
bool reads_registries(std::string_view name) {
    return name != "" && name != "version";
}

bool looks_like_command_name(std::string_view word) {
    if (word.empty() || word.size() > 32 || word.front() < 'a' || word.front() > 'z') return false;
    return std::all_of(word.begin(), word.end(),
                       [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

std::string command_list(const CLI::App& app) {
    std::size_t width = 0;
    // Hidden commands (an empty group, such as __docs) are not listed.
    auto subs = app.get_subcommands([](const CLI::App* sub) { return !sub->get_group().empty(); });
    for (const auto* sub : subs)
        width = std::max(width, sub->get_name().size());
    std::string out;
    for (const auto* sub : subs)
        out += fmt::format("  {:<{}}  {}\n", sub->get_name(), width, sub->get_description());
    return out;
}

} // namespace

std::string help_footer(std::string_view name) {
    auto it =
        std::find_if(commands.begin(), commands.end(), [&](const command_help& c) { return c.name == name; });
    if (it == commands.end()) return "";
    std::string out = "Examples:\n";
    std::string_view rest = it->examples;
    while (!rest.empty()) {
        auto nl = rest.find('\n');
        out += fmt::format("  {}\n", rest.substr(0, nl));
        rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    }
    std::string environment(it->environment);
    if (reads_registries(name)) environment += auth_file_environment;
    if (!environment.empty()) out += "\nEnvironment:\n" + environment;
    if (out.back() == '\n') out.pop_back();
    return out;
}

void hide_empty_list_defaults(CLI::App& app) {
    for (auto* opt : app.get_options())
        if (opt->get_default_str() == "[]") opt->default_str("");
}

void add_help_footers(CLI::App& app) {
    app.footer("\n" + help_footer("") + "\n");
    for (auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
        if (auto text = help_footer(sub->get_name()); !text.empty()) sub->footer("\n" + text + "\n");
        hide_empty_list_defaults(*sub);
    }
}

std::optional<std::string> command_word(int argc, const char* const* argv) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--debug") continue;
        if (!arg.empty() && arg.front() == '-') return std::nullopt;
        return std::string(arg);
    }
    return std::nullopt;
}

std::string unknown_command_text(const CLI::App& app, std::string_view word) {
    const std::string quoted = looks_like_command_name(word)
                                   ? fmt::format("unknown command \"{}\"", word)
                                   : std::string("unknown command (the word is not shown: it is not a "
                                                 "command name and may be a secret)");
    return fmt::format("{}; the commands are:\n{}Run `syncer COMMAND --help` for a command's flags.\n",
                       quoted, command_list(app));
}

std::string missing_command_text(const CLI::App& app) {
    return fmt::format("a command is required; the commands are:\n{}Run `syncer COMMAND --help` for a "
                       "command's flags.\n",
                       command_list(app));
}

} // namespace syncer
