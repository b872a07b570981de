// saslguardctl's argument handling and its SQLite-backed audit/blocks, without
// Postfix: usage errors exit 2 before anything is opened, a dry run goes through
// the real config loader, store and audit, and the SQLite store round-trips
// blocks, expiry and the reverted mark. The live scripts cover the commands.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "receiver_test_util.hpp"
#include "saslguard/common/log.hpp"
#include "saslguard/receiver/config.hpp"
#include "saslguard/receiver/daemon.hpp"
#include "saslguard/receiver/intake.hpp"
#include "saslguard/receiver/mitigation/active_blocks.hpp"
#include "saslguard/receiver/mitigation/ctl.hpp"
#include "saslguard/receiver/mitigation/service.hpp"
#include "saslguard/receiver/resolver.hpp"
#include "saslguard/receiver/store/state_store.hpp"
#include "saslguard/receiver/webhook.hpp"
#include "saslguard/receiver/worker.hpp"
#include "test_support.hpp"

using namespace saslguard;
using namespace saslguard::receiver;
using namespace saslguard::receiver::mitigation;

namespace {

using saslguard::test::TempDir;

struct Run {
    int rc;
    std::string out;
    std::string err;
};

Run ctl(std::vector<std::string> args) {
    std::ostringstream out, err;
    int rc = run_ctl(args, out, err);
    return {rc, out.str(), err.str()};
}

std::string write_config(const TempDir& d) {
    d.write_secret("token", "secret-0123456789abcdef\n");
    std::string cfg = d.path("receiver.yml");
    std::ofstream(cfg) << "state_path: " << d.root() << "/state.db\n"
                       << "webhook:\n  bearer_token_file: " << d.root() << "/token\n"
                       << "mitigation:\n"
                       << "  postfix_config_dir: " << d.root() << "\n"
                       << "  sasl_access_map: " << d.root() << "/sasl_access\n"
                       << "  client_access_map: " << d.root() << "/client_access\n"
                       << "  sasl_backend: none\n";
    return cfg;
}

}  // namespace

TEST_CASE("saslguardctl refuses bad usage with exit status 2 before opening anything") {
    log::set_level(log::Level::Error);
    CHECK(ctl({}).rc == 2);
    CHECK(ctl({"block-login", "alice"}).err.find("--config FILE is required") != std::string::npos);
    CHECK(ctl({"--config", "/nonexistent", "frobnicate"}).rc == 2);
    CHECK(ctl({"--config", "/nonexistent", "block-login"}).err.find("takes exactly one USER") !=
          std::string::npos);
    CHECK(ctl({"--config", "/nonexistent", "block-ips"}).err.find("needs at least one IP") !=
          std::string::npos);
    CHECK(ctl({"--config", "/nonexistent", "--expires", "10", "block-login", "a"}).rc ==
          2);  // no unit
    CHECK(ctl({"--config", "/nonexistent", "--bogus", "list-blocks"}).rc == 2);
    auto del = ctl({"--config", "/nonexistent", "delete-mail", "alice@example.com"});
    CHECK(del.rc == 2);
    CHECK(del.err.find("add --yes to confirm") != std::string::npos);
    CHECK(ctl({"--help"}).rc == 0);
}

TEST_CASE("a dry run through saslguardctl is audited and changes no map") {
    TempDir d;
    auto cfg = write_config(d);
    auto r = ctl(
        {"--config", cfg, "block-login", "alice@example.com", "--dry-run", "--reason", "why not"});
    INFO(r.err);
    CHECK(r.rc == 0);
    CHECK(r.out ==
          "would block login alice@example.com (dry run) [action 1]\n  alice@example.com\n");
    CHECK_FALSE(std::filesystem::exists(d.path("sasl_access")));
    auto blocks = ctl({"--config", cfg, "list-blocks"});
    CHECK(blocks.out == "KIND\tTARGET\tACTION\tSINCE\tEXPIRES\n");
    auto audit = ctl({"--config", cfg, "audit"});
    CHECK(
        audit.out.find("\tblock_login\talice@example.com\tapplied\tyes\t-\t\"would block login") !=
        std::string::npos);

    auto hostile = ctl({"--config", cfg, "block-login", "a\nREJECT"});
    CHECK(hostile.rc == 1);
    CHECK(hostile.err == "saslguardctl: failed: \"invalid SASL username\" [action 2]\n");
    auto locked = ctl({"--config", cfg, "lock-account", "alice@example.com"});
    CHECK(locked.rc == 1);
    CHECK(locked.err.find("sasl_backend is none") != std::string::npos);
}

TEST_CASE("the SQLite store keeps blocks with expiry and marks reverted actions") {
    TempDir d;
    auto state = store::StateStore::open(d.path("state.db"));
    REQUIRE(state.ok());
    auto session = (*state)->session();
    REQUIRE(session.ok());
    store::MitigationRepository& repo = (*session)->mitigation();
    store::ActionRecord a;
    a.kind = "block_login";
    a.target = "alice@example.com";
    a.actor = "test";
    a.created_at = 1'800'000'000'000;
    a.expires_at = 1'800'003'600'000;
    auto id = repo.insert_action(a);
    REQUIRE(id.ok());
    store::ActionFinish f;
    f.action_id = *id;
    f.state = "applied";
    f.result = "blocked";
    f.finished_at = 1'800'000'001'000;
    f.put_blocks.push_back(
        {"login", "alice@example.com", *id, 1'800'000'000'000, 1'800'003'600'000});
    REQUIRE(repo.finish_action(f).ok());

    auto b = repo.find_block("login", "alice@example.com");
    REQUIRE(b.ok());
    REQUIRE(b->has_value());
    CHECK((*b)->expires_at == 1'800'003'600'000);
    CHECK((*b)->action_id == *id);

    store::ActionRecord undo = a;
    undo.kind = "unblock_login";
    undo.expires_at.reset();
    auto uid = repo.insert_action(undo);
    REQUIRE(uid.ok());
    store::ActionFinish uf;
    uf.action_id = *uid;
    uf.state = "applied";
    uf.finished_at = 1'800'000'100'000;
    uf.remove_blocks.push_back({"login", "alice@example.com", 0, 0, std::nullopt});
    uf.reverted_actions.push_back(*id);
    REQUIRE(repo.finish_action(uf).ok());

    CHECK(repo.blocks()->empty());
    CHECK((*repo.action(*id))->state == "reverted");
    CHECK((*repo.action(*uid))->reverts_action_id == *id);
    auto rows = repo.actions(10);
    REQUIRE(rows->size() == 2);
    CHECK((*rows)[0].id == *uid);  // newest first
    CHECK((*rows)[1].finished_at == 1'800'000'001'000);
    store::ActionFinish missing;
    missing.action_id = 999;
    missing.state = "applied";
    CHECK_FALSE(repo.finish_action(missing).ok());
}

TEST_CASE("a config check refuses what the daemon would refuse, with the same message") {
    TempDir d;
    auto cfg = write_config(d);
    std::ostringstream out, err;
    CHECK(run_receiver({"--config", cfg, "--check-config"}, out, err) == 0);
    CHECK(out.str() == cfg + ": ok\n");
    std::ofstream(cfg, std::ios::app) << "  map_type: texthash\n";
    std::ostringstream out2, err2;
    CHECK(run_receiver({"--config", cfg, "--check-config"}, out2, err2) == 1);
    CHECK(err2.str().find(cfg + ":9: mitigation.map_type: texthash is not supported") !=
          std::string::npos);
    std::ostringstream out3, err3;
    CHECK(run_receiver({"--config", cfg, "--bogus"}, out3, err3) == 2);
    CHECK(err3.str().rfind("saslguard-receiver: unknown flag --bogus (see --help)\n", 0) == 0);
}

TEST_CASE(
    "an automatic action is one row of the action log, planned by the worker and finished by "
    "the executor") {
    TempDir d;
    auto cfg = load_config(write_config(d));
    REQUIRE(cfg.ok());
    cfg->mitigation.dry_run = true;
    cfg->policy.auto_actions = {ActionKind::BlockLogin};  // reads and writes only the work dir
    cfg->policy.min_queued_messages = 0;  // no Postfix queue here to corroborate the log
    auto state = store::StateStore::open(cfg->state_path);
    REQUIRE(state.ok());
    auto svc = MitigationService::open(**state, cfg->mitigation, false);
    REQUIRE(svc.ok());
    // Prometheus is down; the exporter's scrape counts alice's messages.
    Resolver resolver(cfg->prometheus, cfg->policy, [](const HttpRequest& req) {
        HttpResponse r;
        if (req.url.find("/api/v1/") != std::string::npos) {
            r.error = "Couldn't connect to server";
            return r;
        }
        r.status = 200;
        r.body = "postfix_sasl_user_messages_total{sasl_username=\"alice@example.com\"} 40\n";
        return r;
    });
    testing::RecordingNotifier notifier;
    {
        Intake intake(testing::open_session(cfg->state_path, store::Durability::Full));
        auto payload = testing::payload_json({testing::alert_json("00000000000000a1")});
        auto p = parse_webhook(payload.dump());
        REQUIRE(p.ok());
        REQUIRE(intake.accept(*p, payload.dump()).ok());
    }
    Worker worker(testing::open_session(cfg->state_path), *cfg, resolver, **svc, notifier, nullptr,
                  svc->get());
    REQUIRE(worker.run_once().value() == 1);
    auto rows = (*svc)->repository().actions(10);
    REQUIRE(rows.ok());
    REQUIRE(rows->size() == 1);  // no second, audit-only row for the same action
    const auto& a = rows->front();
    CHECK(a.kind == "block_login");
    CHECK(a.actor == "auto");
    CHECK(a.incident_id == 1);
    CHECK(a.state == "applied");
    CHECK(a.dry_run);
    CHECK(a.started_at.has_value());
    CHECK(a.result == "would block login alice@example.com (dry run)");
    REQUIRE(notifier.opened.size() == 1);
    CHECK(notifier.opened[0].results.at(0).outcome.action_id == a.id);
}

TEST_CASE("ActiveBlocks finds what another process put in force or lifted") {
    TempDir d;
    auto state = store::StateStore::open(d.path("state.db"));
    REQUIRE(state.ok());
    ActiveBlocks blocks((*state)->session().value());
    REQUIRE(blocks.refresh().ok());
    std::vector<BlockChange> heard;
    blocks.subscribe([&](const BlockChange& c) { heard.push_back(c); });

    // As saslguardctl would: its own connection, its own rows.
    auto other = (*state)->session().value();
    store::ActionRecord a;
    a.kind = "block_login";
    a.target = "alice@example.com";
    a.actor = "cli:root";
    a.incident_id = 0;
    a.created_at = 1000;
    auto id = other->mitigation().insert_action(a).value();
    store::ActionFinish f;
    f.action_id = id;
    f.state = "applied";
    f.finished_at = 1001;
    f.put_blocks.push_back({"login", "alice@example.com", id, 1000, std::nullopt});
    REQUIRE(other->mitigation().finish_action(f).ok());
    CHECK_FALSE(blocks.login_blocked("alice@example.com"));  // not read yet

    REQUIRE(blocks.refresh().ok());
    CHECK(blocks.login_blocked("alice@example.com"));
    REQUIRE(heard.size() == 1);
    REQUIRE(heard[0].added.size() == 1);
    CHECK(heard[0].added[0].actor == "cli:root");
    CHECK(heard[0].actor.empty());  // found by a refresh, not made here
    REQUIRE(blocks.refresh().ok());
    CHECK(heard.size() == 1);  // nothing changed: nothing heard

    store::ActionFinish u;
    u.action_id = other->mitigation().insert_action(a).value();
    u.state = "applied";
    u.remove_blocks.push_back({"login", "alice@example.com", 0, 0, std::nullopt});
    REQUIRE(other->mitigation().finish_action(u).ok());
    REQUIRE(blocks.refresh().ok());
    CHECK_FALSE(blocks.login_blocked("alice@example.com"));
    REQUIRE(heard.size() == 2);
    CHECK(heard[1].removed.at(0).action_id == id);
}
