// blob_copier::fan_out: one download of a blob streamed to targets on several registries at once.
#include "sync/detail/blob_copier.hpp"
#include "sync/detail/tee.hpp"

#include "client/detail/for_each_bounded.hpp"

#include <boost/asio/this_coro.hpp>

#include <algorithm>
#include <functional>

namespace libregistry::detail {

namespace asio = boost::asio;

namespace {

// Chunks of the shared download held in memory at once: one.
constexpr std::size_t tee_chunk_size = 256 * 1024;

} // namespace

asio::awaitable<void> blob_copier::fan_out(descriptor desc, std::vector<target*> primaries) {
    struct lane {
        target* t;
        std::optional<blob_ledger::lease> lease;
        std::optional<std::string> mount_from;
        std::optional<upload_session> session;
        std::optional<error> failure;
    };
    std::vector<lane> lanes;
    for (auto* t : primaries) {
        auto lease = co_await claim(*t, desc);
        if (!lease) {
            ++t->stats.blobs_skipped;
            continue;
        }
        lanes.push_back(lane{t, std::move(lease), mount_source(*t, desc), {}, {}});
    }
    // Permits are taken in target order, the same order everywhere, so two fan-outs cannot deadlock.
    std::vector<semaphore_guard> permits;
    std::vector<lane*> uploading;
    for (auto& l : lanes) {
        co_await l.t->transfers.acquire();
        permits.emplace_back(l.t->transfers);
        if (stopping()) {
            l.failure = stopped("copying blob " + desc.digest.str());
            continue;
        }
        auto prepared = co_await prepare(*l.t, desc, l.mount_from);
        if (!prepared)
            l.failure = prepared.error();
        else if (*prepared) {
            l.session = **prepared;
            uploading.push_back(&l);
        }
    }
    if (!uploading.empty() && stopping()) {
        for (auto* l : uploading) {
            co_await l->t->destination.cancel_upload(*l->session);
            l->failure = stopped("sending blob " + desc.digest.str());
        }
        uploading.clear();
    }
    if (!uploading.empty()) {
        auto reader = co_await source_.get_blob(source_repository_, desc);
        if (!reader) {
            for (auto* l : uploading) {
                co_await l->t->destination.cancel_upload(*l->session);
                l->failure = reader.error();
            }
        } else {
            // Each upload holds its registry's blob permit (sync_runner's limits) while the tee makes it wait
            // for the other lanes; lanes taking permits in whatever order could each hold one registry and
            // wait for another's forever. So permits are taken one lane at a time, in registry name order,
            // the same in every fan-out: a lane starts once the one before it reads, and so holds its permit.
            std::sort(uploading.begin(), uploading.end(), [](const lane* a, const lane* b) {
                return a->t->destination.name() < b->t->destination.name();
            });
            tee shared(**reader, uploading.size(), tee_chunk_size, co_await asio::this_coro::executor);
            std::function<asio::awaitable<void>(std::size_t)> send =
                [&](std::size_t i) -> asio::awaitable<void> {
                if (i > 0) co_await shared.started(i - 1);
                auto r = co_await upload(*uploading[i]->t, *uploading[i]->session, desc, shared.consumer(i));
                shared.detach(i);
                if (!r) uploading[i]->failure = r.error();
            };
            co_await for_each_bounded(uploading.size(), uploading.size(), send);
        }
    }
    permits.clear();
    // The shared transfer is over: its successes are recorded (and their waiters released) first. A lane that
    // failed keeps its lease and gets the ordinary path, with its own download and retries.
    for (auto& l : lanes)
        if (!l.failure) l.lease->arrived();
    for (auto& l : lanes) {
        if (!l.failure) continue;
        auto retry = co_await transfer(*l.t, desc, l.mount_from);
        if (retry)
            l.lease->arrived();
        else
            l.t->fail(retry.error());
        l.lease.reset();
    }
}

} // namespace libregistry::detail
