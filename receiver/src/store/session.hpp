#pragma once
// A store Session over either engine (state_store.hpp): one sql::Connection
// with the three repositories over it. Private to the store.
#include <memory>

#include "saslguard/receiver/store/state_store.hpp"
#include "sql.hpp"

namespace saslguard::receiver::store::sql {

std::unique_ptr<AlertRepository> make_alert_repository(Connection& db);
std::unique_ptr<MitigationRepository> make_mitigation_repository(Connection& db);
std::unique_ptr<TelegramRepository> make_telegram_repository(Connection& db);

class EngineSession final : public Session {
public:
    explicit EngineSession(std::unique_ptr<Connection> db);
    Result<std::unique_ptr<Transaction>> begin() override { return m_db->begin(); }
    AlertRepository& alerts() override { return *m_alerts; }
    MitigationRepository& mitigation() override { return *m_mitigation; }
    TelegramRepository& telegram() override { return *m_telegram; }
    void checkpoint() override { m_db->housekeeping(); }
    Connection& db() { return *m_db; }

private:
    std::unique_ptr<Connection> m_db;
    std::unique_ptr<AlertRepository> m_alerts;
    std::unique_ptr<MitigationRepository> m_mitigation;
    std::unique_ptr<TelegramRepository> m_telegram;
};

}  // namespace saslguard::receiver::store::sql

namespace saslguard::receiver::store::sqlite {
// Opens (creating and migrating) the SQLite store at `path`.
Result<std::unique_ptr<StateStore>> open_sqlite_store(const std::string& path);
}  // namespace saslguard::receiver::store::sqlite
