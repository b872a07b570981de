// The connection factory: the one place that chooses the store's engine.
#include "saslguard/receiver/store/state_store.hpp"

#include "pg/database.hpp"
#include "session.hpp"

namespace saslguard::receiver::store {
namespace pg {
Result<std::unique_ptr<StateStore>> open_postgresql_store(const Options& options);
}

bool valid_schema(const std::string& s) {
    if (s.empty() || s.size() > 63 || (s[0] >= '0' && s[0] <= '9') || s.rfind("pg_", 0) == 0)
        return false;
    for (char c : s)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    return true;
}

std::string default_schema(const std::string& host_name) {
    std::string out = "saslguard_";
    for (char c : host_name) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        out += (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ? c : '_';
    }
    return out.substr(0, 63);
}

Result<std::unique_ptr<StateStore>> StateStore::open(const StoreSettings& s) {
    if (s.engine == StoreSettings::Engine::Postgresql)
        return pg::open_postgresql_store(pg::Options{s.conninfo, s.schema, true});
    return sqlite::open_sqlite_store(s.path);
}

Result<std::unique_ptr<StateStore>> StateStore::open(const std::string& path) {
    return sqlite::open_sqlite_store(path);
}

}  // namespace saslguard::receiver::store
