#pragma once
// What every command needs to talk to registries: an io_context, one HTTP client, and registry clients
// configured from flags.
#include <libregistry/credentials.hpp>
#include <libregistry/http/client.hpp>
#include <libregistry/reference.hpp>
#include <libregistry/remote_registry.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace syncer {

/// How to reach one side (source or destination), from skopeo-style flags.
struct endpoint_flags {
    std::string creds;      ///< USER[:PASS]
    bool tls_verify = true; ///< false also allows plain HTTP, as with skopeo
    std::string cert_dir;
    std::string auth_file; ///< empty: the default search path
};

/// Thrown for bad flags or input: main prints the message and exits 2.
struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class session {
public:
    explicit session(int retry_times = 3);

    /// A registry client for `registry` (normalised name) with `flags`; throws usage_error for unusable
    /// flags.
    libregistry::remote_registry& open(const std::string& registry, const endpoint_flags& flags);

    /// A registry client from fully prepared options; `tls` applies to the registry's API host.
    libregistry::remote_registry& open(libregistry::remote_options options,
                                       libregistry::http::host_settings tls);

    libregistry::http::client& client() { return *client_; }

    /// Runs `task` to completion on the io_context and returns its value.
    int run(std::function<boost::asio::awaitable<int>()> task);

private:
    boost::asio::io_context io_;
    std::map<std::string, libregistry::http::host_settings, std::less<>> hosts_;
    std::unique_ptr<libregistry::http::client> client_;
    std::vector<std::unique_ptr<libregistry::remote_registry>> registries_;
    int retry_times_;
};

/// Parses a reference given on the command line (`docker://` optional); throws usage_error naming `what`.
libregistry::reference parse_cli_reference(const std::string& text, const std::string& what);

} // namespace syncer
