#pragma once
// Blobs of one source repository to the targets of a copy: one target at a time (copy_to), or one download
// shared by targets on several registries (fan_out).
#include "libregistry/sync/blob_ledger.hpp"
#include "libregistry/sync/copy.hpp"

#include "sync/detail/target.hpp"

#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string>
#include <vector>

namespace libregistry::detail {

class blob_copier {
public:
    blob_copier(registry& source, std::string source_repository, const copy_options& options,
                blob_ledger& ledger)
        : source_(source), source_repository_(std::move(source_repository)), options_(options),
          ledger_(ledger) {}

    /// One blob to one target: skip it if the repository has it, mount it if another repository of the
    /// registry holds it (the source's, when both are one registry, or one this run copied it to), else
    /// stream it across. Transfers of one blob into one registry are serialised (blob_ledger::claim), so
    /// concurrent copies that share a layer send it once and mount it everywhere else.
    boost::asio::awaitable<result<void>> copy_to(target& t, descriptor desc);

    /// Targets on different registries that all lack the blob share one download (tee.hpp); a target whose
    /// upload fails then retries alone. Failures are recorded on the targets.
    boost::asio::awaitable<void> fan_out(descriptor desc, std::vector<target*> primaries);

private:
    bool stopping() const { return options_.stop.stop_requested(); }
    boost::asio::awaitable<std::optional<blob_ledger::lease>> claim(target& t, descriptor desc);
    std::optional<std::string> mount_source(target& t, const descriptor& desc) const;
    /// send() until it succeeds or retry_transfer says stop.
    boost::asio::awaitable<result<void>> transfer(target& t, descriptor desc,
                                                  std::optional<std::string> mount_from);
    /// One try: HEAD and POST, then the download streamed into the upload.
    boost::asio::awaitable<result<void>> send(target& t, descriptor desc,
                                              std::optional<std::string> mount_from);
    /// After a HEAD found the blob missing: POST (no mount) and the source GET at once, then the upload.
    boost::asio::awaitable<result<void>> open_both(target& t, descriptor desc);
    boost::asio::awaitable<result<std::optional<upload_session>>>
    prepare(target& t, descriptor desc, std::optional<std::string> mount_from);
    boost::asio::awaitable<result<void>> upload(target& t, upload_session session, descriptor desc,
                                                blob_reader& reader);

    registry& source_;
    std::string source_repository_;
    const copy_options& options_;
    blob_ledger& ledger_;
};

} // namespace libregistry::detail
