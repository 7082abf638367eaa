#include "storage/detail/file_blob_reader.hpp"

#include <fmt/format.h>

namespace libregistry::detail {

namespace asio = boost::asio;

namespace {

class file_blob_reader final : public blob_reader {
public:
    file_blob_reader(unique_fd fd, std::filesystem::path path, descriptor desc)
        : fd_(std::move(fd)), path_(std::move(path)), desc_(std::move(desc)),
          hasher_(desc_.digest.algorithm()) {}

    asio::awaitable<result<std::size_t>> read(std::span<std::byte> buffer) override {
        co_return read_sync(buffer);
    }

private:
    result<std::size_t> read_sync(std::span<std::byte> buffer) {
        if (done_) return std::size_t{0};
        auto n = read_some(fd_.get(), buffer, path_);
        if (!n) return n.error();
        offset_ += static_cast<std::int64_t>(*n);
        if (desc_.size >= 0 && offset_ > desc_.size)
            return mismatch(fmt::format("more than {} bytes", desc_.size));
        hasher_.update(buffer.data(), *n);
        if (*n > 0) return *n;
        done_ = true;
        if (desc_.size >= 0 && offset_ != desc_.size)
            return mismatch(fmt::format("{} bytes, not the {} its descriptor says", offset_, desc_.size));
        const auto got = hasher_.finish();
        if (got != desc_.digest) return mismatch("bytes that hash to " + got.str());
        return std::size_t{0};
    }

    error mismatch(std::string_view what) const {
        return make_error(
            errc::digest_mismatch,
            fmt::format("{} holds {} for blob {}: the file is corrupt; copy it again from its source",
                        path_.string(), what, desc_.digest.str()));
    }

    unique_fd fd_;
    std::filesystem::path path_;
    descriptor desc_;
    digester hasher_;
    std::int64_t offset_ = 0;
    bool done_ = false;
};

} // namespace

result<std::unique_ptr<blob_reader>> open_file_blob(const std::filesystem::path& path,
                                                    const descriptor& desc) {
    auto fd = open_regular(path);
    if (!fd) {
        if (fd.error().code == errc::not_found)
            return make_error(
                errc::blob_unknown,
                fmt::format("blob {} is missing: {} does not exist", desc.digest.str(), path.string()), 404);
        return fd.error();
    }
    return std::unique_ptr<blob_reader>(std::make_unique<file_blob_reader>(std::move(*fd), path, desc));
}

} // namespace libregistry::detail
