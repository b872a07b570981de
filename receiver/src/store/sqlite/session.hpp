#pragma once
// The SQLite implementation of the store (state_store.hpp): a Session is one
// Database connection with the three repositories over it. Private to the store.
#include <memory>
#include <mutex>

#include "database.hpp"
#include "saslguard/receiver/store/state_store.hpp"

namespace saslguard::receiver::store::sqlite {

// Runs `body` in the connection's current transaction, or in one of its own
// (taking the process's write lock) when there is none. `body` returns a Result.
template <class Body>
auto in_transaction(Database& db, Body body) -> decltype(body()) {
    if (db.in_transaction()) return body();
    auto tx = Transaction::begin(db);
    if (!tx) return tx.error();
    auto r = body();
    if (!r) return r;
    if (auto c = tx->commit(); !c) return c.error();
    return r;
}

// Every row of a bound statement, through `read`.
template <class T, class Read>
Result<std::vector<T>> collect(Statement& st, Read read) {
    std::vector<T> out;
    for (;;) {
        auto row = st.step();
        if (!row) return row.error();
        if (!*row) return out;
        out.push_back(read(st));
    }
}

std::unique_ptr<AlertRepository> make_alert_repository(Database& db);
std::unique_ptr<MitigationRepository> make_mitigation_repository(Database& db);
std::unique_ptr<TelegramRepository> make_telegram_repository(Database& db);

// Opens (creating and migrating) the SQLite store at `path`.
Result<std::unique_ptr<StateStore>> open_sqlite_store(const std::string& path);

class SqliteSession final : public Session {
public:
    explicit SqliteSession(std::unique_ptr<Database> db);
    Result<std::unique_ptr<store::Transaction>> begin() override;
    AlertRepository& alerts() override { return *m_alerts; }
    MitigationRepository& mitigation() override { return *m_mitigation; }
    TelegramRepository& telegram() override { return *m_telegram; }
    void checkpoint() override;
    Database& db() { return *m_db; }

private:
    std::unique_ptr<Database> m_db;
    std::unique_ptr<AlertRepository> m_alerts;
    std::unique_ptr<MitigationRepository> m_mitigation;
    std::unique_ptr<TelegramRepository> m_telegram;
};

}  // namespace saslguard::receiver::store::sqlite
