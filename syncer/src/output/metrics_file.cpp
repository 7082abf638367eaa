// The Prometheus textfile of a run.
#include "output/metrics_file.hpp"
#include "session.hpp"

#include <libregistry/core/redact.hpp>

#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace syncer {

using namespace libregistry;

namespace {

constexpr std::string_view last_success_name = "syncer_last_success_timestamp_seconds";

// HELP and TYPE of one metric; every metric here is a gauge: the file describes the last run, and each run
// replaces it.
void header(std::string& out, std::string_view name, std::string_view help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n", name, help, name);
}

// Numbers without exponent for integers, so that the file reads well and diffs cleanly.
std::string number(double v) {
    return fmt::format("{}", v);
}

std::string dir_of(const std::string& path) {
    auto dir = std::filesystem::path(path).parent_path();
    return dir.empty() ? std::string(".") : dir.string();
}

} // namespace

std::string escape_label_value(std::string_view value) {
    std::string out;
    for (char c : value) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

std::string metrics_text(const run_metrics& m) {
    std::string out;
    const auto& t = m.totals;
    header(out, "syncer_images", "Images of the last run by outcome");
    for (const auto& [status, n] : {std::pair{"copied", t.copied}, std::pair{"skipped", t.skipped},
                                    std::pair{"failed", t.failed}, std::pair{"interrupted", t.interrupted},
                                    std::pair{"excluded", t.excluded}, std::pair{"planned", t.planned}})
        out += fmt::format("syncer_images{{status=\"{}\"}} {}\n", status, n);
    header(out, "syncer_success", "1 if the last run succeeded (no image failed or was interrupted), else 0");
    out += fmt::format("syncer_success {}\n", m.succeeded ? 1 : 0);
    header(out, "syncer_duration_seconds", "How long the last run took");
    out += fmt::format("syncer_duration_seconds {:.3f}\n", m.duration_seconds);
    header(out, "syncer_last_run_timestamp_seconds", "When the last run ended, Unix time");
    out += fmt::format("syncer_last_run_timestamp_seconds {}\n", number(m.finished_at));
    if (m.last_success) {
        header(out, last_success_name, "When the last successful run ended, Unix time");
        out += fmt::format("{} {}\n", last_success_name, number(*m.last_success));
    }
    header(out, "syncer_bytes_sent", "Bytes the last run sent to destination registries");
    out += fmt::format("syncer_bytes_sent {}\n", t.bytes_sent);
    header(out, "syncer_blobs", "Blobs of the last run by how they reached the destination");
    for (const auto& [how, n] :
         {std::pair{"uploaded", t.blobs_uploaded}, std::pair{"mounted", t.blobs_mounted},
          std::pair{"skipped", t.blobs_skipped}})
        out += fmt::format("syncer_blobs{{outcome=\"{}\"}} {}\n", how, n);
    header(out, "syncer_manifests_pushed", "Manifests and indexes the last run pushed");
    out += fmt::format("syncer_manifests_pushed {}\n", t.manifests_pushed);
    header(out, "syncer_referrers",
           "Referrers (signatures, SBOMs, attestations) the last run found and copied");
    out += fmt::format("syncer_referrers{{state=\"found\"}} {}\nsyncer_referrers{{state=\"copied\"}} {}\n",
                       t.referrers_found, t.referrers_copied);
    const std::tuple<std::string_view, std::string_view, std::uint64_t remote_statistics::*> counters[] = {
        {"syncer_registry_requests", "HTTP requests the last run sent to the registry, retries included",
         &remote_statistics::requests},
        {"syncer_registry_retries", "Requests the last run sent again to the registry after a failure",
         &remote_statistics::retries},
        {"syncer_registry_errors",
         "Requests to the registry that failed for good in the last run (after their retries)",
         &remote_statistics::errors},
        {"syncer_registry_connections",
         "Connections the last run's requests to the registry opened (its token service and redirects "
         "included)",
         &remote_statistics::connections},
        {"syncer_registry_tls_handshakes",
         "Full TLS handshakes of the connections the last run opened for the registry",
         &remote_statistics::tls_handshakes},
        {"syncer_registry_tls_resumed",
         "TLS handshakes that resumed a session of an earlier connection, in the last run for the registry",
         &remote_statistics::tls_resumed},
    };
    for (const auto& [name, help, member] : counters) {
        if (m.registries.empty()) break;
        header(out, name, help);
        for (const auto& r : m.registries)
            out += fmt::format("{}{{registry=\"{}\"}} {}\n", name, escape_label_value(r.registry),
                               r.stats.*member);
    }
    bool any_limit = false;
    for (const auto& r : m.registries)
        any_limit = any_limit || r.stats.rate_limit_remaining.has_value();
    if (any_limit) {
        header(out, "syncer_registry_rate_limit_remaining",
               "The last RateLimit-Remaining the registry sent in the last run (pulls left)");
        for (const auto& r : m.registries)
            if (r.stats.rate_limit_remaining)
                out += fmt::format("syncer_registry_rate_limit_remaining{{registry=\"{}\"}} {}\n",
                                   escape_label_value(r.registry), *r.stats.rate_limit_remaining);
    }
    if (!m.concurrency.empty()) {
        using summary = concurrency_summary;
        for (const auto& [name, help, member] :
             {std::tuple{
                  "syncer_registry_concurrency",
                  "Calls into the registry the last run allowed at once at its end (the adaptive limit), "
                  "by kind: metadata requests, blob uploads (blobs) or blob downloads",
                  &summary::final},
              std::tuple{
                  "syncer_registry_concurrency_max",
                  "The highest number of calls into the registry the last run allowed at once, by kind",
                  &summary::max}}) {
            header(out, name, help);
            for (const auto& r : m.concurrency)
                for (const auto& [kind, s] :
                     {std::pair{"metadata", &r.metadata}, std::pair{"blobs", &r.blobs},
                      std::pair{"downloads", &r.downloads}})
                    out += fmt::format("{}{{registry=\"{}\",kind=\"{}\"}} {}\n", name,
                                       escape_label_value(r.registry), kind, s->*member);
        }
    }
    return out;
}

std::optional<double> previous_last_success(std::string_view text) {
    while (!text.empty()) {
        auto nl = text.find('\n');
        auto line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        if (line.size() <= last_success_name.size() + 1 || !line.starts_with(last_success_name) ||
            line[last_success_name.size()] != ' ')
            continue;
        auto value = line.substr(last_success_name.size() + 1);
        double v = 0;
        auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
        if (ec == std::errc() && end == value.data() + value.size() && v > 0) return v;
        return std::nullopt;
    }
    return std::nullopt;
}

run_metrics with_last_success(run_metrics m, const std::string& path) {
    if (m.succeeded) {
        m.last_success = m.finished_at;
        return m;
    }
    std::ifstream in(path);
    if (!in) return m;
    std::ostringstream text;
    text << in.rdbuf();
    m.last_success = previous_last_success(text.str());
    return m;
}

void check_metrics_path(const std::string& path) {
    const auto dir = dir_of(path);
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec))
        throw usage_error(fmt::format("--metrics-file {}: the directory {} does not exist", path, dir));
    if (::access(dir.c_str(), W_OK) != 0)
        throw usage_error(
            fmt::format("--metrics-file {}: cannot write in {}: {}", path, dir, std::strerror(errno)));
}

void write_metrics_file(const std::string& path, const std::string& text) {
    const auto dir = dir_of(path);
    const auto base = std::filesystem::path(path).filename().string();
    std::string temp = dir + "/." + base + ".XXXXXX";
    const int fd = ::mkstemp(temp.data());
    const auto fail = [&](std::string_view step) {
        const int saved = errno;
        return usage_error(fmt::format("--metrics-file {}: {}: {}", path, step, std::strerror(saved)));
    };
    if (fd < 0) throw fail("cannot create a temporary file in " + dir);
    const std::string content = scrub_secrets(text);
    std::size_t written = 0;
    bool ok = ::fchmod(fd, 0644) == 0;
    while (ok && written < content.size()) {
        auto n = ::write(fd, content.data() + written, content.size() - written);
        if (n < 0 && errno == EINTR) continue;
        ok = n > 0;
        if (ok) written += static_cast<std::size_t>(n);
    }
    ok = ok && ::fsync(fd) == 0;
    if (!ok) {
        auto e = fail("writing");
        ::close(fd);
        ::unlink(temp.c_str());
        throw e;
    }
    if (::close(fd) != 0 || ::rename(temp.c_str(), path.c_str()) != 0) {
        auto e = fail("replacing the file");
        ::unlink(temp.c_str());
        throw e;
    }
}

} // namespace syncer
