#pragma once
// Content digests: `algorithm:encoded` per the OCI image-spec "Digests" section. sha256 and sha512 are
// accepted; hashing streams through OpenSSL EVP, so SHA-NI is used where the CPU has it.
#include "libregistry/core/error.hpp"

#include <compare>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace libregistry {

class digest {
public:
    digest() = default;

    /// Parses `sha256:<64 lowercase hex>` or `sha512:<128 lowercase hex>`; the message names the part that is
    /// wrong.
    static result<digest> parse(std::string_view text);

    const std::string& str() const noexcept { return text_; }
    std::string_view algorithm() const noexcept;
    std::string_view encoded() const noexcept;
    bool empty() const noexcept { return text_.empty(); }

    friend bool operator==(const digest&, const digest&) = default;
    friend auto operator<=>(const digest&, const digest&) = default;

private:
    std::string text_;
};

/// Incremental hasher; `finish()` may be called once.
class digester {
public:
    explicit digester(std::string_view algorithm = "sha256");
    digester(digester&&) noexcept;
    digester& operator=(digester&&) noexcept;
    ~digester();

    void update(const void* data, std::size_t size);
    void update(std::string_view bytes) { update(bytes.data(), bytes.size()); }
    digest finish();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

/// Hashes `bytes` with `algorithm` (sha256 unless told otherwise).
digest digest_of(std::string_view bytes, std::string_view algorithm = "sha256");

} // namespace libregistry

template <>
struct std::hash<libregistry::digest> {
    std::size_t operator()(const libregistry::digest& d) const noexcept {
        return std::hash<std::string>{}(d.str());
    }
};
