#pragma once
// Blocks fleet-wide through Postfix itself (issue #18, docs/fleet.md): this
// host's blocked logins and client addresses, published into one PostgreSQL
// table that every host's Postfix reads with `check_sasl_access
// proxy:pgsql:…` / `check_client_access proxy:pgsql:…`. A block recorded once
// (by a button, auto mode, saslguardctl or expiry, on any host) then refuses
// the account on every host within a second, with no file to copy.
//
// ActiveBlocks stays the truth of this host; SharedBlocks mirrors it: on every
// change (and at start) it replaces this host's rows in one transaction, so a
// restart, a missed change or a PostgreSQL outage heals by the next
// publication. PostgreSQL down never stops the receiver: local maps still
// block on this host, the failure is logged once per outage, and publication
// is retried every `retry` until it succeeds.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "saslguard/common/result.hpp"
#include "saslguard/receiver/mitigation/active_blocks.hpp"

namespace saslguard::receiver::fleet {

struct SharedBlocksSettings {
    std::string conninfo;  // libpq connection string (from fleet.conninfo_file)
    std::string host;      // this host's name in the rows
    std::string login_action = "REJECT 5.7.1 account blocked by saslguard";
    std::string ip_action = "REJECT 5.7.1 client address blocked by saslguard";
    std::chrono::milliseconds retry{2000};
};

// The table (created when missing) and the queries Postfix's pgsql lookup
// files use; docs/fleet.md shows them as they are here.
std::string schema_sql();
std::string postfix_login_query();
std::string postfix_ip_query();

// A row of saslguard_blocks, whichever host published it (/blocked in a fleet).
struct FleetBlock {
    std::string kind;  // login | ip
    std::string target;
    std::string host;
    std::int64_t since_ms = 0;
    std::optional<std::int64_t> expires_at_ms;
};
// The blocks in force on every host (expired rows left out), newest first, at
// most `limit`, on a connection of its own (a command is rare). Fails when
// PostgreSQL does not answer.
Result<std::vector<FleetBlock>> read_fleet_blocks(const std::string& conninfo, std::size_t limit);

class SharedBlocks {
public:
    SharedBlocks(SharedBlocksSettings settings, mitigation::ActiveBlocks& blocks);
    ~SharedBlocks();
    SharedBlocks(const SharedBlocks&) = delete;
    SharedBlocks& operator=(const SharedBlocks&) = delete;

    void start();  // publishes now, then on every change, on a thread of its own
    void stop();

    // Successful publications so far, and whether the last attempt succeeded.
    std::uint64_t publications() const { return m_published.load(); }
    bool healthy() const { return m_healthy.load(); }

private:
    struct Connection;
    bool publish(const std::vector<mitigation::BlockRecord>& blocks, std::string& error);
    void run();

    SharedBlocksSettings m_settings;
    mitigation::ActiveBlocks& m_blocks;
    std::size_t m_subscription = 0;
    std::unique_ptr<Connection> m_conn;
    std::mutex m_mutex;
    std::condition_variable m_cv;
    bool m_changed = true;
    bool m_stop = false;
    std::atomic<std::uint64_t> m_published{0};
    std::atomic<bool> m_healthy{false};
    std::thread m_thread;
};

}  // namespace saslguard::receiver::fleet
