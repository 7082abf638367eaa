#include "libregistry/core/challenge.hpp"

#include "core/detail/header_syntax.hpp"

#include <fmt/format.h>

namespace libregistry {
namespace {

using detail::is_tchar;
using detail::lower;
using detail::to_lower;

// RFC 7235 section 2.1: token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
bool is_token68_char(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

class challenge_parser : detail::header_cursor {
public:
    using header_cursor::header_cursor;

    result<std::vector<challenge>> run() {
        std::vector<challenge> out;
        // RFC 9110 section 5.6.1: list recipients accept and ignore empty elements ("a, , b").
        skip_list_separators();
        if (at_end()) return fail("no challenge in the header");
        while (!at_end()) {
            auto c = parse_challenge();
            if (!c) return c.error();
            out.push_back(std::move(*c));
            skip_list_separators();
        }
        return out;
    }

private:
    error fail(std::string_view what) const {
        return make_error(errc::bad_response,
                          fmt::format("malformed WWW-Authenticate header: {} (at offset {})", what, pos_));
    }

    // True when the text at pos_ is `token BWS "="`, i.e. an auth-param rather than the next challenge's
    // scheme.
    bool at_auth_param() const noexcept {
        auto i = pos_;
        const auto start = i;
        while (i < text_.size() && is_tchar(text_[i]))
            ++i;
        if (i == start) return false;
        while (i < text_.size() && (text_[i] == ' ' || text_[i] == '\t'))
            ++i;
        return i < text_.size() && text_[i] == '=';
    }

    // A token68 must fill the rest of the list element, which tells it apart from `name=value`.
    bool try_token68() noexcept {
        auto i = pos_;
        const auto start = i;
        while (i < text_.size() && is_token68_char(text_[i]))
            ++i;
        if (i == start) return false;
        while (i < text_.size() && text_[i] == '=')
            ++i;
        auto end = i;
        while (i < text_.size() && (text_[i] == ' ' || text_[i] == '\t'))
            ++i;
        if (i < text_.size() && text_[i] != ',') return false;
        pos_ = end;
        return true;
    }

    result<std::string> parse_quoted_string() {
        std::string_view problem;
        auto value = take_quoted_string(problem);
        if (!value) return fail(problem);
        return std::move(*value);
    }

    result<std::string> parse_param_value() {
        if (peek() == '"') return parse_quoted_string();
        // RFC 7235 allows only a token here. Accepting any visible character up to the next delimiter keeps
        // an unquoted URL or scope (`realm=https://x/token`) readable and cannot change how a well-formed
        // header parses.
        const auto start = pos_;
        while (!at_end()) {
            const auto u = static_cast<unsigned char>(peek());
            if (u <= 0x20 || u == 0x7f || u == ',' || u == '"' || u == '\\') break;
            ++pos_;
        }
        if (pos_ == start) return fail("expected a parameter value");
        return std::string(text_.substr(start, pos_ - start));
    }

    result<challenge> parse_challenge() {
        challenge c;
        const auto scheme = take_token();
        if (scheme.empty()) return fail("expected an auth scheme");
        c.scheme = lower(scheme);

        // auth-scheme [ 1*SP ( token68 / #auth-param ) ]
        if (!at_end() && peek() != ' ' && peek() != '\t' && peek() != ',')
            return fail(fmt::format("unexpected character after auth scheme \"{}\"", c.scheme));
        skip_ows();
        if (at_end() || peek() == ',') return c;
        if (try_token68()) return c;

        for (;;) {
            const auto name = take_token();
            if (name.empty()) return fail("expected a parameter name");
            skip_ows();
            if (peek() != '=') return fail(fmt::format("expected '=' after parameter \"{}\"", lower(name)));
            ++pos_;
            skip_ows();
            auto value = parse_param_value();
            if (!value) return value.error();
            // RFC 7235 section 2.2: each parameter name MUST only occur once per challenge. Refusing
            // duplicates keeps two readers of one header from disagreeing on e.g. the realm.
            auto [it, inserted] = c.params.emplace(lower(name), std::move(*value));
            if (!inserted) return fail(fmt::format("duplicate parameter \"{}\"", it->first));
            skip_ows();
            if (at_end()) return c;
            if (peek() != ',') return fail("expected ',' after a parameter value");
            // A comma ends this parameter; what follows is another parameter or the next challenge.
            skip_list_separators();
            if (at_end() || !at_auth_param()) return c;
        }
    }
};

} // namespace

std::string challenge::param(std::string_view key) const {
    auto it = params.find(lower(key));
    return it == params.end() ? std::string() : it->second;
}

result<std::vector<challenge>> parse_www_authenticate(std::string_view header) {
    return challenge_parser(header).run();
}

bool is_insufficient_scope(const challenge& c) {
    return c.scheme == "bearer" && c.param("error") == "insufficient_scope";
}

} // namespace libregistry
