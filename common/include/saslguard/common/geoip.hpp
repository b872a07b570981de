#pragma once
// The country of a client address, from Debian's geoip-database (the legacy
// GeoIP.dat / GeoIPv6.dat country databases, read with libgeoip). The
// databases are opened once, into memory; lookups are then thread-safe.
//
// A missing or unreadable database is not an error for the caller: countries
// are context for an admin, never evidence. open() says what it could not
// read; lookups on a database that is not open answer nothing.
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "saslguard/common/result.hpp"

namespace saslguard::geoip {

// Debian's paths (package geoip-database).
inline constexpr std::string_view kDefaultV4 = "/usr/share/GeoIP/GeoIP.dat";
inline constexpr std::string_view kDefaultV6 = "/usr/share/GeoIP/GeoIPv6.dat";

struct Country {
    std::string code;  // ISO 3166-1 alpha-2: "DE"
    std::string name;  // "Germany"
};

class CountryDb {
public:
    CountryDb();
    ~CountryDb();
    CountryDb(const CountryDb&) = delete;
    CountryDb& operator=(const CountryDb&) = delete;

    // Opens the IPv4 and IPv6 databases ("" skips one). Fails, naming the file,
    // when a database given cannot be opened; the other stays usable.
    Result<void> open(const std::string& v4_path, const std::string& v6_path);

    // The country of `ip` (IPv4 dotted quad or IPv6 text); nullopt for
    // private/reserved addresses, addresses the database does not know, text
    // that is not an address, or no database.
    std::optional<Country> lookup(std::string_view ip) const;

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

// A process-wide database opened at first use from Debian's default paths
// (errors ignored: no countries). For code that has no configuration of its own.
const CountryDb& default_db();

}  // namespace saslguard::geoip
