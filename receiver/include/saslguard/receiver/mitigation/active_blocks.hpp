#pragma once
// What is in force now: the one place the receiver reads blocks from. It is a
// view of the `blocks` table (the store's MitigationRepository owns the rows):
// loaded at start, updated by the Mitigator right after each action commits,
// and re-read every few seconds so that changes made by another process
// (saslguardctl) show up too. The Telegram bot renders Undo buttons and
// /blocked from it, /metrics counts it, and an in-process reader (the SMTP
// policy service) asks is_blocked() in O(log n) or keeps a copy and watches
// generation().
//
// Keys have one form, the one the Mitigator stores and Postfix's maps use:
// logins (kinds login, hold, account) lowercase (validate::canonical_login),
// addresses (kind ip) in canonical text (validate::canonical_ip: lowercase
// IPv6, an IPv4-mapped address as IPv4). find()/is_blocked() bring their
// argument to that form first, so a reader may ask with the login or address
// as it saw it (the SMTP policy service compares exactly this way); a value
// that is not a valid key is never blocked. canonical_block_target() is that
// rule, for a reader that keeps its own copy.
//
// Thread-safe: readers take a shared lock; listeners are called after the
// change is visible, on the thread that made it (the worker, the Telegram
// poller, the expiry or watch thread), and must not block.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "saslguard/common/result.hpp"
#include "saslguard/receiver/store/state_store.hpp"

namespace saslguard::receiver::mitigation {

using store::BlockRecord;

// One change of what is in force.
struct BlockChange {
    std::vector<BlockRecord> added;    // put in force (or refreshed: a new action, a new expiry)
    std::vector<BlockRecord> removed;  // lifted
    // The action that made the change; 0 when the change was found by refresh().
    std::int64_t action_id = 0;
    std::string actor;  // auto | telegram:<id> | cli:<user> | expiry ("" when found by refresh)
    std::int64_t incident_id = 0;
};

// `target` in the one form of keys of `kind` (see above); nullopt when it is
// not a valid login / address.
std::optional<std::string> canonical_block_target(std::string_view kind, std::string_view target);

class ActiveBlocks {
public:
    using Listener = std::function<void(const BlockChange&)>;

    // `session` (may be null: tests) is what refresh() reads.
    explicit ActiveBlocks(std::unique_ptr<store::Session> session = nullptr);
    ~ActiveBlocks();
    ActiveBlocks(const ActiveBlocks&) = delete;
    ActiveBlocks& operator=(const ActiveBlocks&) = delete;

    // --- reading -------------------------------------------------------------
    std::vector<BlockRecord> snapshot() const;  // ordered by kind, target
    std::optional<BlockRecord> find(std::string_view kind, std::string_view target) const;
    bool is_blocked(std::string_view kind, std::string_view target) const;
    bool login_blocked(std::string_view login) const { return is_blocked("login", login); }
    bool ip_blocked(std::string_view ip) const { return is_blocked("ip", ip); }
    // Moves on every change: a cheap "did anything change since I looked".
    std::uint64_t generation() const { return m_generation.load(); }

    // --- being told ---------------------------------------------------------------
    // Returns a handle for unsubscribe().
    std::size_t subscribe(Listener listener);
    void unsubscribe(std::size_t handle);

    // --- changing (the Mitigator, after its commit) -----------------------------
    void apply(const BlockChange& change);
    // Re-reads the table; a difference becomes a change (actor "") for listeners.
    Result<void> refresh();
    // refresh() every `interval` on a thread of its own until the object goes.
    void watch(std::chrono::milliseconds interval = std::chrono::seconds(2));

private:
    using Key = std::pair<std::string, std::string>;  // kind, target
    void notify(const BlockChange& change);

    std::unique_ptr<store::Session> m_session;
    std::mutex m_refresh_mutex;  // one refresh at a time (the session is one connection)
    mutable std::shared_mutex m_mutex;
    std::map<Key, BlockRecord, std::less<>> m_blocks;
    std::atomic<std::uint64_t> m_generation{0};
    std::mutex m_listeners_mutex;
    std::vector<std::pair<std::size_t, Listener>> m_listeners;
    std::size_t m_next_handle = 1;
    std::thread m_watch;
    std::mutex m_watch_mutex;
    std::condition_variable m_watch_cv;
    bool m_stopping = false;
};

}  // namespace saslguard::receiver::mitigation
