# Every third-party dependency is found here and only here. All come from
# Debian 12 packages (scripts/install-deps.sh installs them).
find_package(Threads REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED)          # prometheus-cpp-dev
find_package(nlohmann_json 3 CONFIG REQUIRED)         # nlohmann-json3-dev
find_package(CURL REQUIRED)                           # libcurl4-openssl-dev
find_package(SQLite3 REQUIRED)                        # libsqlite3-dev
find_package(yaml-cpp CONFIG REQUIRED)                # libyaml-cpp-dev
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq)     # libpq-dev: fleet.shared_blocks
pkg_check_modules(SYSTEMD REQUIRED IMPORTED_TARGET libsystemd) # libsystemd-dev: the journal source (sd-journal)
pkg_check_modules(GEOIP REQUIRED IMPORTED_TARGET geoip)     # libgeoip-dev: countries of client addresses (geoip-database)

# cpp-httplib (libcpp-httplib-dev) is a compiled library on Debian, found by pkg-config.
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
add_library(saslguard::httplib ALIAS PkgConfig::HTTPLIB)

if(BUILD_TESTING OR NOT DEFINED BUILD_TESTING)
  find_package(Catch2 REQUIRED)                       # catch2 (v2 on Debian 12)
  include(Catch)                                      # catch_discover_tests
endif()
