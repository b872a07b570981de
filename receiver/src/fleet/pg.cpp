#include "pg.hpp"

#include <cstdlib>

#include "saslguard/common/log.hpp"

namespace saslguard::receiver::fleet::pg {

std::string trimmed(const char* message) {
    std::string s = message ? message : "";
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

void Connection::close() {
    if (m_pg) PQfinish(m_pg);
    m_pg = nullptr;
}

Result<void> Connection::ensure(const std::string& schema) {
    if (m_pg && PQstatus(m_pg) != CONNECTION_OK) close();
    if (m_pg) return {};
    m_pg = PQconnectdb(m_conninfo.c_str());
    if (PQstatus(m_pg) != CONNECTION_OK) {
        std::string error = trimmed(PQerrorMessage(m_pg));
        close();
        return make_error("PostgreSQL: " + error);
    }
    // Server messages go to the receiver's log, not raw to stderr; the
    // NOTICEs of CREATE … IF NOT EXISTS are not worth a line.
    PQsetNoticeProcessor(
        m_pg,
        [](void*, const char* message) {
            log::warn("PostgreSQL said", {{"message", trimmed(message)}});
        },
        nullptr);
    if (auto r = run("SET client_min_messages = warning"); !r) {
        close();
        return r;
    }
    if (!schema.empty()) {
        if (auto r = run(schema); !r) {
            close();
            return r;
        }
    }
    return {};
}

Result<std::vector<Row>> Connection::exec(const std::string& sql,
                                          const std::vector<Param>& params) {
    if (!m_pg) return make_error("PostgreSQL: not connected");
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
    // With parameters: one statement (extended protocol). Without: PQexec, so
    // a schema of several statements runs as one call.
    PGresult* r = params.empty() ? PQexec(m_pg, sql.c_str())
                                 : PQexecParams(m_pg, sql.c_str(), static_cast<int>(values.size()),
                                                nullptr, values.data(), nullptr, nullptr, 0);
    const auto status = PQresultStatus(r);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        std::string error = trimmed(PQresultErrorMessage(r));
        PQclear(r);
        if (PQstatus(m_pg) != CONNECTION_OK) close();
        return make_error("PostgreSQL: " + error);
    }
    const std::string command = PQcmdStatus(r);
    for (const char* verb : {"INSERT ", "UPDATE ", "DELETE "})
        if (command.rfind(verb, 0) == 0) m_changes = std::atoi(PQcmdTuples(r));
    std::vector<Row> rows;
    const int n = PQntuples(r), cols = PQnfields(r);
    rows.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        Row row;
        for (int j = 0; j < cols; ++j)
            row.push_back(PQgetisnull(r, i, j) ? std::nullopt
                                               : std::optional<std::string>(PQgetvalue(r, i, j)));
        rows.push_back(std::move(row));
    }
    PQclear(r);
    return rows;
}

Result<void> Connection::run(const std::string& sql, const std::vector<Param>& params) {
    auto r = exec(sql, params);
    if (!r) return r.error();
    return {};
}

}  // namespace saslguard::receiver::fleet::pg
