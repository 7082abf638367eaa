// Stands in for libFuzzer's main when the fuzz targets are built with g++: feeds every regular file named on
// the command line, or found (recursively) under a directory named there, to LLVMFuzzerTestOneInput once.
// ctest uses it to replay each target's seed corpus (fixtures/fuzz/<target>/), so crashes the fuzzer found
// stay fixed without needing clang.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

bool replay(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        std::cerr << "replay: cannot read " << file << '\n';
        return false;
    }
    const std::vector<char> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    // A heap copy of exactly the input's size, so AddressSanitizer catches reads past its end.
    const auto copy = std::make_unique<std::uint8_t[]>(bytes.size());
    std::copy(bytes.begin(), bytes.end(), copy.get());
    LLVMFuzzerTestOneInput(copy.get(), bytes.size());
    return true;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << "usage: " << argv[0] << " FILE|DIR...\n";
        return 2;
    }
    std::size_t count = 0;
    bool ok = true;
    for (int i = 1; i < argc; ++i) {
        const std::filesystem::path arg = argv[i];
        if (std::filesystem::is_directory(arg)) {
            std::vector<std::filesystem::path> files;
            for (const auto& entry : std::filesystem::recursive_directory_iterator(arg))
                if (entry.is_regular_file()) files.push_back(entry.path());
            std::sort(files.begin(), files.end()); // a stable order, so a failure is reproducible
            for (const auto& file : files) {
                ok = replay(file) && ok;
                ++count;
            }
        } else if (std::filesystem::exists(arg)) {
            ok = replay(arg) && ok;
            ++count;
        } else {
            std::cerr << "replay: no such file or directory: " << arg << '\n';
            ok = false;
        }
    }
    std::cout << "replayed " << count << " inputs\n";
    if (count == 0) {
        std::cerr << "replay: no inputs found\n";
        return 1;
    }
    return ok ? 0 : 1;
}
