#include "output/shell_completion.hpp"

#include <fmt/format.h>

#include <functional>

namespace syncer {
namespace {

// Single-quoted for sh, bash and zsh: ' ends the quote, so it is written as '\''.
std::string sh_quote(std::string_view text) {
    std::string out = "'";
    for (char c : text)
        out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

// Single-quoted for fish, where \\ and \' are the escapes inside single quotes.
std::string fish_quote(std::string_view text) {
    std::string out = "'";
    for (char c : text) {
        if (c == '\'' || c == '\\') out += '\\';
        out += c;
    }
    return out + "'";
}

// One line, for the description columns of zsh and fish.
std::string one_line(std::string_view text) {
    std::string out;
    for (char c : text)
        out += (c == '\n' || c == '\t') ? ' ' : c;
    return out;
}

std::string words_of(const std::vector<std::string>& words) {
    std::string out;
    for (const auto& word : words) {
        if (!out.empty()) out += " ";
        out += word;
    }
    return out;
}

void for_each_command(const cli_command& command, const std::function<void(const cli_command&)>& visit) {
    visit(command);
    for (const auto& sub : command.subcommands)
        for_each_command(sub, visit);
}

std::vector<const cli_option*> all_options(const cli_command& command) {
    std::vector<const cli_option*> out;
    for (const auto& opt : command.options)
        out.push_back(&opt);
    for (const auto& opt : command.inherited_options)
        out.push_back(&opt);
    return out;
}

std::vector<std::string> option_names(const cli_command& command) {
    std::vector<std::string> out;
    for (const auto* opt : all_options(command))
        out.insert(out.end(), opt->names.begin(), opt->names.end());
    return out;
}

std::vector<std::string> subcommand_names(const cli_command& command) {
    std::vector<std::string> out;
    for (const auto& sub : command.subcommands) {
        out.push_back(sub.path.back());
        out.insert(out.end(), sub.aliases.begin(), sub.aliases.end());
    }
    return out;
}

// What a word that is not an option may be: a subcommand, or a value of the first positional with choices.
std::vector<std::string> word_choices(const cli_command& command) {
    auto out = subcommand_names(command);
    for (const auto& positional : command.positionals)
        if (!positional.choices.empty()) {
            out.insert(out.end(), positional.choices.begin(), positional.choices.end());
            break;
        }
    return out;
}

// `case` patterns "COMMAND|NAME" for every name of the options of `command` that `keep` selects.
std::string case_patterns(const cli_command& command, const std::function<bool(const cli_option&)>& keep) {
    std::string out;
    for (const auto* opt : all_options(command))
        if (keep(*opt))
            for (const auto& name : opt->names) {
                if (!out.empty()) out += "|";
                out += sh_quote(command_line(command) + "|" + name);
            }
    return out;
}

// The loop over the words before the cursor, shared by bash and zsh: which (sub)command they name, skipping
// the values of options that take the next word.
std::string command_walk(const cli_command& root, std::string_view indent) {
    std::string out;
    for_each_command(root, [&](const cli_command& command) {
        for (const auto& sub : command.subcommands) {
            std::string patterns = sh_quote(command_line(command) + "|" + sub.path.back());
            for (const auto& alias : sub.aliases)
                patterns.append("|").append(sh_quote(command_line(command) + "|" + alias));
            out += fmt::format("{}{}) command={} ;;\n", indent, patterns, sh_quote(command_line(sub)));
        }
        const auto takes_next = case_patterns(command, [](const cli_option& o) { return o.value_required; });
        if (!takes_next.empty()) out += fmt::format("{}{}) skip=1 ;;\n", indent, takes_next);
    });
    return out;
}

// `case "$command|$option"` arms completing an option's value: its choices, else `files`.
std::string value_cases(const cli_command& root, std::string_view indent,
                        const std::function<std::string(const std::vector<std::string>&)>& choices,
                        const std::string& files) {
    std::string out;
    for_each_command(root, [&](const cli_command& command) {
        for (const auto* opt : all_options(command)) {
            if (opt->value_name.empty()) continue;
            std::string patterns;
            for (const auto& name : opt->names) {
                if (!patterns.empty()) patterns += "|";
                patterns += sh_quote(command_line(command) + "|" + name);
            }
            out += fmt::format("{}{}) {}; return ;;\n", indent, patterns,
                               opt->choices.empty() ? files : choices(opt->choices));
        }
    });
    return out;
}

std::string bash_script(const cli_command& root) {
    const auto compgen = [](const std::vector<std::string>& words) {
        return fmt::format("COMPREPLY=($(compgen -W {} -- \"$cur\"))", sh_quote(words_of(words)));
    };
    std::string out =
        fmt::format("# bash completion for {0}, generated by `{0} completion bash` from the definitions "
                    "behind `{0} --help`.\n"
                    "_{0}() {{\n"
                    "    local cur=${{COMP_WORDS[COMP_CWORD]}} prev= command={1} word i skip=0 words=\n"
                    "    ((COMP_CWORD > 0)) && prev=${{COMP_WORDS[COMP_CWORD - 1]}}\n"
                    "    # readline splits --option=value at '=' (COMP_WORDBREAKS).\n"
                    "    if [[ $cur == = ]]; then\n"
                    "        cur=\n"
                    "    elif [[ $prev == = ]] && ((COMP_CWORD > 1)); then\n"
                    "        prev=${{COMP_WORDS[COMP_CWORD - 2]}}\n"
                    "    fi\n"
                    "    for ((i = 1; i < COMP_CWORD; i++)); do\n"
                    "        word=${{COMP_WORDS[i]}}\n"
                    "        if [[ $word == = ]]; then skip=1; continue; fi\n"
                    "        if ((skip)); then skip=0; continue; fi\n"
                    "        case \"$command|$word\" in\n",
                    root.path.front(), sh_quote(command_line(root)));
    out += command_walk(root, "        ");
    out += "        esac\n"
           "    done\n"
           "    # An option's value: its choices, else nothing, and readline completes a file name (-o "
           "default).\n"
           "    case \"$command|$prev\" in\n";
    out += value_cases(root, "    ", compgen, "COMPREPLY=()");
    out += "    esac\n"
           "    case \"$command\" in\n";
    for_each_command(root, [&](const cli_command& command) {
        out += fmt::format("    {})\n"
                           "        if [[ $cur == -* ]]; then words={}; else words={}; fi ;;\n",
                           sh_quote(command_line(command)), sh_quote(words_of(option_names(command))),
                           sh_quote(words_of(word_choices(command))));
    });
    out += fmt::format("    esac\n"
                       "    COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
                       "}}\n"
                       "complete -o default -F _{0} {0}\n",
                       root.path.front());
    return out;
}

std::string zsh_entries(const std::vector<std::pair<std::string, std::string>>& entries) {
    std::string out;
    for (const auto& [name, description] : entries) {
        std::string escaped;
        for (char c : name)
            escaped += c == ':' ? std::string("\\:") : std::string(1, c);
        out += " " + sh_quote(escaped + ":" + one_line(description));
    }
    return out;
}

std::string zsh_script(const cli_command& root) {
    const auto compadd = [](const std::vector<std::string>& words) {
        std::string out = "compadd --";
        for (const auto& word : words)
            out += " " + sh_quote(word);
        return out;
    };
    std::string out = fmt::format("#compdef {0}\n"
                                  "# zsh completion for {0}, generated by `{0} completion zsh` from the "
                                  "definitions behind `{0} --help`.\n"
                                  "_{0}() {{\n"
                                  "    local command={1} word option\n"
                                  "    local -a entries\n"
                                  "    integer i skip=0\n"
                                  "    for ((i = 2; i < CURRENT; i++)); do\n"
                                  "        word=${{words[i]}}\n"
                                  "        if ((skip)); then skip=0; continue; fi\n"
                                  "        case \"$command|$word\" in\n",
                                  root.path.front(), sh_quote(command_line(root)));
    out += command_walk(root, "        ");
    out += "        esac\n"
           "    done\n"
           "    # An option's value, as the next word or after '='.\n"
           "    option=${words[CURRENT - 1]}\n"
           "    if [[ $PREFIX == -*=* ]]; then\n"
           "        option=${PREFIX%%=*}\n"
           "        compset -P '*='\n"
           "    fi\n"
           "    case \"$command|$option\" in\n";
    out += value_cases(root, "    ", compadd, "_files");
    out += "    esac\n"
           "    case \"$command\" in\n";
    for_each_command(root, [&](const cli_command& command) {
        std::vector<std::pair<std::string, std::string>> options;
        for (const auto* opt : all_options(command))
            for (const auto& name : opt->names)
                options.emplace_back(name, opt->description);
        std::vector<std::pair<std::string, std::string>> subcommands;
        for (const auto& sub : command.subcommands) {
            subcommands.emplace_back(sub.path.back(), sub.description);
            for (const auto& alias : sub.aliases)
                subcommands.emplace_back(alias, sub.description);
        }
        std::string words = subcommands.empty() ? "_files" : "_describe -t commands command entries";
        for (const auto& positional : command.positionals)
            if (subcommands.empty() && !positional.choices.empty()) {
                words = compadd(positional.choices);
                break;
            }
        out += fmt::format("    {})\n"
                           "        if [[ $PREFIX == -* ]]; then\n"
                           "            entries=({})\n"
                           "            _describe -t options option entries\n"
                           "        else\n"
                           "            entries=({})\n"
                           "            {}\n"
                           "        fi ;;\n",
                           sh_quote(command_line(command)), zsh_entries(options), zsh_entries(subcommands),
                           words);
    });
    out += fmt::format("    esac\n"
                       "}}\n"
                       "_{0} \"$@\"\n",
                       root.path.front());
    return out;
}

// The fish condition under which `command`'s own options and words apply.
std::string fish_condition(const cli_command& command) {
    if (command.path.size() == 1) return "__fish_use_subcommand";
    std::string out = "__fish_seen_subcommand_from " + command.path.back();
    for (const auto& alias : command.aliases)
        out += " " + alias;
    if (!command.subcommands.empty())
        out += "; and not __fish_seen_subcommand_from " + words_of(subcommand_names(command));
    return out;
}

std::string fish_script(const cli_command& root) {
    const std::string& program = root.path.front();
    std::string out = fmt::format("# fish completion for {0}, generated by `{0} completion fish` from the "
                                  "definitions behind `{0} --help`.\n",
                                  program);
    for_each_command(root, [&](const cli_command& command) {
        const auto condition = fish_quote(fish_condition(command));
        for (const auto& sub : command.subcommands) {
            out += fmt::format("complete -c {} -f -n {} -a {} -d {}\n", program, condition,
                               fish_quote(words_of([&] {
                                   auto names = sub.aliases;
                                   names.insert(names.begin(), sub.path.back());
                                   return names;
                               }())),
                               fish_quote(one_line(sub.description)));
        }
        for (const auto& positional : command.positionals)
            if (!positional.choices.empty()) {
                out += fmt::format("complete -c {} -f -n {} -a {} -d {}\n", program, condition,
                                   fish_quote(words_of(positional.choices)),
                                   fish_quote(one_line(positional.description)));
                break;
            }
        for (const auto* opt : all_options(command)) {
            std::string line = fmt::format("complete -c {} -n {}", program, condition);
            for (const auto& name : opt->names) {
                if (name.starts_with("--"))
                    line += " -l " + name.substr(2);
                else if (name.size() == 2)
                    line += " -s " + name.substr(1);
                else
                    line += " -o " + name.substr(1);
            }
            if (!opt->choices.empty())
                line += " -x -a " + fish_quote(words_of(opt->choices));
            else if (opt->value_required)
                line += " -r -F";
            out += line + " -d " + fish_quote(one_line(opt->description)) + "\n";
        }
    });
    return out;
}

} // namespace

std::optional<std::string> completion_script(const cli_command& root, std::string_view shell) {
    if (shell == "bash") return bash_script(root);
    if (shell == "zsh") return zsh_script(root);
    if (shell == "fish") return fish_script(root);
    return std::nullopt;
}

} // namespace syncer
