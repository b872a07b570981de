#pragma once
// The fleet's coordination through PostgreSQL (issue #18, docs/fleet.md):
//
//   TelegramFront  one receiver of the fleet polls the bot: the one holding a
//                  session-level advisory lock on a connection of its own. The
//                  getUpdates offset and the handled update ids are rows in
//                  PostgreSQL, so whoever polls next continues where the last
//                  one stopped. A button press becomes a request row addressed
//                  to the host named in its callback_data; that host's receiver
//                  takes it (pending → running, once) and handles it like a
//                  press of its own.
//   AlertClaims    one alert (fingerprint + startsAt) is one incident fleet-wide:
//                  a row per alert names the receiver that owns it.
//
// Exactly-once handling of a press across a takeover: the poller records the
// update id (unique), moves the offset past it and inserts the request row in
// ONE PostgreSQL transaction, before anything acts. A second poller (a takeover,
// or two for a moment) that gets the same update finds the id and skips it; a
// poller that dies before the commit leaves the offset where it was, and the
// next poller gets the update again from Telegram. The request then reaches its
// host at least once (a row stuck in `running` by a crash is taken again by the
// same host at its start), and the host's own store records the update id in
// the transaction that claims the button (as for a single host), so a second
// delivery finds it handled: at least once + idempotent = exactly once.
// Commands are claimed in PostgreSQL before they run (at most once: a crash
// right after the claim loses the reply, never repeats a /block).
//
// Nothing here throws; PostgreSQL down is an error the caller reports (the
// poller stops polling, the intake answers 5xx) and recovery is automatic.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "saslguard/common/result.hpp"
#include "saslguard/receiver/incident.hpp"

namespace saslguard::receiver::fleet {

// Every coordination table (CREATE TABLE IF NOT EXISTS, run at connection under
// a transaction-level advisory lock so that receivers starting together do not
// race); docs/fleet.md shows them.
std::string coordination_schema_sql();

struct CoordinationSettings {
    std::string conninfo;  // libpq connection string (fleet.conninfo_file)
    std::string host;      // this receiver's host (fleet.host_name)
    // How often a receiver without the lock tries to take it, the holder checks
    // its lock connection, and hosts take their requests when no NOTIFY came.
    std::chrono::milliseconds retry{2000};
    // A press its host has not taken after this long is reported in the chat
    // by the poller, once (the host's receiver is down or cut off); the row
    // stays pending and runs when the host is back (docs/fleet.md).
    std::chrono::seconds late_after{30};
    // Retention of the coordination rows, pruned by the poller in batches of
    // prune_batch: requests done or failed, alert owners and hosts not seen
    // for `retention`; handled update ids below the offset after
    // `updates_retention` (Telegram keeps an update 24 h: older ids cannot
    // come back). docs/fleet.md "Retention".
    std::chrono::hours retention{24 * 30};
    std::chrono::hours updates_retention{48};
    int prune_batch = 500;
};

// A press its host has not taken within late_after (reported once).
struct LateRequest {
    std::int64_t id = 0;
    std::string host;
    std::string payload_json;
    // Seconds since the host's last heartbeat; nullopt: no receiver of the
    // fleet has that name (the request is then failed, never to run).
    std::optional<std::int64_t> host_silent_for;
};

// A press addressed to this host (saslguard_fleet_requests).
struct HostRequest {
    std::int64_t id = 0;
    std::int64_t update_id = 0;
    std::string payload_json;  // the update as the Bot API sent it (one callback_query)
    std::string pressed_by;
    std::string forwarded_by;  // the receiver that polled it
};

// What the bot's poller uses of the fleet (a fake in unit tests).
class TelegramFront {
public:
    virtual ~TelegramFront() = default;
    virtual const std::string& host() const = 0;
    // This receiver holds the poller lock now (false while PostgreSQL is away).
    virtual bool leading() const = 0;
    virtual Result<std::int64_t> offset() = 0;
    // Moves the offset forward (never back) without recording an update.
    virtual Result<void> advance_offset(std::int64_t next) = 0;
    // Records update_id handled by this poller and moves the offset past it;
    // false when it was handled before (by anyone).
    virtual Result<bool> claim_update(std::int64_t update_id, std::string_view kind) = 0;
    // claim_update() and a request row for `host`, in one transaction (see above).
    virtual Result<bool> forward_press(std::int64_t update_id, std::string_view host,
                                       std::int64_t incident_id, std::string_view pressed_by,
                                       std::string_view payload_json) = 0;
    // The oldest pending request for this host, now `running` (claimed once:
    // UPDATE … WHERE state = 'pending' … FOR UPDATE SKIP LOCKED RETURNING).
    virtual Result<std::optional<HostRequest>> take_request() = 0;
    virtual Result<void> finish_request(std::int64_t id, bool ok, std::string_view result) = 0;
    // Returns when a request may be waiting for this host, or after `max`.
    virtual void wait_for_request(std::chrono::milliseconds max) = 0;
    // Requests pending for longer than late_after and not reported yet, now
    // marked reported (once, whoever asks); those addressed to a host that is
    // no receiver of the fleet are failed at the same time.
    virtual Result<std::vector<LateRequest>> report_late_requests() = 0;
    // Deletes coordination rows past their retention (CoordinationSettings), in
    // batches; the number of rows deleted.
    virtual Result<std::int64_t> prune() = 0;
};

class PgTelegramFront final : public TelegramFront {
public:
    explicit PgTelegramFront(CoordinationSettings settings);
    ~PgTelegramFront() override;
    PgTelegramFront(const PgTelegramFront&) = delete;
    PgTelegramFront& operator=(const PgTelegramFront&) = delete;

    // Starts the election thread (lock, heartbeat, LISTEN). Requests this host
    // left `running` (a crash) become pending again at the first connection.
    void start();
    void stop();  // the lock is released with its connection

    const std::string& host() const override { return m_settings.host; }
    bool leading() const override { return m_leading.load(); }
    Result<std::int64_t> offset() override;
    Result<void> advance_offset(std::int64_t next) override;
    Result<bool> claim_update(std::int64_t update_id, std::string_view kind) override;
    Result<bool> forward_press(std::int64_t update_id, std::string_view host,
                               std::int64_t incident_id, std::string_view pressed_by,
                               std::string_view payload_json) override;
    Result<std::optional<HostRequest>> take_request() override;
    Result<void> finish_request(std::int64_t id, bool ok, std::string_view result) override;
    void wait_for_request(std::chrono::milliseconds max) override;
    Result<std::vector<LateRequest>> report_late_requests() override;
    Result<std::int64_t> prune() override;

private:
    struct Impl;
    void run();
    void wake_requests();

    CoordinationSettings m_settings;
    std::unique_ptr<Impl> m_impl;
    std::atomic<bool> m_leading{false};
    std::mutex m_mutex;  // m_stop, m_request_wake
    std::condition_variable m_cv;
    bool m_stop = false;
    bool m_request_wake = false;
    std::thread m_thread;
};

// Fleet-wide deduplication of Alertmanager webhooks. Decision (docs/fleet.md):
// an alert that names a host of the fleet (its `host` label, else the host
// part of its `instance` label, matching a receiver's fleet.host_name seen in
// the last minutes) belongs to that host's receiver, because its queue and its
// accounts are there; an alert that names none belongs to the first receiver
// that stores it. Either way the owner is written once (primary key on
// fingerprint + startsAt) and every later delivery, to any receiver, reads it.
class AlertClaims {
public:
    explicit AlertClaims(CoordinationSettings settings);
    ~AlertClaims();
    // The alerts of the payload this receiver owns (the others are another
    // receiver's, which gets the same webhook). Fails when PostgreSQL cannot
    // answer: the intake then answers 5xx and Alertmanager retries. Thread-safe.
    Result<WebhookPayload> mine(const WebhookPayload& payload);
    // The host an alert names, "" when none (exposed for tests).
    static std::string named_host(const Alert& alert);

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

// Who polls the bot and the receivers seen in the last 10 minutes (/status in
// a fleet), on a connection of its own. Fails when PostgreSQL does not answer.
struct FleetView {
    std::string poller;                                       // "" when nobody holds the lock
    std::vector<std::pair<std::string, std::int64_t>> hosts;  // name, seconds since its heartbeat
};
Result<FleetView> read_fleet_view(const std::string& conninfo);

// callback_data of a fleet button: "<host>/<incident>/<token>", at most 64
// bytes (Telegram's limit; the host name is at most 30 characters when
// fleet.coordinate is on). A bare token (a single host) has no host.
struct CallbackAddress {
    std::string host;  // "" when the data names none
    std::int64_t incident_id = 0;
    std::string token;
};
std::string callback_data(std::string_view host, std::int64_t incident_id, std::string_view token);
CallbackAddress parse_callback_data(std::string_view data);

}  // namespace saslguard::receiver::fleet
