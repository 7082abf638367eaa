#include "libregistry/core/error.hpp"

#include <array>
#include <ostream>
#include <stdexcept>
#include <utility>

namespace libregistry {
namespace {

struct code_name {
    errc code;
    std::string_view oci; ///< the distribution-spec code, or "" for syncer's own
    std::string_view text;
};

constexpr std::array code_names{
    code_name{errc::blob_unknown, "BLOB_UNKNOWN", "blob unknown to registry"},
    code_name{errc::blob_upload_invalid, "BLOB_UPLOAD_INVALID", "blob upload invalid"},
    code_name{errc::blob_upload_unknown, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry"},
    code_name{errc::digest_invalid, "DIGEST_INVALID", "provided digest did not match uploaded content"},
    code_name{errc::manifest_blob_unknown, "MANIFEST_BLOB_UNKNOWN", "manifest references an unknown blob"},
    code_name{errc::manifest_invalid, "MANIFEST_INVALID", "manifest invalid"},
    code_name{errc::manifest_unknown, "MANIFEST_UNKNOWN", "manifest unknown"},
    code_name{errc::name_invalid, "NAME_INVALID", "invalid repository name"},
    code_name{errc::name_unknown, "NAME_UNKNOWN", "repository name not known to registry"},
    code_name{errc::size_invalid, "SIZE_INVALID", "provided length did not match content length"},
    code_name{errc::unauthorized, "UNAUTHORIZED", "authentication required"},
    code_name{errc::denied, "DENIED", "requested access to the resource is denied"},
    code_name{errc::unsupported, "UNSUPPORTED", "the operation is unsupported"},
    code_name{errc::too_many_requests, "TOOMANYREQUESTS", "too many requests"},
    code_name{errc::invalid_reference, "", "invalid image reference"},
    code_name{errc::invalid_digest, "", "invalid digest"},
    code_name{errc::invalid_manifest, "", "invalid manifest"},
    code_name{errc::unsupported_media_type, "", "unsupported media type"},
    code_name{errc::digest_mismatch, "", "content does not match its digest"},
    code_name{errc::size_mismatch, "", "content does not match its size"},
    code_name{errc::too_large, "", "response too large"},
    code_name{errc::not_found, "", "not found"},
    code_name{errc::server_error, "", "registry server error"},
    code_name{errc::bad_response, "", "unexpected response from registry"},
    code_name{errc::connection_failed, "", "connection failed"},
    code_name{errc::timeout, "", "timed out"},
    code_name{errc::tls_error, "", "TLS error"},
    code_name{errc::proxy_error, "", "proxy error"},
    code_name{errc::too_many_redirects, "", "too many redirects"},
    code_name{errc::insecure_refused, "", "refused to use plain HTTP"},
    code_name{errc::credentials_error, "", "credentials error"},
    code_name{errc::invalid_argument, "", "invalid argument"},
    code_name{errc::cancelled, "", "cancelled"},
    code_name{errc::platform_mismatch, "", "no platform matches the filter"},
    code_name{errc::io_error, "", "file system error"},
    code_name{errc::invalid_archive, "", "malformed or unsafe image layout or archive"},
    code_name{errc::busy, "", "in use by another writer"},
};

class category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "libregistry"; }
    std::string message(int ev) const override {
        for (const auto& entry : code_names)
            if (static_cast<int>(entry.code) == ev) return std::string(entry.text);
        return "unknown libregistry error";
    }
};

} // namespace

const boost::system::error_category& registry_category() noexcept {
    static const category instance;
    return instance;
}

boost::system::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), registry_category()};
}

std::optional<errc> errc_from_oci_code(std::string_view code) noexcept {
    for (const auto& entry : code_names)
        if (!entry.oci.empty() && entry.oci == code) return entry.code;
    return std::nullopt;
}

bool is_retryable(boost::system::error_code ec) noexcept {
    if (ec.category() != registry_category()) return false;
    switch (static_cast<errc>(ec.value())) {
    case errc::too_many_requests:
    case errc::server_error:
    case errc::connection_failed:
    case errc::timeout:
    case errc::proxy_error:
    // A blob upload the registry lost track of, or a body cut short, succeeds when started over.
    case errc::blob_upload_unknown:
    case errc::size_mismatch:
        return true;
    default:
        return false;
    }
}

error make_error(errc code, std::string message, int http_status) {
    return error{make_error_code(code), std::move(message), http_status, std::nullopt};
}

std::ostream& operator<<(std::ostream& os, const error& e) {
    return os << (e.message.empty() ? e.code.message() : e.message);
}

void throw_exception_from_error(const error& e, const boost::source_location&) {
    throw std::runtime_error(e.message.empty() ? e.code.message() : e.message);
}

} // namespace libregistry
