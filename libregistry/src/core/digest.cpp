#include "libregistry/core/digest.hpp"

#include <openssl/evp.h>

#include <cassert>
#include <new>
#include <stdexcept>
#include <utility>

namespace libregistry {
namespace {

constexpr std::size_t hex_length(std::string_view algorithm) noexcept {
    if (algorithm == "sha256") return 64;
    if (algorithm == "sha512") return 128;
    return 0;
}

const EVP_MD* evp_for(std::string_view algorithm) {
    if (algorithm == "sha256") return EVP_sha256();
    if (algorithm == "sha512") return EVP_sha512();
    throw std::invalid_argument("unsupported digest algorithm \"" + std::string(algorithm) + "\"");
}

error invalid(std::string_view text, std::string_view why) {
    return make_error(errc::invalid_digest,
                      "invalid digest \"" + std::string(text) + "\": " + std::string(why));
}

} // namespace

result<digest> digest::parse(std::string_view text) {
    if (text.empty()) return invalid(text, "empty");
    const auto colon = text.find(':');
    if (colon == std::string_view::npos)
        return invalid(text, "missing ':' between algorithm and hex value (expected sha256:<hex>)");
    const auto algorithm = text.substr(0, colon);
    const auto encoded = text.substr(colon + 1);
    if (algorithm.empty()) return invalid(text, "missing algorithm before ':'");
    const auto want = hex_length(algorithm);
    if (want == 0)
        return invalid(text, "unsupported algorithm \"" + std::string(algorithm) +
                                 "\" (expected sha256 or sha512)");
    for (std::size_t i = 0; i < encoded.size(); ++i) {
        const char c = encoded[i];
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) continue;
        const bool upper = c >= 'A' && c <= 'F';
        return invalid(text, "character '" + std::string(1, c) + "' at position " +
                                 std::to_string(colon + 1 + i) +
                                 (upper ? " is uppercase (hex must be lowercase)" : " is not a hex digit"));
    }
    if (encoded.size() != want)
        return invalid(text, std::string(algorithm) + " needs " + std::to_string(want) +
                                 " hex characters, got " + std::to_string(encoded.size()));
    digest d;
    d.text_ = std::string(text);
    return d;
}

std::string_view digest::algorithm() const noexcept {
    const std::string_view text = text_;
    return text.substr(0, text.find(':'));
}

std::string_view digest::encoded() const noexcept {
    const std::string_view text = text_;
    const auto colon = text.find(':');
    return colon == std::string_view::npos ? std::string_view{} : text.substr(colon + 1);
}

struct digester::impl {
    std::string algorithm;
    EVP_MD_CTX* ctx = nullptr;

    ~impl() { EVP_MD_CTX_free(ctx); }
};

digester::digester(std::string_view algorithm) : impl_(std::make_unique<impl>()) {
    const EVP_MD* md = evp_for(algorithm);
    impl_->algorithm = std::string(algorithm);
    impl_->ctx = EVP_MD_CTX_new();
    if (impl_->ctx == nullptr || EVP_DigestInit_ex(impl_->ctx, md, nullptr) != 1) throw std::bad_alloc();
}

digester::digester(digester&&) noexcept = default;
digester& digester::operator=(digester&&) noexcept = default;
digester::~digester() = default;

void digester::update(const void* data, std::size_t size) {
    assert(impl_ && impl_->ctx && "digester used after finish() or move");
    if (size == 0) return;
    if (EVP_DigestUpdate(impl_->ctx, data, size) != 1) throw std::runtime_error("EVP_DigestUpdate failed");
}

digest digester::finish() {
    assert(impl_ && impl_->ctx && "digester::finish() called twice or after move");
    unsigned char raw[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_DigestFinal_ex(impl_->ctx, raw, &length) != 1)
        throw std::runtime_error("EVP_DigestFinal_ex failed");
    EVP_MD_CTX_free(std::exchange(impl_->ctx, nullptr));

    static constexpr char hex[] = "0123456789abcdef";
    std::string text = impl_->algorithm;
    text.reserve(text.size() + 1 + 2 * length);
    text += ':';
    for (unsigned int i = 0; i < length; ++i) {
        text += hex[raw[i] >> 4];
        text += hex[raw[i] & 0xf];
    }
    return digest::parse(text).value();
}

digest digest_of(std::string_view bytes, std::string_view algorithm) {
    digester d(algorithm);
    d.update(bytes);
    return d.finish();
}

} // namespace libregistry
