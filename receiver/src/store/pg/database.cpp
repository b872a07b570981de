#include "database.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace saslguard::receiver::store::pg {
namespace {

namespace lpq = receiver::fleet::pg;

class PgStatement final : public sql::StatementImpl {
public:
    PgStatement(Database& db, std::string sql, int params)
        : m_db(db), m_sql(std::move(sql)), m_params(static_cast<std::size_t>(params)) {}

    void bind_int64(int index, std::int64_t value) override { set(index, std::to_string(value)); }
    void bind_double(int index, double value) override {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.17g", value);
        set(index, buf);
    }
    void bind_text(int index, std::string_view text) override {
        // libpq sends C strings, and PostgreSQL's text holds no NUL byte.
        if (text.find('\0') != std::string_view::npos)
            return note("bind parameter " + std::to_string(index) + ": text holds a NUL byte");
        set(index, std::string(text));
    }
    void bind_null(int index) override { set(index, std::nullopt); }

    Result<bool> step() override {
        if (!m_bind_error.empty()) return make_error(m_bind_error);
        if (!m_ran) {
            auto rows = m_db.query(m_sql, m_params);
            if (!rows) return rows.error();
            m_rows = std::move(*rows);
            m_ran = true;
            m_row = 0;
        } else if (m_row < m_rows.size()) {
            ++m_row;
        }
        return m_row < m_rows.size();
    }

    void reset() override {
        m_ran = false;
        m_rows.clear();
        m_row = 0;
        for (auto& p : m_params) p.reset();
        m_bind_error.clear();
    }

    bool is_null(int column) const override { return !value(column); }
    std::int64_t column_int64(int column) const override {
        const auto* v = value(column);
        return v ? std::strtoll(v->c_str(), nullptr, 10) : 0;
    }
    double column_double(int column) const override {
        const auto* v = value(column);
        return v ? std::strtod(v->c_str(), nullptr) : 0.0;
    }
    std::string column_text(int column) const override {
        const auto* v = value(column);
        return v ? *v : std::string();
    }

private:
    void note(std::string error) {
        if (m_bind_error.empty()) m_bind_error = std::move(error);
    }
    void set(int index, lpq::Param value) {
        if (index < 1 || static_cast<std::size_t>(index) > m_params.size())
            return note("bind parameter " + std::to_string(index) + ": out of range");
        m_params[static_cast<std::size_t>(index - 1)] = std::move(value);
    }
    const std::string* value(int column) const {
        if (m_row >= m_rows.size()) return nullptr;
        const auto& row = m_rows[m_row];
        if (column < 0 || static_cast<std::size_t>(column) >= row.size() || !row[column])
            return nullptr;
        return &*row[static_cast<std::size_t>(column)];
    }

    Database& m_db;
    std::string m_sql;
    std::vector<lpq::Param> m_params;
    std::string m_bind_error;
    bool m_ran = false;
    std::vector<lpq::Row> m_rows;
    std::size_t m_row = 0;
};

}  // namespace

class PgTransaction final : public Transaction {
public:
    explicit PgTransaction(Database& db) : m_db(db) {}
    ~PgTransaction() override {
        if (m_open) m_db.end_transaction(false);
    }
    Result<void> commit() override {
        if (!m_open) return make_error("commit: transaction is not open");
        m_open = false;
        if (m_db.m_failed_in_transaction) {
            m_db.end_transaction(false);
            return make_error("COMMIT: the transaction was aborted by an earlier error");
        }
        auto r = m_db.m_conn.run("COMMIT");
        m_db.m_in_transaction = false;
        if (!r) {
            m_db.end_transaction(false);
            return make_error("COMMIT: " + r.error().message);
        }
        return {};
    }

private:
    Database& m_db;
    bool m_open = true;
};

std::string to_postgresql(std::string_view sql, int& max_param) {
    std::string out;
    out.reserve(sql.size());
    max_param = 0;
    char quote = 0;
    for (std::size_t i = 0; i < sql.size(); ++i) {
        const char c = sql[i];
        if (quote) {
            if (c == quote) quote = 0;
            out += c;
        } else if (c == '\'' || c == '"') {
            quote = c;
            out += c;
        } else if (c == '?' && i + 1 < sql.size() && sql[i + 1] >= '0' && sql[i + 1] <= '9') {
            int n = 0;
            out += '$';
            while (i + 1 < sql.size() && sql[i + 1] >= '0' && sql[i + 1] <= '9') {
                n = n * 10 + (sql[++i] - '0');
                out += sql[i];
            }
            if (n > max_param) max_param = n;
        } else {
            out += c;
        }
    }
    return out;
}

Database::Database(Options options) : m_options(std::move(options)), m_conn(m_options.conninfo) {}

std::string Database::location() const {
    return "PostgreSQL schema " + m_options.schema;
}

std::string Database::prepare_namespace_sql() const {
    return "CREATE SCHEMA IF NOT EXISTS " + m_options.schema;
}

Result<void> Database::ensure() {
    if (m_conn.connected()) return {};
    if (!store::valid_schema(m_options.schema))
        return make_error("PostgreSQL store: invalid schema name '" + m_options.schema + "'");
    // search_path names the host's schema only: a table missing there is an
    // error, never another schema's table of the same name.
    return m_conn.ensure("SET search_path TO " + m_options.schema + "; SET synchronous_commit TO " +
                         (m_options.synchronous_commit ? "on" : "off"));
}

Result<std::vector<lpq::Row>> Database::query(const std::string& sql,
                                              const std::vector<lpq::Param>& params) {
    if (m_in_transaction && m_failed_in_transaction)
        return make_error(sql::head_of(sql) + ": the transaction was aborted by an earlier error");
    if (!m_in_transaction)
        if (auto r = ensure(); !r) return make_error(sql::head_of(sql) + ": " + r.error().message);
    auto rows = m_conn.exec(sql, params);
    if (!rows) {
        if (m_in_transaction) m_failed_in_transaction = true;
        return make_error(sql::head_of(sql) + ": " + rows.error().message);
    }
    return rows;
}

Result<void> Database::exec(std::string_view sql) {
    auto r = query(std::string(sql), {});
    if (!r) return r.error();
    return {};
}

Result<sql::Statement> Database::prepare(std::string_view text) {
    int params = 0;
    std::string translated = to_postgresql(text, params);
    return sql::Statement(std::make_unique<PgStatement>(*this, std::move(translated), params));
}

Result<std::unique_ptr<Transaction>> Database::begin() {
    if (m_in_transaction) return make_error("BEGIN: a transaction is open on this session");
    if (auto r = ensure(); !r) return make_error("BEGIN: " + r.error().message);
    auto r = m_conn.run("BEGIN");
    if (!r && !m_conn.connected()) {
        // A connection PostgreSQL dropped (a restart) shows at its first use;
        // nothing has happened yet, so connect again and begin once more.
        if (auto e = ensure(); !e) return make_error("BEGIN: " + e.error().message);
        r = m_conn.run("BEGIN");
    }
    if (!r) return make_error("BEGIN: " + r.error().message);
    m_in_transaction = true;
    m_failed_in_transaction = false;
    auto tx = std::make_unique<PgTransaction>(*this);
    // The host's write lock, held to COMMIT or ROLLBACK (two int keys: the
    // fleet's own advisory locks use the one-bigint form).
    auto locked =
        m_conn.run("SELECT pg_advisory_xact_lock(hashtext('saslguard.store'), hashtext($1))",
                   {m_options.schema});
    if (!locked) return make_error("BEGIN (write lock): " + locked.error().message);  // rolls back
    return std::unique_ptr<Transaction>(std::move(tx));
}

void Database::end_transaction(bool) {
    m_in_transaction = false;
    m_failed_in_transaction = false;
    if (m_conn.connected()) (void)m_conn.run("ROLLBACK");
}

}  // namespace saslguard::receiver::store::pg
