#include "commands/parse_errors.hpp"

#include "output/logger.hpp"
#include "text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iostream>

namespace syncer {

namespace {

// `--name` with a lowercase name, as every flag syncer has is spelt; a password rarely looks like that, and
// one that does is still shown only when it stands where a flag name would.
bool looks_like_flag_name(std::string_view text) {
    if (!text.starts_with("--") || text.size() < 3 || text.size() > 40) return false;
    return std::all_of(text.begin() + 2, text.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    });
}

bool looks_like_short_flag(std::string_view text) {
    return text.size() == 2 && text[0] == '-' &&
           ((text[1] >= 'a' && text[1] <= 'z') || (text[1] >= 'A' && text[1] <= 'Z'));
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j)
        row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

// The flags of `cmd` as `--name` and `-x`, and those of its parents (which fall through: `--debug`).
void collect_flags(const CLI::App* cmd, std::vector<std::string>& out) {
    for (; cmd != nullptr; cmd = cmd->get_parent()) {
        for (const CLI::Option* option : cmd->get_options()) {
            for (const auto& name : option->get_lnames())
                out.push_back("--" + name);
            for (const auto& name : option->get_snames())
                out.push_back("-" + name);
        }
    }
}

} // namespace

std::vector<std::string> closest_flags(std::string_view typed, const std::vector<std::string>& known_flags) {
    constexpr std::size_t max_shown = 3;
    std::vector<std::string> out;
    auto add = [&](const std::string& flag) {
        if (out.size() < max_shown && std::find(out.begin(), out.end(), flag) == out.end())
            out.push_back(flag);
    };
    // A typo: one or two letters off (only for names long enough that this says something).
    const std::string_view name = typed.substr(std::min(typed.find_first_not_of('-'), typed.size()));
    if (name.size() >= 3) {
        std::size_t best = 3;
        for (const auto& flag : known_flags)
            best = std::min(best, edit_distance(typed, flag));
        if (best <= 2)
            for (const auto& flag : known_flags)
                if (edit_distance(typed, flag) == best) add(flag);
    }
    if (!out.empty()) return out;
    // The start of a longer flag (`--src-password` for `--src-password-stdin`), or the end of one that
    // names a side (`--creds` for `--src-creds` and `--dest-creds`).
    for (const auto& flag : known_flags)
        if (typed.size() >= 4 && flag.starts_with(typed)) add(flag);
    if (!out.empty()) return out;
    if (name.size() >= 3)
        for (const auto& flag : known_flags)
            if (flag.ends_with(fmt::format("-{}", name))) add(flag);
    return out;
}

std::string unexpected_arguments_message(const std::vector<std::string>& extras,
                                         const std::vector<std::string>& known_flags) {
    std::vector<std::string> parts;
    std::size_t hidden = 0;
    for (const auto& arg : extras) {
        std::string_view flag = arg;
        bool with_value = false;
        if (flag.starts_with("--") && flag.find('=') != std::string_view::npos) {
            flag = flag.substr(0, flag.find('='));
            with_value = true;
        }
        if (std::find(known_flags.begin(), known_flags.end(), flag) != known_flags.end()) {
            // A flag of the command written before the command's name (`syncer --dest-creds X copy ...`).
            parts.push_back(fmt::format("option {} must come after the command's name", flag));
        } else if (looks_like_flag_name(flag) || looks_like_short_flag(flag)) {
            auto part = fmt::format("unknown option {}{}", flag, with_value ? "=..." : "");
            if (auto close = closest_flags(flag, known_flags); !close.empty()) {
                std::string alternatives;
                for (std::size_t i = 0; i < close.size(); ++i)
                    alternatives += (i == 0 ? "" : i + 1 == close.size() ? " or " : ", ") + close[i];
                part += fmt::format(" (did you mean {}?)", alternatives);
            }
            if (with_value) part += ", its value not shown: it may hold a secret";
            parts.push_back(std::move(part));
        } else {
            ++hidden;
        }
    }
    std::string out;
    for (const auto& part : parts)
        out += (out.empty() ? "" : "; ") + part;
    if (hidden > 0)
        out += fmt::format("{}{} (not shown: {} hold a secret)", out.empty() ? "" : "; ",
                           plural(hidden, out.empty() ? "unexpected argument" : "more unexpected argument",
                                  out.empty() ? "unexpected arguments" : "more unexpected arguments"),
                           hidden == 1 ? "it may" : "they may");
    return out;
}

void report_parse_error(const CLI::App& app, const CLI::ParseError& e, std::string_view program) {
    const CLI::App* cmd = &app;
    std::string label(program);
    for (auto chosen = app.get_subcommands(); !chosen.empty(); chosen = cmd->get_subcommands()) {
        cmd = chosen.front();
        label += " " + cmd->get_name();
    }
    std::string message;
    if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr) {
        std::vector<std::string> flags;
        collect_flags(cmd, flags);
        message = unexpected_arguments_message(app.remaining(true), flags);
    } else {
        message = e.what();
    }
    if (stderr_json()) {
        stderr_line("error", "usage_error", "",
                    fmt::format("{}; run '{} --help' for the options", message, label));
        return;
    }
    std::cerr << label << ": " << safe_text(message) << "\n";
    std::cerr << "Run '" << label << " --help' for the options.\n";
}

} // namespace syncer
