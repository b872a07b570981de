#pragma once
// The worker: turns stored alert events into incidents, decisions, actions and
// notifications, on its own thread, in arrival order, never inside an HTTP handler.
//
// Each alert event (a row of `alerts`) moves pending → decided → done:
//   pending → decided  one transaction stores the incident, the evidence, the
//                      decision and the planned actions (firing), or closes the
//                      incident (resolved). Resolution (network) happens before
//                      it, so a crash here just resolves again: nothing acted yet.
//   decided → done     each planned action is marked running (committed), run,
//                      then marked done/failed; then notifiers are called.
// After a crash, recover() marks actions left running as interrupted: they are
// reported, never re-run, so no action runs twice. Notifications are at least
// once (see notifier.hpp). Redeliveries never reach the worker (intake dedupes).
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "saslguard/common/result.hpp"
#include "saslguard/receiver/actions.hpp"
#include "saslguard/receiver/config.hpp"

namespace saslguard::receiver {

class Database;
class Notifier;
class Resolver;
class ReceiverMetrics;
struct Alert;

class Worker {
public:
    // `db` is the worker's own connection. Resolver, executor, notifier and
    // metrics (may be null) must outlive the worker.
    Worker(std::unique_ptr<Database> db, const Config& config, Resolver& resolver,
           ActionExecutor& executor, Notifier& notifier, ReceiverMetrics* metrics);
    ~Worker();

    // Marks actions a crash left running as interrupted; returns how many.
    Result<int> recover();
    // Finishes every unfinished alert event; returns how many. Stops at the first
    // store error (the event is retried on the next call).
    Result<int> run_once();

    // Background thread: recover(), then run_once() whenever woken (and every few seconds).
    void start();
    void wake();
    void stop();
    bool healthy() const { return m_healthy.load(); }

private:
    struct Row;
    Result<void> process(Row& row);
    Result<void> decide_firing(Row& row);
    Result<void> close_incident(Row& row);
    Result<void> finish(Row& row);
    Result<int> auto_actions_last_hour();

    std::unique_ptr<Database> m_db;
    const Config& m_config;
    Resolver& m_resolver;
    ActionExecutor& m_executor;
    Notifier& m_notifier;
    ReceiverMetrics* m_metrics;

    std::thread m_thread;
    std::mutex m_mu;
    std::condition_variable m_cv;
    bool m_wake = false;
    bool m_stop = false;
    std::atomic<bool> m_healthy{true};
    int m_checkpointed = 0;  // events done at the last WAL checkpoint (this run_once)
};

}  // namespace saslguard::receiver
