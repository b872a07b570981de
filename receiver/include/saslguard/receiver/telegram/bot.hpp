#pragma once
// The Telegram bot of saslguard-receiver: two threads of its own.
//   outbox thread  sends telegram_outbox rows (see outbox.hpp)
//   poller thread  long-polls getUpdates, handles button presses (callbacks) and
//                  commands, answers every callback query
// Only configured admin user ids may act; every refusal is recorded
// (telegram_refusals) and counted. A button's callback_data is an opaque token
// into telegram_callbacks: it expires after button_ttl and works once; destructive
// actions (delete mail, lock account) ask for a second, confirming press.
// Exactly-once handling of updates: the update_id and the new offset are committed
// together with the claim of the button (or command) before the action runs, so
// after a restart an update is never handled twice; an action cut short by a crash
// is not retried (its audit record shows what happened).
// stop() returns after the current getUpdates call ends (at most poll_timeout).
//
// In a fleet (BotOptions::front, docs/fleet.md) only the receiver holding the
// poller lock polls; the offset and handled update ids are in PostgreSQL. Every
// press becomes a request row addressed to the host its callback_data names,
// and a third thread, the inbox, takes this host's requests and handles each as
// above (this host's store records the update once, so a request delivered
// twice acts once). Commands are claimed in PostgreSQL first, then handled here.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "saslguard/common/result.hpp"
#include "saslguard/receiver/actions.hpp"
#include "saslguard/receiver/config.hpp"
#include "saslguard/receiver/fleet/coordination.hpp"
#include "saslguard/receiver/mitigation/active_blocks.hpp"
#include "saslguard/receiver/notifier.hpp"
#include "saslguard/receiver/store/state_store.hpp"
#include "saslguard/receiver/telegram/format.hpp"
#include "saslguard/receiver/telegram/outbox.hpp"
#include "saslguard/receiver/telegram/stats.hpp"

namespace saslguard::receiver::telegram {

using store::StateStore;

// What the read-only commands show. The receiver implements it over its store,
// the mitigation's block table and Prometheus; tests use a fake.
struct OpenIncident {
    std::int64_t id = 0;
    std::string alertname;
    std::string username;
    std::int64_t opened_at_ms = 0;
};
struct StatusInfo {
    std::vector<OpenIncident> open_incidents;
    std::int64_t active_blocks = 0;
    std::optional<std::int64_t> queue_depth;
    // Fleet (fleet.coordinate): the receiver that polls the bot and every
    // receiver seen in the last 10 minutes with the seconds since its
    // heartbeat; `fleet` false when not in a fleet or PostgreSQL did not answer
    // (fleet_error says why).
    bool fleet = false;
    std::string poller;
    std::vector<std::pair<std::string, std::int64_t>> fleet_hosts;
    std::string fleet_error;
};
struct UserCount {
    std::string name;
    double count = 0;
};
struct QueueInfo {
    std::optional<std::int64_t> depth;
    std::vector<UserCount> top_senders;
};
struct BlockInfo {
    std::string kind;  // login | ip | hold | account
    std::string target;
    std::string actor;
    std::optional<std::int64_t> expires_at_ms;
    // Fleet (fleet.shared_blocks): the host it is in force on, "" when the list
    // is this receiver's alone. Another host's block has no actor (the shared
    // table does not carry it).
    std::string host{};
};

class CommandBackend {
public:
    virtual ~CommandBackend() = default;
    virtual Result<StatusInfo> status() = 0;
    virtual Result<std::vector<UserCount>> top_users(
        std::size_t n) = 0;  // messages in the recent window
    virtual Result<QueueInfo> queue() = 0;
    virtual Result<std::vector<BlockInfo>> blocked() = 0;
};

// Talks to Alertmanager's API v2 to silence an incident's alert.
// Returns the silence id.
using SilenceFn = std::function<Result<std::string>(
    const std::vector<std::pair<std::string, std::string>>& matchers, std::chrono::seconds duration,
    const std::string& created_by, const std::string& comment)>;
// The real one: POST {alertmanager_url}/api/v2/silences over HttpClient.
SilenceFn alertmanager_silencer(std::string alertmanager_url);

struct BotOptions {
    StateStore* store = nullptr;  // required: the bot opens a session per thread
    // What is in force (null: nothing, e.g. tests without an executor that
    // blocks): Undo buttons render from it, and a change of it re-renders the
    // messages of the incidents it concerns (a block lifted by saslguardctl or
    // by expiry loses its Undo button).
    mitigation::ActiveBlocks* blocks = nullptr;
    OutboxOptions outbox;
    std::chrono::milliseconds idle_poll{
        500};  // pause after an empty, immediate getUpdates (emulators)
    // getUpdates asks for at most this many updates, so that an answer stays far
    // below the response cap (4 MiB) even with long messages.
    int poll_limit = 20;
    // A user who is not an admin is told so at most once per this interval;
    // further refusals are recorded, not answered (a flood must not delay incidents).
    std::chrono::seconds refusal_reply_interval{600};
    // Sent or failed outbox rows and refusals older than this are deleted (and
    // no more than max_refusals refusals are kept), checked every prune_every.
    std::chrono::hours outbox_retention{24 * 7};
    std::chrono::hours refusal_retention{24 * 30};
    std::int64_t max_refusals = 10000;
    std::chrono::minutes prune_every{10};
    std::chrono::seconds confirm_ttl{120};  // how long an "are you sure" button stays valid
    // The fleet's Telegram front (null: this receiver polls alone, state in its store).
    fleet::TelegramFront* front = nullptr;
    Clock now = wall_clock_ms;
};

struct BotContext;
class UpdateHandler;
struct Update;

class TelegramBot {
public:
    TelegramBot(TelegramConfig config, BotOptions options, ActionExecutor& executor,
                CommandBackend& backend, SilenceFn silencer);
    ~TelegramBot();
    TelegramBot(const TelegramBot&) = delete;
    TelegramBot& operator=(const TelegramBot&) = delete;

    // Opens the threads' store connections and starts both threads.
    Result<void> start();
    void stop();
    // Wakes the outbox thread (a row was queued by another thread).
    void wake_outbox();
    const mitigation::ActiveBlocks* blocks() const { return m_options.blocks; }

    TelegramStats& stats() { return m_stats; }

    // One getUpdates round and the handling of what it returned (tests drive this).
    Result<int> poll_once(store::Session& session, BotApi& api);

private:
    void outbox_loop();
    // Re-renders the messages of the incidents the queued block changes concern.
    void refresh_for_block_changes(store::Session& session);
    void poll_loop();
    // Fleet: this host's requests (presses polled by any receiver of the fleet).
    void inbox_loop();
    // Fleet: one polled update claimed in PostgreSQL, then forwarded or handled.
    Result<void> route(UpdateHandler& handler, const Update& u);
    // Deletes old outbox rows and refusals (BotOptions::*_retention), every prune_every.
    void prune(store::Session& session);
    // Fleet, while this receiver polls: tells the chat about presses their host
    // has not taken (fleet::TelegramFront::report_late_requests, every few
    // seconds) and prunes the coordination tables (every prune_every).
    void fleet_housekeeping(BotApi& api);
    // An answer to getUpdates that cannot be read: fetched again one update at a
    // time, then the update is skipped (see poll_once).
    Result<int> unreadable_answer(store::Session& session, std::int64_t offset,
                                  const std::string& why);
    bool wait_for(std::chrono::milliseconds d, bool outbox);

    TelegramConfig m_config;
    BotOptions m_options;
    ActionExecutor& m_executor;
    CommandBackend& m_backend;
    SilenceFn m_silencer;
    TelegramStats m_stats;
    std::unique_ptr<BotContext> m_context;  // what the update handlers use of the bot

    std::unique_ptr<store::Session> m_outbox_session;
    std::unique_ptr<store::Session> m_poll_session;
    std::unique_ptr<store::Session> m_inbox_session;  // fleet only
    int m_poll_limit;                                 // getUpdates `limit` now (poller thread only)
    bool m_drop_backlog = false;         // next getUpdates with offset -1 (poller thread only)
    std::int64_t m_pruned_at = 0;        // when old rows were last pruned (poller thread only)
    std::int64_t m_fleet_pruned_at = 0;  // the same for the fleet's tables (poller thread only)
    std::int64_t m_late_checked_at = 0;  // last look for late fleet requests (poller thread only)
    std::thread m_outbox_thread;
    std::thread m_poll_thread;
    std::thread m_inbox_thread;
    std::mutex m_mutex;
    std::condition_variable m_cv;
    bool m_stop = false;
    bool m_outbox_wake = false;
    std::vector<mitigation::BlockChange> m_block_changes;  // under m_mutex
    std::size_t m_blocks_subscription = 0;
};

// The Notifier the receiver's worker calls: renders the incident and queues it in
// the outbox (one transaction), then wakes the bot. Idempotent per incident_id.
class TelegramNotifier final : public Notifier {
public:
    // `bot` may be null (tests): rows are queued, nobody is woken.
    TelegramNotifier(TelegramConfig config, std::unique_ptr<store::Session> session,
                     TelegramBot* bot, Clock now = wall_clock_ms);
    Result<void> incident_opened(const IncidentNotice& notice) override;
    Result<void> incident_resolved(const IncidentNotice& notice) override;
    Result<void> incident_joined(const IncidentNotice& notice) override;

private:
    // What a notice does to the incident's message: the view to publish, as a
    // new message (`initial`) or an edit; nullopt: nothing to tell.
    struct Publication {
        IncidentView view;
        bool initial = false;
    };
    // `told`: a message exists; `stored`: its view (nullopt if unreadable).
    using Decide =
        std::function<std::optional<Publication>(bool told, std::optional<IncidentView> stored)>;
    // In one transaction: reads what was told, publishes what `decide` returns.
    Result<void> tell(std::int64_t incident_id, const Decide& decide);
    const mitigation::ActiveBlocks* blocks() const;  // the bot's (Undo buttons)
    TelegramConfig m_config;
    std::unique_ptr<store::Session> m_session;
    TelegramBot* m_bot;
    Clock m_now;
};

}  // namespace saslguard::receiver::telegram
