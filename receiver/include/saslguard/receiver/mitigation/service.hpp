#pragma once
// The Mitigator with everything it needs, built from the receiver's Config:
// its own SQLite connection to state_path (Database is one-thread-at-a-time;
// the Mitigator serializes every action under its mutex, so the worker thread,
// the Telegram thread and saslguardctl can all share the executor safely), the
// real command runner, and the showq socket or postqueue.
//
// Wiring in the receiver:
//   auto svc = MitigationService::open(config);          // fails: refuse to start
//   app.set_executor(*svc);                              // shared_ptr<ActionExecutor>
//   every minute or so: (*svc)->run_expiries();           // automatic reverts
#include <memory>

#include "saslguard/common/result.hpp"
#include "saslguard/receiver/actions.hpp"
#include "saslguard/receiver/mitigation/mitigator.hpp"

namespace saslguard::receiver {
struct Config;
class Database;
}  // namespace saslguard::receiver

namespace saslguard::receiver::mitigation {

class MitigationService final : public ActionExecutor {
public:
    static Result<std::shared_ptr<MitigationService>> open(const Config& config);
    ~MitigationService() override;

    ActionOutcome execute(const ActionRequest& request) override;
    std::vector<ActionOutcome> run_expiries();
    // For list-blocks and audit; use only while no action runs on another thread.
    MitigationStore& store();

private:
    MitigationService() = default;
    std::unique_ptr<Database> m_db;
    std::unique_ptr<MitigationStore> m_store;
    SystemCommandRunner m_runner;
    std::unique_ptr<Mitigator> m_mitigator;
};

}  // namespace saslguard::receiver::mitigation
