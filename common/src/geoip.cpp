#include "saslguard/common/geoip.hpp"

#include <GeoIP.h>
#include <arpa/inet.h>

namespace saslguard::geoip {

struct CountryDb::Impl {
    GeoIP* v4 = nullptr;
    GeoIP* v6 = nullptr;
    ~Impl() {
        if (v4) GeoIP_delete(v4);
        if (v6) GeoIP_delete(v6);
    }
};

CountryDb::CountryDb() : m_impl(std::make_unique<Impl>()) {}
CountryDb::~CountryDb() = default;

Result<void> CountryDb::open(const std::string& v4_path, const std::string& v6_path) {
    std::string failed;
    // GEOIP_SILENCE: libgeoip would print to stderr on a missing file.
    const int flags = GEOIP_MEMORY_CACHE | GEOIP_SILENCE;
    if (!v4_path.empty()) {
        m_impl->v4 = GeoIP_open(v4_path.c_str(), flags);
        if (!m_impl->v4) failed += v4_path;
    }
    if (!v6_path.empty()) {
        m_impl->v6 = GeoIP_open(v6_path.c_str(), flags);
        if (!m_impl->v6) failed += (failed.empty() ? "" : ", ") + v6_path;
    }
    if (!failed.empty()) return make_error("cannot open GeoIP database " + failed);
    return {};
}

std::optional<Country> CountryDb::lookup(std::string_view ip) const {
    if (ip.size() > 64) return std::nullopt;
    const std::string text(ip);
    unsigned char buf[16];
    int id = 0;
    GeoIPLookup gl{};  // per call: the _gl lookups share no state between threads
    if (::inet_pton(AF_INET, text.c_str(), buf) == 1) {
        if (!m_impl->v4) return std::nullopt;
        id = GeoIP_id_by_addr_gl(m_impl->v4, text.c_str(), &gl);
    } else if (::inet_pton(AF_INET6, text.c_str(), buf) == 1) {
        if (!m_impl->v6) return std::nullopt;
        id = GeoIP_id_by_addr_v6_gl(m_impl->v6, text.c_str(), &gl);
    } else {
        return std::nullopt;
    }
    // 0 is "no country"; A1/A2/AP/EU/O1/-- (anonymous proxy, region, other) are
    // not countries an admin can judge by.
    if (id <= 0) return std::nullopt;
    const char* code = GeoIP_code_by_id(id);
    const char* name = GeoIP_name_by_id(id);
    if (!code || !name) return std::nullopt;
    const std::string c(code);
    if (c == "--" || c == "A1" || c == "A2" || c == "AP" || c == "EU" || c == "O1")
        return std::nullopt;
    return Country{c, name};
}

const CountryDb& default_db() {
    static const CountryDb* db = [] {
        auto* d = new CountryDb();
        (void)d->open(std::string(kDefaultV4), std::string(kDefaultV6));
        return d;
    }();
    return *db;
}

}  // namespace saslguard::geoip
