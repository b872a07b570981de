// The PostgreSQL store: the factory of sessions over one host's schema.
#include "database.hpp"
#include "store/migrations.hpp"
#include "store/session.hpp"

namespace saslguard::receiver::store::pg {
namespace {

class PgStateStore final : public StateStore {
public:
    PgStateStore(Options options, int version)
        : m_options(std::move(options)),
          m_version(version),
          m_location(Database(m_options).location()) {}

    // Connects lazily: a session made while PostgreSQL is down works once it is back.
    Result<std::unique_ptr<Session>> session(const SessionOptions& options) override {
        Options o = m_options;
        o.synchronous_commit = options.durability == Durability::Full;
        return std::unique_ptr<Session>(
            new sql::EngineSession(std::make_unique<Database>(std::move(o))));
    }
    int schema_version() const override { return m_version; }
    const std::string& location() const override { return m_location; }

private:
    Options m_options;
    int m_version;
    std::string m_location;
};

}  // namespace

Result<std::unique_ptr<StateStore>> open_postgresql_store(const Options& options) {
    if (!store::valid_schema(options.schema))
        return make_error(
            "store.schema: expected 1-63 of a-z, 0-9 and _ (not starting with a "
            "digit or pg_), got '" +
            options.schema + "'");
    Database db(options);
    auto version = sql::migrate(db);
    if (!version) return make_error(db.location() + ": " + version.error().message);
    return std::unique_ptr<StateStore>(new PgStateStore(options, *version));
}

}  // namespace saslguard::receiver::store::pg
