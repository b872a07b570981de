// The one flag parser of the three binaries (common/flags.hpp).
#include <catch2/catch.hpp>

#include "saslguard/common/flags.hpp"

using namespace saslguard;

namespace {
struct Target {
    std::string config;
    bool dry_run = false;
    std::vector<std::string> senders;
    std::chrono::seconds expires{0};
    flags::FlagSet set{true};
    Target() {
        set.text("config", "the config file", config)
            .boolean("dry-run", "change nothing", dry_run)
            .add({"sender", "repeatable", "", false, "ADDR",
                  [this](const std::string& v) {
                      senders.push_back(v);
                      return std::string();
                  }})
            .add({"expires", "revert after", "", false, "DUR", [this](const std::string& v) {
                      return flags::parse_positive_duration(v, expires);
                  }});
    }
};
}  // namespace

TEST_CASE("flags take --name=value, --name value and bare booleans, between positionals") {
    Target t;
    auto p = t.set.parse({"block-login", "--config", "/etc/r.yml", "alice", "--dry-run",
                          "--sender=a@x.org", "--sender", "b@x.org", "--expires=1h30m"});
    REQUIRE(p.ok());
    CHECK(p->positional == std::vector<std::string>{"block-login", "alice"});
    CHECK(t.config == "/etc/r.yml");
    CHECK(t.dry_run);
    CHECK(t.senders == std::vector<std::string>{"a@x.org", "b@x.org"});
    CHECK(t.expires == std::chrono::minutes(90));
    CHECK_FALSE(p->help);
}

TEST_CASE("after -- everything is positional, and -h asks for help") {
    Target t;
    auto p = t.set.parse({"--", "--dry-run", "-x"});
    REQUIRE(p.ok());
    CHECK(p->positional == std::vector<std::string>{"--dry-run", "-x"});
    CHECK_FALSE(t.dry_run);
    CHECK(t.set.parse({"-h"})->help);
    CHECK(t.set.parse({"--help", "--nope"})->help);
}

TEST_CASE("unknown flags, missing values and bad values are errors naming the flag") {
    Target t;
    CHECK(t.set.parse({"--nope=1"}).error().message == "unknown flag --nope (see --help)");
    CHECK(t.set.parse({"--config"}).error().message == "flag --config needs a value");
    CHECK(t.set.parse({"--expires", "10"}).error().message.rfind("flag --expires=10: ", 0) == 0);
    CHECK(t.set.parse({"--dry-run=maybe"}).error().message ==
          "flag --dry-run=maybe: expected true or false");
    flags::FlagSet none;
    CHECK(none.parse({"stray"}).error().message == "unexpected argument stray");
}

TEST_CASE("the usage lists every flag with its help and default, in declaration order") {
    std::string level = "info";
    bool once = false;
    flags::FlagSet set;
    set.text("log.level", "debug|info|warn|error", level).boolean("once", "run once", once);
    CHECK(set.usage() ==
          "  --log.level=VALUE\n      debug|info|warn|error (default info)\n"
          "  --once\n      run once\n");
}
