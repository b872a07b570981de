// The connection factory: the one place that chooses the store's engine.
#include "saslguard/receiver/store/state_store.hpp"

namespace saslguard::receiver::store {
namespace sqlite {
Result<std::unique_ptr<StateStore>> open_sqlite_store(const std::string& path);
}

Result<std::unique_ptr<StateStore>> StateStore::open(const std::string& path) {
    // SQLite, the embedded default. A PostgreSQL store (fleet) would be chosen
    // here from a URL, with the same repositories in its dialect.
    return sqlite::open_sqlite_store(path);
}

}  // namespace saslguard::receiver::store
