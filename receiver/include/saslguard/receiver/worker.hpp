#pragma once
// The worker: turns stored alert events into incidents, decisions, actions and
// notifications, on its own thread, in arrival order, never inside an HTTP handler.
//
// Each alert event moves pending → decided → done:
//   pending → decided  one transaction stores the incident, the evidence, the
//                      decision and the automatic actions as planned rows of the
//                      action log (firing), or closes the incident (resolved).
//                      Resolution (network) happens before it, so a crash here
//                      just resolves again: nothing acted yet.
//   decided → done     each planned action is marked running (committed), run,
//                      and its outcome recorded; then notifiers are called.
// recover() (call it once, before anything else acts) marks the receiver's
// actions a crash left running as interrupted: they are reported, never re-run,
// so no action runs twice. Notifications are at least once (see notifier.hpp).
// Redeliveries never reach the worker (the intake dedupes).
//
// What a step has just written is handed to the next step in memory; the
// store is read back only for an event a previous run left decided.
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "saslguard/common/clock.hpp"
#include "saslguard/common/result.hpp"
#include "saslguard/receiver/actions.hpp"
#include "saslguard/receiver/config.hpp"
#include "saslguard/receiver/policy.hpp"
#include "saslguard/receiver/store/state_store.hpp"

namespace saslguard::receiver {

class Notifier;
class Resolver;
class ReceiverMetrics;
class Safeguards;

class Worker {
public:
    // `session` is the worker's own. Resolver, executor, notifier, metrics and
    // safeguards (both may be null) must outlive the worker. Without
    // safeguards nothing can be corroborated: with policy.min_queued_messages
    // above 0 no alert then acts automatically (it is asked about instead).
    Worker(std::unique_ptr<store::Session> session, const Config& config, Resolver& resolver,
           ActionExecutor& executor, Notifier& notifier, ReceiverMetrics* metrics,
           Safeguards* safeguards = nullptr, Clock clock = wall_clock_ms);
    ~Worker();

    // Marks the receiver's actions (automatic, Telegram) a crash left running
    // as interrupted; returns how many. Call before the receiver acts again.
    Result<int> recover();
    // Finishes every unfinished alert event; returns how many. Stops at the first
    // store error (the event is retried on the next call).
    Result<int> run_once();

    // Background thread: run_once() whenever woken (and every few seconds).
    void start();
    void wake();
    void stop();
    bool healthy() const { return m_healthy.load(); }

private:
    struct Row;
    Result<void> process(Row& row);
    Result<void> decide_firing(Row& row);
    // Asks the mail host about the culprit (accounts, never-block addresses,
    // the queue) into `evidence`; returns how the backend names accounts.
    AccountOf ask_safeguards(const Alert& alert, Evidence& evidence);
    Result<void> close_incident(Row& row);
    Result<void> finish(Row& row);
    Result<void> run_actions(Row& row, IncidentNotice& notice);

    std::unique_ptr<store::Session> m_session;
    const Config& m_config;
    Resolver& m_resolver;
    ActionExecutor& m_executor;
    Notifier& m_notifier;
    ReceiverMetrics* m_metrics;
    Safeguards* m_safeguards;
    Clock m_clock;

    std::thread m_thread;
    std::mutex m_mu;
    std::condition_variable m_cv;
    bool m_wake = false;
    bool m_stop = false;
    std::atomic<bool> m_healthy{true};
    int m_checkpointed = 0;  // events done at the last WAL checkpoint (this run_once)
};

}  // namespace saslguard::receiver
