#include "libregistry/http/client.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <string>

using libregistry::http::is_loopback_host;
using libregistry::http::proxy_settings;

TEST_CASE("is_loopback_host") {
    struct row {
        const char* host_port;
        bool loopback;
    };
    const row rows[] = {
        {"localhost", true},
        {"LOCALHOST:5000", true},
        {"localhost.", true},
        {"127.0.0.1", true},
        {"127.0.0.1:5000", true},
        {"127.255.1.2:80", true},
        {"[::1]", true},
        {"[::1]:5000", true},
        {"::1", true},
        {"[::ffff:127.0.0.1]:443", true},
        {"128.0.0.1", false},
        {"10.0.0.1:5000", false},
        {"[::2]:5000", false},
        {"localhost.example.com", false},
        {"mylocalhost", false},
        {"registry.example.com:5000", false},
        {"", false},
    };
    for (const auto& r : rows) {
        CAPTURE(r.host_port);
        CHECK(is_loopback_host(r.host_port) == r.loopback);
    }
}

TEST_CASE("NO_PROXY decides which hosts bypass the proxy") {
    struct row {
        const char* no_proxy;
        const char* host;
        std::uint16_t port;
        bool proxied;
    };
    const row rows[] = {
        {"", "registry.example.com", 443, true},
        {"*", "registry.example.com", 443, false},
        {"example.com", "example.com", 443, false},
        {"example.com", "registry.example.com", 443, false},
        {".example.com", "registry.example.com", 443, false},
        {".example.com", "example.com", 443, false},
        {"*.example.com", "registry.example.com", 443, false},
        {"example.com", "notexample.com", 443, true},
        {"example.com", "example.com.evil.org", 443, true},
        {"EXAMPLE.com", "Registry.Example.COM", 443, false},
        {"other.org, example.com", "example.com", 443, false},
        {"other.org,,  example.com ", "example.com", 443, false},
        {"example.com:5000", "example.com", 5000, false},
        {"example.com:5000", "example.com", 443, true},
        {"10.1.2.3", "10.1.2.3", 443, false},
        {"10.1.2.3", "10.1.2.4", 443, true},
        {"10.0.0.0/8", "10.200.0.1", 443, false},
        {"10.0.0.0/8", "11.0.0.1", 443, true},
        {"10.0.0.0/8", "ten.example.com", 443, true},
        {"::1", "::1", 443, false},
        {"[::1]:5000", "[::1]", 5000, false},
        {"[::1]:5000", "::1", 443, true},
        {"fd00::/8", "fd12::1", 443, false},
        // curl proxies loopback unless NO_PROXY says otherwise; so does syncer.
        {"", "localhost", 5000, true},
        {"", "127.0.0.1", 5000, true},
        {"localhost,127.0.0.1", "127.0.0.1", 5000, false},
    };
    for (const auto& r : rows) {
        CAPTURE(r.no_proxy);
        CAPTURE(r.host);
        CAPTURE(r.port);
        const proxy_settings settings{"http://proxy:3128", "http://proxy:3128", r.no_proxy};
        CHECK((settings.proxy_for("https", r.host, r.port) == "http://proxy:3128") == r.proxied);
    }
}

TEST_CASE("proxy_for picks the proxy by scheme") {
    const proxy_settings settings{"http://secure-proxy:3128", "http://plain-proxy:8080", ""};
    CHECK(settings.proxy_for("https", "registry.example.com", 443) == "http://secure-proxy:3128");
    CHECK(settings.proxy_for("http", "registry.example.com", 80) == "http://plain-proxy:8080");

    const proxy_settings only_https{"http://secure-proxy:3128", "", ""};
    CHECK(only_https.proxy_for("http", "registry.example.com", 80).empty());

    const proxy_settings bare{"proxy.internal:3128", "", ""};
    CHECK(bare.proxy_for("https", "registry.example.com", 443) == "http://proxy.internal:3128");

    CHECK(proxy_settings{}.proxy_for("https", "registry.example.com", 443).empty());
}

TEST_CASE("proxy_settings::from_environment reads both spellings") {
    for (const char* name :
         {"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"})
        ::unsetenv(name);
    ::setenv("https_proxy", "http://lower:1", 1);
    ::setenv("HTTP_PROXY", "http://upper:2", 1);
    ::setenv("no_proxy", "internal.example", 1);
    auto settings = proxy_settings::from_environment();
    CHECK(settings.https_proxy == "http://lower:1");
    CHECK(settings.http_proxy == "http://upper:2");
    CHECK(settings.no_proxy == "internal.example");

    ::setenv("HTTPS_PROXY", "http://upper:3", 1);
    CHECK(proxy_settings::from_environment().https_proxy == "http://upper:3");
    for (const char* name :
         {"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"})
        ::unsetenv(name);
    CHECK(proxy_settings::from_environment().https_proxy.empty());
}
