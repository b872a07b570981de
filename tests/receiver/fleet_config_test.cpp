// The fleet: section of receiver.yml (docs/fleet.md).
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "receiver_test_util.hpp"
#include "saslguard/receiver/config.hpp"

using namespace saslguard::receiver;
using saslguard::receiver::testing::minimal_config;
using saslguard::receiver::testing::TempDir;

TEST_CASE("fleet: off by default, the connection string read from its file when on") {
    TempDir dir;
    auto off = parse_config(minimal_config(dir), "r.yml");
    REQUIRE(off.ok());
    CHECK_FALSE(off->fleet.shared_blocks);
    CHECK(off->fleet.conninfo.empty());

    dir.write("pg", "host=/run/postgresql dbname=saslguard\n");
    ::chmod(dir.path("pg").c_str(), 0600);
    auto on = parse_config(minimal_config(dir) +
                               "fleet:\n  shared_blocks: true\n  conninfo_file: " + dir.path("pg") +
                               "\n  host_name: mx-b.example.org\n",
                           "r.yml");
    INFO((on.ok() ? "" : on.error().message));
    REQUIRE(on.ok());
    CHECK(on->fleet.conninfo == "host=/run/postgresql dbname=saslguard");
    CHECK(on->fleet.host_name == "mx-b.example.org");
}

TEST_CASE("fleet: shared blocks without a connection file, or a bad host name, are refused") {
    TempDir dir;
    auto missing = parse_config(
        minimal_config(dir) +
            "fleet:\n  shared_blocks: true\n  conninfo_file: " + dir.path("nope") + "\n",
        "r.yml");
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().message.find("fleet.conninfo_file") != std::string::npos);
    auto bad_host = parse_config(minimal_config(dir) + "fleet:\n  host_name: \"a b;c\"\n", "r.yml");
    REQUIRE_FALSE(bad_host.ok());
    CHECK(bad_host.error().message.find("fleet.host_name") != std::string::npos);
}

TEST_CASE("fleet: coordinate reads the connection file and keeps host names within callback_data") {
    TempDir dir;
    dir.write("pg", "host=/run/postgresql dbname=saslguard\n");
    ::chmod(dir.path("pg").c_str(), 0600);
    const std::string pg = "  conninfo_file: " + dir.path("pg") + "\n";
    auto on = parse_config(
        minimal_config(dir) + "fleet:\n  coordinate: true\n" + pg + "  host_name: mx-b\n", "r.yml");
    INFO((on.ok() ? "" : on.error().message));
    REQUIRE(on.ok());
    CHECK(on->fleet.coordinate);
    CHECK_FALSE(on->fleet.shared_blocks);
    CHECK(on->fleet.conninfo == "host=/run/postgresql dbname=saslguard");
    // 31 characters: host/incident/token would not fit Telegram's 64 bytes.
    auto long_host = parse_config(minimal_config(dir) + "fleet:\n  coordinate: true\n" + pg +
                                      "  host_name: mx-0123456789.example.org.abcde\n",
                                  "r.yml");
    REQUIRE_FALSE(long_host.ok());
    CHECK(long_host.error().message.find("at most 30 characters") != std::string::npos);
}

TEST_CASE(
    "store: SQLite by default; PostgreSQL with the fleet's connection file and a host schema") {
    TempDir dir;
    auto plain = parse_config(minimal_config(dir), "r.yml");
    REQUIRE(plain.ok());
    CHECK(plain->store_settings().engine == store::StoreSettings::Engine::Sqlite);
    CHECK(plain->store_settings().path == plain->state_path);

    dir.write("pg", "host=/run/postgresql dbname=saslguard\n");
    ::chmod(dir.path("pg").c_str(), 0600);
    auto pg = parse_config(
        minimal_config(dir) + "fleet:\n  coordinate: true\n  conninfo_file: " + dir.path("pg") +
            "\n  host_name: MX-b.example.org\n" + "store:\n  engine: postgresql\n",
        "r.yml");
    INFO((pg.ok() ? "" : pg.error().message));
    REQUIRE(pg.ok());
    auto s = pg->store_settings();
    CHECK(s.engine == store::StoreSettings::Engine::Postgresql);
    CHECK(s.conninfo == "host=/run/postgresql dbname=saslguard");
    CHECK(s.schema == "saslguard_mx_b_example_org");

    auto own = parse_config(minimal_config(dir) +
                                "store:\n  engine: postgresql\n  conninfo_file: " + dir.path("pg") +
                                "\n  schema: saslguard_edge1\n",
                            "r.yml");
    REQUIRE(own.ok());
    CHECK(own->store_settings().schema == "saslguard_edge1");
}

TEST_CASE("store: an unknown engine, no connection file or a bad schema name is refused") {
    TempDir dir;
    auto engine = parse_config(minimal_config(dir) + "store:\n  engine: mysql\n", "r.yml");
    REQUIRE_FALSE(engine.ok());
    CHECK_THAT(engine.error().message,
               Catch::Contains("store.engine: expected sqlite or postgresql, got 'mysql'"));
    auto none = parse_config(minimal_config(dir) + "store:\n  engine: postgresql\n", "r.yml");
    REQUIRE_FALSE(none.ok());
    CHECK_THAT(none.error().message, Catch::Contains("store.conninfo_file: required"));
    auto unreadable = parse_config(
        minimal_config(dir) + "store:\n  engine: postgresql\n  conninfo_file: " + dir.path("nope") +
            "\n",
        "r.yml");
    REQUIRE_FALSE(unreadable.ok());
    CHECK_THAT(unreadable.error().message, Catch::Contains("store.conninfo_file"));
    dir.write("pg", "host=/run/postgresql dbname=saslguard\n");
    ::chmod(dir.path("pg").c_str(), 0600);
    auto schema = parse_config(
        minimal_config(dir) + "store:\n  engine: postgresql\n  conninfo_file: " + dir.path("pg") +
            "\n  schema: \"x; DROP TABLE y\"\n",
        "r.yml");
    REQUIRE_FALSE(schema.ok());
    CHECK_THAT(schema.error().message, Catch::Contains("store.schema"));
}
