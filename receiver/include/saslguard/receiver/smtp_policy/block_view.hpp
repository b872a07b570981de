#pragma once
// What the policy service asks about blocks: "is this SASL login / client IP
// blocked right now?". The receiver records blocks (Telegram button, auto
// mode, saslguardctl) and implements BlockView, so a block is refused by the
// very next policy request, without waiting for postmap.
//
// Canonical forms, one for everybody:
//   login: the SASL username with ASCII letters lowercased (canonical_login), as
//          Postfix's hash:/lmdb: maps fold keys for check_sasl_access; nothing
//          else is changed (no realm added or stripped).
//   IP:    inet_ntop's text of the address (validate::canonical_ip).
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace saslguard::receiver::smtp_policy {

std::string canonical_login(std::string_view login);
// The same into a caller-owned buffer (no allocation once it has capacity).
void canonical_login(std::string_view login, std::string& out);

class BlockView {
public:
    virtual ~BlockView() = default;
    // Called on the policy service's thread for every request that has a login
    // (resp. a client address), with the canonical form. Must answer from
    // memory: lock-free or under a lock held only for a lookup; never I/O, the
    // database or a lock a slow thread may hold. Must not throw.
    virtual bool login_blocked(std::string_view canonical_login) const = 0;
    virtual bool client_blocked(std::string_view canonical_ip) const = 0;
};

// A ready BlockView: two sets in an immutable snapshot, replaced whole on
// every change (copy on write). A reader holds a lock only to copy the
// snapshot pointer (a few tens of nanoseconds), never while a writer copies or
// changes a set; a writer copies the set, which is fine for the hundreds of
// blocks an admin keeps. The receiver can fill it from its blocks table at
// start and on every block/unblock. (Not std::atomic<std::shared_ptr>: GCC 12's
// lock-bit implementation is invisible to ThreadSanitizer, which then reports
// races that hide real ones.)
class BlockSet final : public BlockView {
public:
    BlockSet();
    ~BlockSet() override;

    bool login_blocked(std::string_view canonical_login) const override;
    bool client_blocked(std::string_view canonical_ip) const override;

    // Inputs are canonicalised here; an invalid IP is refused (returns false).
    // Each returns whether the set changed.
    bool block_login(std::string_view login);
    bool unblock_login(std::string_view login);
    bool block_client(std::string_view ip);
    bool unblock_client(std::string_view ip);
    // Replaces everything (e.g. after reading the store); invalid IPs are skipped
    // and counted in the return value.
    std::size_t replace(const std::vector<std::string>& logins,
                        const std::vector<std::string>& ips);

    std::size_t login_count() const;
    std::size_t client_count() const;

private:
    struct Snapshot;
    template <class F>
    bool update(F&& change);
    std::shared_ptr<const Snapshot> current() const;
    void publish(std::shared_ptr<const Snapshot> next);

    std::mutex m_write;         // writers only: one copy-and-change at a time
    mutable std::mutex m_read;  // guards m_snapshot (the pointer, not the sets)
    std::shared_ptr<const Snapshot> m_snapshot;
};

}  // namespace saslguard::receiver::smtp_policy
