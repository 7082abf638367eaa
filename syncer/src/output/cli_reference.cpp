#include "output/cli_reference.hpp"

namespace syncer {
namespace {

std::vector<std::string> split_choices(const std::string& constraint) {
    std::vector<std::string> choices;
    if (constraint.size() < 2 || constraint.front() != '{' || constraint.back() != '}') return choices;
    std::string item;
    for (char c : constraint.substr(1, constraint.size() - 2)) {
        if (c == ',') {
            choices.push_back(item);
            item.clear();
        } else if (c != ' ') {
            item += c;
        }
    }
    choices.push_back(item);
    return choices;
}

cli_option describe_option(const CLI::Option& opt) {
    cli_option out;
    for (const auto& name : opt.get_snames())
        out.names.push_back("-" + name);
    for (const auto& name : opt.get_lnames())
        out.names.push_back("--" + name);
    if (!opt.nonpositional()) out.positional_name = opt.get_name();
    // A flag expects no value (expected(0)); --name[=value] options have a type size of 0 to 1.
    if (opt.get_expected_max() != 0 && opt.get_type_size_max() != 0) {
        // CLI11 joins the type and each validator's description with ':' ("INT:INT in [0 - 100]").
        const std::string type = opt.get_option_text().empty() ? opt.get_type_name() : opt.get_option_text();
        const auto colon = type.find(':');
        out.value_name = type.substr(0, colon);
        if (colon != std::string::npos) out.constraint = type.substr(colon + 1);
        out.choices = split_choices(out.constraint);
        out.default_value = opt.get_default_str();
        out.value_required = opt.get_expected_min() > 0 && opt.get_type_size_min() > 0;
    }
    out.description = opt.get_description();
    out.environment = opt.get_envname();
    out.required = opt.get_required();
    out.repeatable =
        opt.get_expected_max() > 1 || opt.get_multi_option_policy() == CLI::MultiOptionPolicy::TakeAll;
    return out;
}

cli_command describe(const CLI::App& app, std::vector<std::string> path, const cli_command* parent) {
    cli_command out;
    out.path = std::move(path);
    out.aliases = app.get_aliases();
    out.description = app.get_description();
    out.footer = app.get_footer();
    for (const auto* opt : app.get_options()) {
        if (opt->get_group().empty()) continue;
        auto described = describe_option(*opt);
        (described.positional_name.empty() ? out.options : out.positionals).push_back(std::move(described));
    }
    if (parent != nullptr && app.get_parent() != nullptr && app.get_parent()->get_fallthrough()) {
        out.inherited_options = parent->inherited_options;
        for (const auto& opt : parent->options)
            if (opt.names != std::vector<std::string>{"-h", "--help"}) out.inherited_options.push_back(opt);
    }
    for (const auto* sub : app.get_subcommands([](const CLI::App* s) { return !s->get_group().empty(); })) {
        auto sub_path = out.path;
        sub_path.push_back(sub->get_name());
        out.subcommands.push_back(describe(*sub, std::move(sub_path), &out));
    }
    return out;
}

std::string joined(const std::vector<std::string>& parts, char separator) {
    std::string out;
    for (const auto& part : parts) {
        if (!out.empty()) out += separator;
        out += part;
    }
    return out;
}

} // namespace

cli_command describe_cli(const CLI::App& app) {
    return describe(app, {app.get_name()}, nullptr);
}

std::string command_line(const cli_command& command) {
    return joined(command.path, ' ');
}

std::string page_name(const cli_command& command) {
    return joined(command.path, '-');
}

} // namespace syncer
