#include "saslguard/receiver/mitigation/service.hpp"

#include "saslguard/receiver/config.hpp"
#include "saslguard/receiver/database.hpp"

namespace saslguard::receiver::mitigation {

Result<std::shared_ptr<MitigationService>> MitigationService::open(const Config& config) {
    std::shared_ptr<MitigationService> svc(new MitigationService());
    auto db = Database::open(config.state_path);
    if (!db) return db.error();
    svc->m_db = std::move(*db);
    svc->m_store = std::make_unique<SqliteMitigationStore>(*svc->m_db);
    MitigatorDeps deps;
    deps.runner = &svc->m_runner;
    deps.store = svc->m_store.get();
    deps.allow_auto_delete = config.policy.allow_auto_delete;
    auto m = Mitigator::create(config.mitigation, deps);
    if (!m) return m.error();
    svc->m_mitigator = std::move(*m);
    return svc;
}

MitigationService::~MitigationService() = default;

ActionOutcome MitigationService::execute(const ActionRequest& request) {
    return m_mitigator->execute(request);
}
std::vector<ActionOutcome> MitigationService::run_expiries() {
    return m_mitigator->run_expiries();
}
MitigationStore& MitigationService::store() {
    return *m_store;
}

}  // namespace saslguard::receiver::mitigation
