#pragma once
// The Mitigator with everything it needs, over the receiver's state store: its
// own session (the Mitigator serializes every action under its lock, so the
// worker thread, the Telegram thread and the expiry thread share the executor
// safely), the real command runner, and the showq socket or postqueue. It also
// reverts expired blocks, on a thread of its own, once start_expiry() is called.
//
//   auto svc = MitigationService::open(store, config.mitigation, allow_auto_delete, &blocks);
//   svc->execute(request);            // the ActionExecutor of the worker and the bot
//   svc->start_expiry();  …  svc->stop();
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "saslguard/common/result.hpp"
#include "saslguard/receiver/actions.hpp"
#include "saslguard/receiver/mitigation/mitigator.hpp"
#include "saslguard/receiver/store/state_store.hpp"

namespace saslguard::receiver::mitigation {

class MitigationService final : public ActionExecutor, public Safeguards {
public:
    // Fails on settings the Mitigator refuses (see validate()) or an unusable store.
    // `blocks` (may be null: saslguardctl) is told of every change.
    static Result<std::shared_ptr<MitigationService>> open(store::StateStore& store,
                                                           const MitigationSettings& settings,
                                                           bool allow_auto_delete,
                                                           ActiveBlocks* blocks = nullptr);
    ~MitigationService() override;

    ActionOutcome execute(const ActionRequest& request) override;
    // Safeguards: the Mitigator's (the same backend, never-block set and queue).
    std::vector<std::string> accounts(const std::vector<std::string>& logins) override;
    Result<std::vector<std::pair<std::string, std::string>>> protected_ips(
        const std::vector<std::string>& ips) override;
    Result<std::size_t> queued_messages(const std::string& login, std::size_t enough) override;
    Result<QueueSample> queue_sample(const std::string& login, std::size_t max_messages,
                                     bool subjects) override;
    std::vector<ActionOutcome> run_expiries();
    // For list-blocks and audit; use only while no action runs on another thread.
    store::MitigationRepository& repository();
    // Each mechanism and where it acts on this host.
    std::vector<std::pair<std::string, std::string>> describe() const;

    // Reverts the blocks whose expiry is due every `interval` (and logs each
    // revert), so an expired block lasts at most `interval` longer than asked.
    void start_expiry(std::chrono::seconds interval = std::chrono::seconds(30));
    void stop();

private:
    MitigationService() = default;
    std::unique_ptr<store::Session> m_session;
    SystemCommandRunner m_runner;
    std::unique_ptr<Mitigator> m_mitigator;
    std::thread m_expiry;
    std::mutex m_mutex;
    std::condition_variable m_cv;
    bool m_stopping = false;
};

}  // namespace saslguard::receiver::mitigation
