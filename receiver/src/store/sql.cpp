// The engine-neutral parts of the SQL interface (sql.hpp).
#include "sql.hpp"

namespace saslguard::receiver::store::sql {

std::string head_of(std::string_view sql) {
    while (!sql.empty() && (sql.front() == ' ' || sql.front() == '\n')) sql.remove_prefix(1);
    std::string out(sql.substr(0, 60));
    for (auto& c : out)
        if (c == '\n') c = ' ';
    return sql.size() > 60 ? out + "…" : out;
}

Result<void> Statement::run() {
    for (;;) {
        auto r = step();
        if (!r) return r.error();
        if (!*r) return {};
    }
}

std::optional<std::int64_t> Statement::column_opt_int64(int column) const {
    if (is_null(column)) return std::nullopt;
    return column_int64(column);
}

std::optional<std::string> Statement::column_opt_text(int column) const {
    if (is_null(column)) return std::nullopt;
    return column_text(column);
}

Result<std::optional<std::int64_t>> Connection::query_int64(std::string_view sql) {
    auto st = prepare(sql);
    if (!st) return st.error();
    auto row = st->step();
    if (!row) return row.error();
    if (!*row || st->is_null(0)) return std::optional<std::int64_t>{};
    return std::optional<std::int64_t>{st->column_int64(0)};
}

}  // namespace saslguard::receiver::store::sql
