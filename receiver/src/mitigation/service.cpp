#include "saslguard/receiver/mitigation/service.hpp"

#include "saslguard/common/log.hpp"

namespace saslguard::receiver::mitigation {

Result<std::shared_ptr<MitigationService>> MitigationService::open(
    store::StateStore& store, const MitigationSettings& settings, bool allow_auto_delete,
    ActiveBlocks* blocks) {
    std::shared_ptr<MitigationService> svc(new MitigationService());
    auto session = store.session();
    if (!session) return session.error();
    svc->m_session = std::move(*session);
    MitigatorDeps deps;
    deps.runner = &svc->m_runner;
    deps.store = &svc->m_session->mitigation();
    deps.allow_auto_delete = allow_auto_delete;
    deps.blocks = blocks;
    auto m = Mitigator::create(settings, deps);
    if (!m) return m.error();
    svc->m_mitigator = std::move(*m);
    return svc;
}

MitigationService::~MitigationService() {
    stop();
}

ActionOutcome MitigationService::execute(const ActionRequest& request) {
    return m_mitigator->execute(request);
}

std::vector<std::string> MitigationService::accounts(const std::vector<std::string>& logins) {
    return m_mitigator->accounts(logins);
}

Result<std::vector<std::pair<std::string, std::string>>> MitigationService::protected_ips(
    const std::vector<std::string>& ips) {
    return m_mitigator->protected_ips(ips);
}

Result<std::size_t> MitigationService::queued_messages(const std::string& login,
                                                       std::size_t enough) {
    return m_mitigator->queued_messages(login, enough);
}

Result<QueueSample> MitigationService::queue_sample(const std::string& login,
                                                    std::size_t max_messages, bool subjects) {
    return m_mitigator->queue_sample(login, max_messages, subjects);
}

std::vector<ActionOutcome> MitigationService::run_expiries() {
    return m_mitigator->run_expiries();
}

store::MitigationRepository& MitigationService::repository() {
    return m_session->mitigation();
}

std::vector<std::pair<std::string, std::string>> MitigationService::describe() const {
    return m_mitigator->describe();
}

void MitigationService::start_expiry(std::chrono::seconds interval) {
    if (m_expiry.joinable()) return;
    m_expiry = std::thread([this, interval] {
        std::unique_lock<std::mutex> lock(m_mutex);
        while (!m_cv.wait_for(lock, interval, [&] { return m_stopping; })) {
            lock.unlock();
            for (const auto& o : run_expiries()) {
                if (o.ok)
                    log::info("expired block reverted", {{"summary", o.summary}});
                else
                    log::warn("expiry failed", {{"error", o.error}});
            }
            lock.lock();
        }
    });
}

void MitigationService::stop() {
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_stopping = true;
    }
    m_cv.notify_all();
    if (m_expiry.joinable()) m_expiry.join();
}

}  // namespace saslguard::receiver::mitigation
