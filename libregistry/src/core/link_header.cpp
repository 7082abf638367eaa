#include "libregistry/core/link_header.hpp"

#include "core/detail/header_syntax.hpp"

namespace libregistry {
namespace {

using detail::iequals;
using detail::is_control;

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

class link_parser : detail::header_cursor {
public:
    using header_cursor::header_cursor;

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
    std::optional<std::string> parse_value() {
        if (peek() != '"') {
            auto token = take_token();
            if (token.empty()) return std::nullopt;
            return std::string(token);
        }
        std::string_view problem;
        return take_quoted_string(problem);
    }
};

} // namespace

std::optional<std::string> next_link(std::string_view header) {
    return link_parser(header).run();
}

} // namespace libregistry
