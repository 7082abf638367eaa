#include "libregistry/core/tag_version.hpp"

#include "core/detail/ascii.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>

namespace libregistry {

using detail::is_digit;

namespace {

bool all_digits(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), is_digit);
}

std::string strip_zeros(std::string_view digits) {
    const auto first = digits.find_first_not_of('0');
    return first == std::string_view::npos ? std::string("0") : std::string(digits.substr(first));
}

// Numbers of any length, without leading zeros.
int compare_numbers(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
    const auto c = a.compare(b);
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

std::vector<std::string> split(std::string_view text, char at) {
    std::vector<std::string> out;
    for (;;) {
        const auto pos = text.find(at);
        out.emplace_back(text.substr(0, pos));
        if (pos == std::string_view::npos) return out;
        text.remove_prefix(pos + 1);
    }
}

bool semver_identifier(std::string_view id) {
    if (id.empty()) return false;
    const bool ok = std::all_of(id.begin(), id.end(), [](char c) {
        return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
    });
    return ok && !(all_digits(id) && id.size() > 1 && id.front() == '0');
}

// semver.org item 11.4: identifiers one by one; numeric ones as numbers and below alphanumeric ones; a longer
// list is newer when the shorter is its prefix.
int compare_prerelease(const std::vector<std::string>& a, const std::vector<std::string>& b) {
    for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
        const bool an = all_digits(a[i]);
        const bool bn = all_digits(b[i]);
        int c = 0;
        if (an && bn)
            c = compare_numbers(strip_zeros(a[i]), strip_zeros(b[i]));
        else if (an != bn)
            c = an ? -1 : 1;
        else
            c = a[i] < b[i] ? -1 : (a[i] > b[i] ? 1 : 0);
        if (c != 0) return c;
    }
    if (a.size() == b.size()) return 0;
    return a.size() < b.size() ? -1 : 1;
}

} // namespace

std::optional<tag_version> parse_tag_version(std::string_view tag) {
    if (tag.starts_with('v')) tag.remove_prefix(1);
    const auto dash = tag.find('-');
    const auto numbers = tag.substr(0, dash);
    tag_version v;
    bool leading_zero = false;
    for (const auto& field : split(numbers, '.')) {
        if (!all_digits(field)) return std::nullopt;
        leading_zero = leading_zero || (field.size() > 1 && field.front() == '0');
        v.numbers.push_back(strip_zeros(field));
    }
    bool semver_suffix = true;
    if (dash != std::string_view::npos) {
        const auto suffix = tag.substr(dash + 1);
        if (suffix.empty()) return std::nullopt;
        v.prerelease = split(suffix, '.');
        semver_suffix = std::all_of(v.prerelease.begin(), v.prerelease.end(),
                                    [](const std::string& id) { return semver_identifier(id); });
    }
    v.semver = v.numbers.size() <= 3 && !leading_zero && semver_suffix;
    return v;
}

int compare_versions(const tag_version& a, const tag_version& b) {
    const auto fields = std::max(a.numbers.size(), b.numbers.size());
    for (std::size_t i = 0; i < fields; ++i) {
        const std::string_view x = i < a.numbers.size() ? std::string_view(a.numbers[i]) : "0";
        const std::string_view y = i < b.numbers.size() ? std::string_view(b.numbers[i]) : "0";
        if (const auto c = compare_numbers(x, y); c != 0) return c;
    }
    if (a.prerelease.empty() != b.prerelease.empty()) return a.prerelease.empty() ? 1 : -1;
    return compare_prerelease(a.prerelease, b.prerelease);
}

namespace {

using bound = semver_range::bound;
using op = semver_range::op;

// A partial version of a comparator: the numbers given (x, X and * end it) and a pre-release.
struct partial {
    std::vector<std::string> numbers;
    std::vector<std::string> prerelease;
};

result<partial> parse_partial(std::string_view text, std::string_view comparator) {
    const auto bad = [&](std::string_view why) {
        return make_error(errc::invalid_argument,
                          fmt::format("semver comparator \"{}\": {}", comparator, why));
    };
    if (text.starts_with('v')) text.remove_prefix(1);
    partial p;
    const auto dash = text.find('-');
    bool wildcard = false;
    for (const auto& field : split(text.substr(0, dash), '.')) {
        if (field == "x" || field == "X" || field == "*") {
            wildcard = true;
            continue;
        }
        if (wildcard) return bad("a number after a wildcard");
        if (!all_digits(field)) return bad("expected MAJOR[.MINOR[.PATCH]], numbers or x, X, *");
        p.numbers.push_back(strip_zeros(field));
    }
    if (p.numbers.size() + (wildcard ? 1 : 0) > 3 || p.numbers.size() > 3)
        return bad("more than three fields");
    if (dash != std::string_view::npos) {
        if (p.numbers.size() != 3) return bad("a pre-release needs MAJOR.MINOR.PATCH");
        p.prerelease = split(text.substr(dash + 1), '.');
        if (!std::all_of(p.prerelease.begin(), p.prerelease.end(),
                         [](const std::string& id) { return semver_identifier(id); }))
            return bad("invalid pre-release");
    }
    return p;
}

tag_version version_of(std::vector<std::string> numbers, std::vector<std::string> prerelease = {}) {
    while (numbers.size() < 3)
        numbers.emplace_back("0");
    return tag_version{std::move(numbers), std::move(prerelease), true};
}

std::string increment(std::string_view number) {
    std::string out(number);
    for (auto i = out.size(); i-- > 0;) {
        if (out[i] != '9') {
            ++out[i];
            return out;
        }
        out[i] = '0';
    }
    return "1" + out;
}

// The first version past every version `p` covers: `1.4` -> 1.5.0, `1` -> 2.0.0.
tag_version past(const partial& p) {
    auto numbers = p.numbers;
    numbers.back() = increment(numbers.back());
    return version_of(std::move(numbers));
}

result<void> add_comparator(std::string_view text, std::vector<bound>& out) {
    if (text == "*" || text == "x" || text == "X") {
        out.push_back({op::ge, version_of({})});
        return {};
    }
    std::string_view relation;
    for (std::string_view candidate : {">=", "<=", ">", "<", "=", "^", "~"})
        if (text.starts_with(candidate)) {
            relation = candidate;
            break;
        }
    auto p = parse_partial(text.substr(relation.size()), text);
    if (!p) return p.error();
    const bool exact = p->numbers.size() == 3;
    if (p->numbers.empty()) {
        // `>=*`, `^x` and the like: any version, except that nothing is below or past everything.
        if (relation == "<" || relation == ">")
            return make_error(errc::invalid_argument,
                              fmt::format("semver comparator \"{}\" matches nothing", text));
        out.push_back({op::ge, version_of({})});
        return {};
    }
    const auto low = version_of(p->numbers, p->prerelease);
    if (relation == ">=") {
        out.push_back({op::ge, low});
    } else if (relation == ">") {
        out.push_back(exact ? bound{op::gt, low} : bound{op::ge, past(*p)});
    } else if (relation == "<") {
        out.push_back({op::lt, low});
    } else if (relation == "<=") {
        out.push_back(exact ? bound{op::le, low} : bound{op::lt, past(*p)});
    } else if (relation == "^") {
        // The first non-zero field given may not change; `^0.0` and `^0` keep the last field given.
        std::size_t keep = 0;
        while (keep + 1 < p->numbers.size() && p->numbers[keep] == "0")
            ++keep;
        partial upper{std::vector<std::string>(p->numbers.begin(), p->numbers.begin() + keep + 1), {}};
        out.push_back({op::ge, low});
        out.push_back({op::lt, past(upper)});
    } else if (relation == "~") {
        partial upper{
            std::vector<std::string>(p->numbers.begin(),
                                     p->numbers.begin() + std::min<std::size_t>(2, p->numbers.size())),
            {}};
        out.push_back({op::ge, low});
        out.push_back({op::lt, past(upper)});
    } else if (exact) {
        out.push_back({op::eq, low});
    } else {
        out.push_back({op::ge, low});
        out.push_back({op::lt, past(*p)});
    }
    return {};
}

bool holds(const bound& b, const tag_version& v) {
    const auto c = compare_versions(v, b.version);
    switch (b.relation) {
    case op::lt:
        return c < 0;
    case op::le:
        return c <= 0;
    case op::gt:
        return c > 0;
    case op::ge:
        return c >= 0;
    case op::eq:
        return c == 0;
    }
    return false;
}

bool same_numbers(const tag_version& a, const tag_version& b) {
    return compare_versions(tag_version{a.numbers, {}, true}, tag_version{b.numbers, {}, true}) == 0;
}

} // namespace

result<semver_range> parse_semver_range(std::string_view text) {
    semver_range range;
    const auto whole = text;
    for (;;) {
        const auto bar = text.find("||");
        auto set_text = text.substr(0, bar);
        std::vector<bound> set;
        while (true) {
            const auto start = set_text.find_first_not_of(" \t");
            if (start == std::string_view::npos) break;
            set_text.remove_prefix(start);
            auto end = set_text.find_first_of(" \t");
            // `>= 1.4` is one comparator written with a space.
            const auto word = set_text.substr(0, end);
            if (end != std::string_view::npos && word.find_first_not_of("<>=^~") == std::string_view::npos) {
                const auto next = set_text.find_first_not_of(" \t", end);
                end = next == std::string_view::npos ? next : set_text.find_first_of(" \t", next);
            }
            std::string comparator;
            for (char c : set_text.substr(0, end))
                if (c != ' ' && c != '\t') comparator.push_back(c);
            if (auto r = add_comparator(comparator, set); !r) return r.error();
            if (end == std::string_view::npos) break;
            set_text.remove_prefix(end);
        }
        if (set.empty())
            return make_error(errc::invalid_argument,
                              fmt::format("semver range \"{}\": an empty alternative (before or after "
                                          "\"||\"); write a comparator such as \">=1.4 <2\"",
                                          whole));
        range.sets.push_back(std::move(set));
        if (bar == std::string_view::npos) break;
        text.remove_prefix(bar + 2);
    }
    return range;
}

bool semver_matches(const semver_range& range, const tag_version& version) {
    if (!version.semver) return false;
    for (const auto& set : range.sets) {
        if (!std::all_of(set.begin(), set.end(), [&](const bound& b) { return holds(b, version); })) continue;
        if (version.prerelease.empty()) return true;
        if (std::any_of(set.begin(), set.end(), [&](const bound& b) {
                return !b.version.prerelease.empty() && same_numbers(b.version, version);
            }))
            return true;
    }
    return false;
}

namespace {

template <class T>
bool read_number(std::string_view text, std::size_t at, std::size_t n, T& out) {
    if (at + n > text.size()) return false;
    const auto field = text.substr(at, n);
    if (!all_digits(field)) return false;
    return std::from_chars(field.data(), field.data() + n, out).ec == std::errc{};
}

} // namespace

std::optional<std::chrono::sys_time<std::chrono::microseconds>> parse_rfc3339(std::string_view text) {
    namespace chr = std::chrono;
    int year = 0;
    unsigned month = 0, day = 0;
    int hour = 0, minute = 0, second = 0;
    if (!read_number(text, 0, 4, year) || text.size() < 20 || text[4] != '-' ||
        !read_number(text, 5, 2, month) || text[7] != '-' || !read_number(text, 8, 2, day) ||
        (text[10] != 'T' && text[10] != 't' && text[10] != ' ') || !read_number(text, 11, 2, hour) ||
        text[13] != ':' || !read_number(text, 14, 2, minute) || text[16] != ':' ||
        !read_number(text, 17, 2, second))
        return std::nullopt;
    const chr::year_month_day date{chr::year{year}, chr::month{month}, chr::day{day}};
    if (!date.ok() || hour > 23 || minute > 59 || second > 60) return std::nullopt;
    std::size_t at = 19;
    std::int64_t micros = 0;
    if (at < text.size() && text[at] == '.') {
        ++at;
        const auto start = at;
        while (at < text.size() && is_digit(text[at])) {
            if (at - start < 6) micros = micros * 10 + (text[at] - '0');
            ++at;
        }
        if (at == start) return std::nullopt;
        for (auto digits = at - start; digits < 6; ++digits)
            micros *= 10;
    }
    chr::minutes offset{0};
    if (at == text.size()) return std::nullopt;
    if (text[at] == 'Z' || text[at] == 'z') {
        if (at + 1 != text.size()) return std::nullopt;
    } else if (text[at] == '+' || text[at] == '-') {
        int oh = 0, om = 0;
        if (at + 6 != text.size() || !read_number(text, at + 1, 2, oh) || text[at + 3] != ':' ||
            !read_number(text, at + 4, 2, om) || oh > 23 || om > 59)
            return std::nullopt;
        offset = chr::hours{oh} + chr::minutes{om};
        if (text[at] == '-') offset = -offset;
    } else {
        return std::nullopt;
    }
    const auto local = chr::sys_days{date} + chr::hours{hour} + chr::minutes{minute} + chr::seconds{second} +
                       chr::microseconds{micros};
    return chr::time_point_cast<chr::microseconds>(local - offset);
}

std::optional<std::chrono::sys_time<std::chrono::microseconds>>
created_of_config(std::string_view config_json) {
    const auto body = nlohmann::json::parse(config_json, nullptr, false);
    if (!body.is_object()) return std::nullopt;
    const auto it = body.find("created");
    if (it == body.end() || !it->is_string()) return std::nullopt;
    return parse_rfc3339(it->get<std::string>());
}

} // namespace libregistry
