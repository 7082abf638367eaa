#pragma once
// What one run has put where, shared by the copies of that run (copy_options::ledger): which repositories of
// each destination registry hold a blob, so later copies mount it instead of sending it again, and which blob
// transfers are in flight, so concurrent copies that need the same blob wait for it rather than send it
// twice.
#include "libregistry/core/digest.hpp"

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace libregistry {

class blob_ledger {
public:
    blob_ledger();
    ~blob_ledger();
    blob_ledger(const blob_ledger&) = delete;
    blob_ledger& operator=(const blob_ledger&) = delete;

    /// A repository of `registry` other than `except` known to hold `d`.
    std::optional<std::string> holder(std::string_view registry, const digest& d,
                                      std::string_view except) const;
    bool holds(std::string_view registry, std::string_view repository, const digest& d) const;
    void record(std::string_view registry, std::string_view repository, const digest& d);

    /// The right to send one blob into one registry. arrived() records the blob in the lease's repository;
    /// a lease dropped without it stands for a failed transfer. Either way the copies waiting for it wake and
    /// look at the ledger again.
    class lease {
    public:
        lease(lease&&) noexcept;
        lease(const lease&) = delete;
        lease& operator=(const lease&) = delete;
        lease& operator=(lease&&) = delete;
        ~lease();

        void arrived();

    private:
        friend class blob_ledger;
        struct state;
        explicit lease(std::unique_ptr<state> s);
        std::unique_ptr<state> state_;
    };

    /// Waits while another copy sends `d` into `registry` (one transfer of a blob's bytes into a registry at
    /// a time), then claims the transfer for `repository`: nullopt when the ledger says the repository has it
    /// by then. Once another repository of the registry holds `d`, claims do not wait for each other: each is
    /// a mount, which sends no bytes.
    boost::asio::awaitable<std::optional<lease>> claim(std::string registry, std::string repository,
                                                       digest d);

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace libregistry
