#include "output/go_format.hpp"

#include <fmt/format.h>

#include <cctype>

namespace syncer {

namespace {

using json = nlohmann::ordered_json;

/// The length of the UTF-8 sequence at `s[i]`, or 0 when it is not a valid one (encoding/json's test).
std::size_t utf8_length(std::string_view s, std::size_t i) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > s.size()) return 0;
    std::uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1f) : n == 3 ? (c & 0x0f) : (c & 0x07);
    for (std::size_t k = 1; k < n; ++k) {
        const auto cc = static_cast<unsigned char>(s[i + k]);
        if ((cc & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (cc & 0x3f);
    }
    const bool overlong = (n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
    if (overlong || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return n;
}

void write_string(std::string& out, std::string_view s) {
    out += '"';
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x20 || c == '<' || c == '>' || c == '&')
                    out += fmt::format("\\u{:04x}", c);
                else
                    out += static_cast<char>(c);
            }
            ++i;
            continue;
        }
        const auto n = utf8_length(s, i);
        if (n == 0) {
            out += "\\ufffd";
            ++i;
            continue;
        }
        const auto seq = s.substr(i, n);
        if (seq == "\xe2\x80\xa8")
            out += "\\u2028";
        else if (seq == "\xe2\x80\xa9")
            out += "\\u2029";
        else
            out += seq;
        i += n;
    }
    out += '"';
}

void write_value(std::string& out, const json& v, int depth) {
    const std::string indent(static_cast<std::size_t>(depth + 1) * 4, ' ');
    const std::string closing(static_cast<std::size_t>(depth) * 4, ' ');
    if (v.is_object()) {
        if (v.empty()) {
            out += "{}";
            return;
        }
        out += "{\n";
        bool first = true;
        for (const auto& item : v.items()) {
            if (!first) out += ",\n";
            first = false;
            out += indent;
            write_string(out, item.key());
            out += ": ";
            write_value(out, item.value(), depth + 1);
        }
        out += "\n" + closing + "}";
    } else if (v.is_array()) {
        if (v.empty()) {
            out += "[]";
            return;
        }
        out += "[\n";
        bool first = true;
        for (const auto& item : v) {
            if (!first) out += ",\n";
            first = false;
            out += indent;
            write_value(out, item, depth + 1);
        }
        out += "\n" + closing + "]";
    } else if (v.is_string()) {
        write_string(out, v.get_ref<const std::string&>());
    } else {
        out += v.dump();
    }
}

bool digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    return true;
}

} // namespace

std::string go_json_indent(const nlohmann::ordered_json& value) {
    std::string out;
    write_value(out, value, 0);
    return out;
}

std::optional<go_time> parse_go_time(std::string_view text) {
    // 2006-01-02T15:04:05
    if (text.size() < 20 || text[4] != '-' || text[7] != '-' || (text[10] != 'T' && text[10] != 't') ||
        text[13] != ':' || text[16] != ':')
        return std::nullopt;
    for (auto [at, n] : {std::pair{0, 4}, {5, 2}, {8, 2}, {11, 2}, {14, 2}, {17, 2}})
        if (!digits(text.substr(static_cast<std::size_t>(at), static_cast<std::size_t>(n))))
            return std::nullopt;
    go_time t;
    t.date_time = fmt::format("{} {}", text.substr(0, 10), text.substr(11, 8));
    auto rest = text.substr(19);
    if (!rest.empty() && rest.front() == '.') {
        std::size_t n = 1;
        while (n < rest.size() && std::isdigit(static_cast<unsigned char>(rest[n])))
            ++n;
        if (n == 1 || n > 10) return std::nullopt;
        t.fraction = std::string(rest.substr(1, n - 1));
        while (!t.fraction.empty() && t.fraction.back() == '0')
            t.fraction.pop_back();
        rest.remove_prefix(n);
    }
    if (rest == "Z" || rest == "z") {
        t.utc = true;
        return t;
    }
    if (rest.size() != 6 || (rest[0] != '+' && rest[0] != '-') || rest[3] != ':' ||
        !digits(rest.substr(1, 2)) || !digits(rest.substr(4, 2)))
        return std::nullopt;
    const int hours = std::stoi(std::string(rest.substr(1, 2)));
    const int minutes = std::stoi(std::string(rest.substr(4, 2)));
    t.offset_minutes = (rest[0] == '-' ? -1 : 1) * (hours * 60 + minutes);
    // Go gives an offset that equals the local zone's that zone; syncer's zone is UTC in containers and on
    // servers, where this matters.
    t.utc = t.offset_minutes == 0;
    return t;
}

std::string go_time_string(const go_time& t) {
    const auto fraction = t.fraction.empty() ? std::string() : "." + t.fraction;
    if (t.utc) return fmt::format("{}{} +0000 UTC", t.date_time, fraction);
    const int m = t.offset_minutes < 0 ? -t.offset_minutes : t.offset_minutes;
    const auto zone = fmt::format("{}{:02}{:02}", t.offset_minutes < 0 ? '-' : '+', m / 60, m % 60);
    return fmt::format("{}{} {} {}", t.date_time, fraction, zone, zone);
}

std::string go_time_json(const go_time& t) {
    auto out = t.date_time;
    out[10] = 'T';
    if (!t.fraction.empty()) out += "." + t.fraction;
    if (t.utc) return out + "Z";
    const int m = t.offset_minutes < 0 ? -t.offset_minutes : t.offset_minutes;
    return out + fmt::format("{}{:02}:{:02}", t.offset_minutes < 0 ? '-' : '+', m / 60, m % 60);
}

} // namespace syncer
