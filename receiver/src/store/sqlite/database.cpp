#include "database.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "store/migrations.hpp"

namespace saslguard::receiver::store::sqlite {
namespace {

using sql::head_of;

Error sql_error(sqlite3* db, std::string_view what) {
    return make_error(std::string(what) + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

// The state holds alerts, evidence and who was blocked: readable by its owner
// only, whatever the umask. A missing database file is created 0600 before
// SQLite opens it (SQLite gives the -wal and -shm files it creates the
// database file's mode), and an existing file, -wal or -shm with a wider mode
// (an older version followed the umask: 0644) is narrowed. A symlink is not
// followed.
//
// Never open() and close() a database file (or its -wal/-shm) that may already
// be open in this process: close() drops every POSIX lock the process holds on
// that file, including the live connections' SQLite locks (the WAL read marks
// in -shm among them), and a reader then sees stale or torn state. So an
// existing file is only lstat()ed and narrowed by path; a descriptor is opened
// only to create the file, which no connection can have open yet.
Result<void> narrow(const std::string& path, bool must_exist) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno == ENOENT && !must_exist) return {};
        return make_error("stat " + path + ": " + std::strerror(errno));
    }
    if (S_ISLNK(st.st_mode)) return make_error("refusing " + path + ": it is a symbolic link");
    if ((st.st_mode & 07777) == 0600) return {};
    if (::fchmodat(AT_FDCWD, path.c_str(), 0600, AT_SYMLINK_NOFOLLOW) != 0)
        return make_error("make " + path + " private (0600): " + std::strerror(errno));
    return {};
}

Result<void> make_private(const std::string& path) {
    if (path.empty() || path == ":memory:" || path.rfind("file:", 0) == 0) return {};
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) {
        ::close(fd);                // new and empty: no connection holds a lock on it
        return narrow(path, true);  // created under a umask wider than 0177? still 0600
    }
    if (errno != EEXIST) return make_error("create " + path + ": " + std::strerror(errno));
    if (auto r = narrow(path, true); !r) return r;
    for (const char* suffix : {"-wal", "-shm"})
        if (auto r = narrow(path + suffix, false); !r) return r;
    return {};
}

}  // namespace

// ---- Statement -------------------------------------------------------------

namespace {

void note_bind(int rc, sqlite3* db, int index, std::string& error) {
    if (rc != SQLITE_OK && error.empty())
        error = "bind parameter " + std::to_string(index) + ": " + sqlite3_errmsg(db);
}

class SqliteStatement final : public sql::StatementImpl {
public:
    SqliteStatement(sqlite3_stmt* stmt, sqlite3* db) : m_stmt(stmt), m_db(db) {}
    ~SqliteStatement() override { sqlite3_finalize(m_stmt); }
    SqliteStatement(const SqliteStatement&) = delete;
    SqliteStatement& operator=(const SqliteStatement&) = delete;

    void bind_int64(int index, std::int64_t value) override {
        note_bind(sqlite3_bind_int64(m_stmt, index, value), m_db, index, m_bind_error);
    }
    void bind_double(int index, double value) override {
        note_bind(sqlite3_bind_double(m_stmt, index, value), m_db, index, m_bind_error);
    }
    void bind_text(int index, std::string_view text) override {
        note_bind(sqlite3_bind_text64(m_stmt, index, text.data(), text.size(), SQLITE_TRANSIENT,
                                      SQLITE_UTF8),
                  m_db, index, m_bind_error);
    }
    void bind_null(int index) override {
        note_bind(sqlite3_bind_null(m_stmt, index), m_db, index, m_bind_error);
    }

    Result<bool> step() override {
        if (!m_bind_error.empty()) return make_error(m_bind_error);
        int rc = sqlite3_step(m_stmt);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        return sql_error(m_db, head_of(sqlite3_sql(m_stmt)));
    }

    void reset() override {
        sqlite3_reset(m_stmt);
        sqlite3_clear_bindings(m_stmt);
        m_bind_error.clear();
    }

    bool is_null(int column) const override {
        return sqlite3_column_type(m_stmt, column) == SQLITE_NULL;
    }
    std::int64_t column_int64(int column) const override {
        return sqlite3_column_int64(m_stmt, column);
    }
    double column_double(int column) const override {
        return sqlite3_column_double(m_stmt, column);
    }
    std::string column_text(int column) const override {
        const auto* p = sqlite3_column_text(m_stmt, column);
        if (!p) return {};
        return std::string(reinterpret_cast<const char*>(p),
                           static_cast<std::size_t>(sqlite3_column_bytes(m_stmt, column)));
    }

private:
    sqlite3_stmt* m_stmt;
    sqlite3* m_db;
    std::string m_bind_error;
};

// The store's transaction interface over this engine's RAII transaction.
class StoreTransaction final : public store::Transaction {
public:
    explicit StoreTransaction(sqlite::Transaction tx) : m_tx(std::move(tx)) {}
    Result<void> commit() override { return m_tx.commit(); }

private:
    sqlite::Transaction m_tx;
};

}  // namespace

// ---- Database --------------------------------------------------------------

Result<std::unique_ptr<Database>> Database::open(const std::string& path,
                                                 const DatabaseOptions& options) {
    if (options.synchronous != "FULL" && options.synchronous != "NORMAL")
        return make_error("synchronous must be FULL or NORMAL, not " + options.synchronous);
    if (!options.read_only)
        if (auto r = make_private(path); !r) return r.error();
    sqlite3* raw = nullptr;
    int flags =
        SQLITE_OPEN_NOMUTEX |
        (options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
    std::unique_ptr<Database> db(new Database(raw, path));
    if (rc != SQLITE_OK) return sql_error(raw, "open " + path);
    sqlite3_extended_result_codes(raw, 1);
    sqlite3_busy_timeout(raw, options.busy_timeout_ms);
    std::string pragmas = "PRAGMA foreign_keys=ON; PRAGMA synchronous=" + options.synchronous + ";";
    if (!options.read_only) pragmas = "PRAGMA journal_mode=WAL; " + pragmas;
    if (auto r = db->exec(pragmas); !r) return make_error(path + ": " + r.error().message);
    if (options.run_migrations && !options.read_only) {
        if (auto r = sql::migrate(*db); !r) return make_error(path + ": " + r.error().message);
    }
    return db;
}

Database::~Database() {
    if (m_db) sqlite3_close_v2(m_db);
}

Result<void> Database::exec(std::string_view sql) {
    std::string copy(sql);  // sqlite3_exec needs a NUL-terminated string
    char* msg = nullptr;
    int rc = sqlite3_exec(m_db, copy.c_str(), nullptr, nullptr, &msg);
    if (rc != SQLITE_OK) {
        std::string text = msg ? msg : sqlite3_errstr(rc);
        sqlite3_free(msg);
        return make_error(head_of(sql) + ": " + text);
    }
    return {};
}

Result<Statement> Database::prepare(std::string_view sql) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(m_db, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
    if (rc != SQLITE_OK) return sql_error(m_db, "prepare " + head_of(sql));
    return Statement(std::make_unique<SqliteStatement>(stmt, m_db));
}

Result<std::unique_ptr<store::Transaction>> Database::begin() {
    auto tx = Transaction::begin(*this);
    if (!tx) return tx.error();
    return std::unique_ptr<store::Transaction>(new StoreTransaction(std::move(*tx)));
}

void Database::housekeeping() {
    (void)exec("PRAGMA wal_checkpoint(PASSIVE)");
}

std::int64_t Database::last_insert_rowid() const {
    return sqlite3_last_insert_rowid(m_db);
}

int Database::changes() const {
    return sqlite3_changes(m_db);
}

// ---- Transaction -----------------------------------------------------------

Result<Transaction> Transaction::begin(Database& db, Kind kind) {
    std::unique_lock<std::mutex> lock;
    if (db.write_lock()) lock = std::unique_lock<std::mutex>(*db.write_lock());
    auto r = db.exec(kind == Kind::Immediate ? "BEGIN IMMEDIATE" : "BEGIN");
    if (!r) return r.error();
    db.m_in_transaction = true;
    return Transaction(db, std::move(lock));
}

Transaction::Transaction(Transaction&& other) noexcept
    : m_db(other.m_db),
      m_lock(std::move(other.m_lock)),
      m_open(std::exchange(other.m_open, false)) {}

Transaction::~Transaction() {
    rollback();
}

Result<void> Transaction::commit() {
    if (!m_open) return make_error("commit: transaction is not open");
    auto r = m_db->exec("COMMIT");
    if (!r) {
        rollback();
        return r;
    }
    m_open = false;
    m_db->m_in_transaction = false;
    if (m_lock.owns_lock()) m_lock.unlock();
    return {};
}

void Transaction::rollback() {
    if (!m_open) return;
    m_open = false;
    m_db->m_in_transaction = false;
    (void)m_db->exec("ROLLBACK");
    if (m_lock.owns_lock()) m_lock.unlock();
}

}  // namespace saslguard::receiver::store::sqlite
