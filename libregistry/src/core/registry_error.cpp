#include "libregistry/core/registry_error.hpp"

#include "libregistry/core/redact.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <ctime>

namespace libregistry {
namespace {

errc code_from_status(int status) {
    if (status == 401) return errc::unauthorized;
    if (status == 403) return errc::denied;
    if (status == 404) return errc::not_found;
    if (status == 429) return errc::too_many_requests;
    if (status >= 500) return errc::server_error;
    return errc::bad_response;
}

std::string_view status_text(int status) {
    switch (status) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 416:
        return "Range Not Satisfiable";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "";
    }
}

// A short, printable excerpt of a non-JSON body: tags stripped, whitespace folded, at most 160 characters.
std::string summarize_text(std::string_view body) {
    std::string out;
    bool in_tag = false;
    bool space = false;
    for (char c : body) {
        if (c == '<') {
            in_tag = true;
            space = true;
            continue;
        }
        if (c == '>') {
            in_tag = false;
            continue;
        }
        if (in_tag) continue;
        auto u = static_cast<unsigned char>(c);
        if (std::isspace(u) || !std::isprint(u)) {
            space = true;
            continue;
        }
        if (space && !out.empty()) out += ' ';
        space = false;
        out += c;
        if (out.size() >= 160) {
            out += "...";
            break;
        }
    }
    return out;
}

struct oci_error {
    std::optional<errc> code;
    std::string text;
};

// The distribution-spec error body; anything else gives nullopt.
std::optional<oci_error> parse_error_body(std::string_view body) {
    auto json = nlohmann::json::parse(body, nullptr, false);
    if (json.is_discarded() || !json.is_object()) return std::nullopt;
    auto errors = json.find("errors");
    if (errors == json.end() || !errors->is_array() || errors->empty()) return std::nullopt;
    oci_error out;
    for (const auto& e : *errors) {
        if (!e.is_object()) continue;
        std::string code = e.value("code", "");
        std::string message =
            e.contains("message") && e["message"].is_string() ? e["message"].get<std::string>() : "";
        if (!out.code) out.code = errc_from_oci_code(code);
        std::string item = code.empty() ? message : (message.empty() ? code : code + ": " + message);
        if (auto d = e.find("detail"); d != e.end() && !d->is_null()) {
            std::string detail = d->is_string() ? d->get<std::string>() : d->dump();
            if (detail.size() > 200) detail = detail.substr(0, 200) + "...";
            item += " (" + detail + ")";
        }
        if (item.empty()) continue;
        if (!out.text.empty()) out.text += "; ";
        out.text += item;
    }
    return out;
}

} // namespace

error registry_error(int status, std::string_view raw_body, std::string_view retry_after,
                     std::string_view context, std::string_view content_type) {
    // A registry or proxy may echo the request's credentials: they go before the text is cut short below,
    // where a secret's first half would no longer be recognised.
    const std::string body = scrub_secrets(raw_body);
    errc code = code_from_status(status);
    std::string detail;
    if (auto parsed = parse_error_body(body)) {
        if (parsed->code) code = *parsed->code;
        detail = parsed->text;
    } else if (!body.empty()) {
        detail = summarize_text(body);
        bool html = body.find("<html") != std::string_view::npos ||
                    body.find("<HTML") != std::string_view::npos ||
                    body.find("<!DOCTYPE") != std::string_view::npos;
        if (html) detail = "HTML page: " + detail;
    } else if (content_type.starts_with("text/html")) {
        // A proxy or CDN error page, seen through a HEAD that carries no body.
        detail = "an HTML page (not a registry error)";
    }
    // A 404 from a registry that did not say which thing was missing stays `not_found`; a 401 or 403 with a
    // body that says otherwise keeps the status meaning, since callers act on it.
    if (status == 401) code = errc::unauthorized;
    if (status == 403) code = errc::denied;
    if (status == 429) code = errc::too_many_requests;

    std::string message = fmt::format("{}: registry answered {}", context, status);
    if (auto text = status_text(status); !text.empty()) message += fmt::format(" {}", text);
    if (!detail.empty()) message += fmt::format(": {}", detail);
    switch (code) {
    case errc::unauthorized:
        message +=
            "; check the credentials given for this registry (explicit ones, an auth file or a credential "
            "helper)";
        break;
    case errc::denied:
        message += "; the credentials are valid but lack permission for this repository";
        break;
    case errc::too_many_requests:
        message += "; the registry is rate limiting, try again later or with fewer parallel transfers";
        break;
    default:
        break;
    }
    auto out = make_error(code, std::move(message), status);
    out.retry_after = parse_retry_after(retry_after, std::chrono::system_clock::now());
    return out;
}

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           std::chrono::system_clock::time_point now,
                                                           std::chrono::milliseconds cap) {
    while (!value.empty() && value.front() == ' ')
        value.remove_prefix(1);
    while (!value.empty() && value.back() == ' ')
        value.remove_suffix(1);
    if (value.empty()) return std::nullopt;
    if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        if (value.size() > 9) return cap;
        std::chrono::milliseconds delay(std::stoll(std::string(value)) * 1000);
        return std::min(delay, cap);
    }
    std::tm tm{};
    std::string text(value);
    if (!strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm)) return std::nullopt;
    auto when = std::chrono::system_clock::from_time_t(timegm(&tm));
    auto delay = std::chrono::duration_cast<std::chrono::milliseconds>(when - now);
    return std::clamp(delay, std::chrono::milliseconds(0), cap);
}

} // namespace libregistry
