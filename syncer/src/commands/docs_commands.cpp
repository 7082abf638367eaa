#include "commands/docs_commands.hpp"

#include "commands/commands.hpp"
#include "output/cli_reference.hpp"
#include "output/logger.hpp"
#include "output/man_page.hpp"
#include "output/shell_completion.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <system_error>

namespace syncer {
namespace {

bool write_file(const std::filesystem::path& path, const std::string& text) {
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file << text;
    file.close();
    if (ec || !file) {
        const auto reason = ec ? ec.message() : std::string("write failed");
        stderr_line("error", "write_failed",
                    fmt::format("syncer: cannot write {}: {}", path.string(), reason),
                    fmt::format("cannot write {}: {}", path.string(), reason));
        return false;
    }
    return true;
}

} // namespace

std::function<int()> add_completion_command(CLI::App& app) {
    auto shell = std::make_shared<std::string>();
    auto* cmd =
        app.add_subcommand("completion", "Print a shell completion script for syncer (bash, zsh or fish)");
    cmd->add_option("SHELL", *shell, "The shell: bash, zsh or fish")
        ->required()
        ->check(CLI::IsMember({"bash", "zsh", "fish"}));
    cmd->footer("Examples:\n"
                "  source <(syncer completion bash)\n"
                "  syncer completion zsh > \"${fpath[1]}/_syncer\"\n"
                "  syncer completion fish > ~/.config/fish/completions/syncer.fish");
    const CLI::App* root = &app;
    return [root, shell] {
        std::cout << completion_script(describe_cli(*root), *shell).value_or("");
        return std::cout.flush() ? int{exit_ok} : int{exit_failed};
    };
}

std::function<int()> add_docs_command(CLI::App& app) {
    auto dir = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand("__docs", "Write the man pages and completion scripts under DIR");
    cmd->group("");
    cmd->add_option("DIR", *dir, "Output directory (its man/, bash-completion/, zsh/ and fish/)")->required();
    const CLI::App* root = &app;
    return [root, dir] {
        const auto command = describe_cli(*root);
        const std::filesystem::path out = *dir;
        bool ok = true;
        for (const auto& page : man_pages(command, SYNCER_VERSION))
            ok = write_file(out / "man" / "man1" / page.file_name, page.text) && ok;
        const std::string name = command.path.front();
        const std::pair<const char*, std::filesystem::path> scripts[] = {
            {"bash", out / "bash-completion" / "completions" / name},
            {"zsh", out / "zsh" / "vendor-completions" / ("_" + name)},
            {"fish", out / "fish" / "vendor_completions.d" / (name + ".fish")}};
        for (const auto& [shell, path] : scripts)
            ok = write_file(path, *completion_script(command, shell)) && ok;
        return ok ? int{exit_ok} : int{exit_failed};
    };
}

} // namespace syncer
