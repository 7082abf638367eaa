#include "libregistry/link_header.hpp"

namespace libregistry {
namespace {

bool is_tchar(char c) noexcept {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
        return true;
    default:
        return false;
    }
}

bool is_control(char c) noexcept {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t') || u == 0x7f;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

// RFC 8288 section 3.3: rel holds space-separated relation types, compared case-insensitively.
bool has_next_relation(std::string_view rel) noexcept {
    std::size_t i = 0;
    while (i < rel.size()) {
        while (i < rel.size() && (rel[i] == ' ' || rel[i] == '\t'))
            ++i;
        const auto start = i;
        while (i < rel.size() && rel[i] != ' ' && rel[i] != '\t')
            ++i;
        if (i > start && iequals(rel.substr(start, i - start), "next")) return true;
    }
    return false;
}

class parser {
public:
    explicit parser(std::string_view text) : text_(text) {}

    // Link = #link-value
    // link-value = "<" URI-Reference ">" *( OWS ";" OWS link-param )
    // link-param = token BWS [ "=" BWS ( token / quoted-string ) ]
    std::optional<std::string> run() {
        std::optional<std::string> next;
        skip_list_separators();
        while (!at_end()) {
            if (peek() != '<') return std::nullopt;
            ++pos_;
            const auto start = pos_;
            while (!at_end() && peek() != '>') {
                if (is_control(peek()) || peek() == '<') return std::nullopt;
                ++pos_;
            }
            if (at_end()) return std::nullopt;
            const auto target = text_.substr(start, pos_ - start);
            ++pos_;

            std::optional<std::string> rel;
            for (;;) {
                skip_ows();
                if (at_end() || peek() == ',') break;
                if (peek() != ';') return std::nullopt;
                ++pos_;
                skip_ows();
                const auto name = take_token();
                if (name.empty()) return std::nullopt;
                skip_ows();
                std::string value;
                if (peek() == '=') {
                    ++pos_;
                    skip_ows();
                    auto v = parse_value();
                    if (!v) return std::nullopt;
                    value = std::move(*v);
                }
                // RFC 8288 section 3.3: occurrences of rel after the first MUST be ignored.
                if (!rel && iequals(name, "rel")) rel = std::move(value);
            }
            // An empty target would name the page just fetched and make pagination loop.
            if (!next && rel && has_next_relation(*rel) && !target.empty()) next = std::string(target);
            skip_list_separators();
        }
        return next;
    }

private:
    std::string_view text_;
    std::size_t pos_ = 0;

    bool at_end() const noexcept { return pos_ >= text_.size(); }
    char peek() const noexcept { return at_end() ? '\0' : text_[pos_]; }

    void skip_ows() noexcept {
        while (!at_end() && (peek() == ' ' || peek() == '\t'))
            ++pos_;
    }
    void skip_list_separators() noexcept {
        while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == ','))
            ++pos_;
    }

    std::string_view take_token() noexcept {
        const auto start = pos_;
        while (!at_end() && is_tchar(peek()))
            ++pos_;
        return text_.substr(start, pos_ - start);
    }

    std::optional<std::string> parse_value() {
        if (peek() != '"') {
            auto token = take_token();
            if (token.empty()) return std::nullopt;
            return std::string(token);
        }
        ++pos_;
        std::string value;
        while (!at_end()) {
            char c = peek();
            ++pos_;
            if (c == '"') return value;
            if (c == '\\') {
                if (at_end()) return std::nullopt;
                c = peek();
                ++pos_;
            }
            if (is_control(c)) return std::nullopt;
            value.push_back(c);
        }
        return std::nullopt;
    }
};

} // namespace

std::optional<std::string> next_link(std::string_view header) {
    return parser(header).run();
}

} // namespace libregistry
