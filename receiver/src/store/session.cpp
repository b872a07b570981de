#include "session.hpp"

namespace saslguard::receiver::store::sql {

EngineSession::EngineSession(std::unique_ptr<Connection> db)
    : m_db(std::move(db)),
      m_alerts(make_alert_repository(*m_db)),
      m_mitigation(make_mitigation_repository(*m_db)),
      m_telegram(make_telegram_repository(*m_db)) {}

}  // namespace saslguard::receiver::store::sql
