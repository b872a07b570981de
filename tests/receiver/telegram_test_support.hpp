#pragma once
// Helpers shared by the Telegram integration tests: a temp dir, a child process
// (the emulator), a recording ActionExecutor, a fixed CommandBackend, waiting for
// a condition instead of sleeping.
#include <chrono>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "saslguard/common/subprocess.hpp"
#include "saslguard/receiver/actions.hpp"
#include "saslguard/receiver/mitigation/active_blocks.hpp"
#include "saslguard/receiver/mitigation/catalog.hpp"
#include "saslguard/receiver/store/state_store.hpp"
#include "saslguard/receiver/telegram/bot.hpp"
#include "store_under_test.hpp"
#include "test_support.hpp"

namespace tgtest {

using namespace saslguard;
using namespace saslguard::receiver;
using namespace saslguard::receiver::telegram;

using saslguard::test::free_port;
using saslguard::test::TempDir;
using saslguard::test::wait_until;

using store::TelegramRepository;

// The state store of a test, and one session of it for the test's own thread.
struct TestStore {
    std::unique_ptr<store::StateStore> state;
    std::unique_ptr<store::Session> session;
    explicit TestStore(const std::string& path) {
        state = saslguard::receiver::testing::open_store(path);
        auto ss = state->session();
        if (!ss) throw std::runtime_error(ss.error().message);
        session = std::move(*ss);
    }
    store::TelegramRepository& operator*() { return session->telegram(); }
    store::TelegramRepository* operator->() { return &session->telegram(); }
};

// A child process (the emulator) with its output in `log_path`, stopped with
// the object (common's spawner: SIGTERM to its process group, then reaped).
class Child {
public:
    Child(const std::vector<std::string>& argv, const std::string& log_path) {
        ChildOptions o;
        o.output = ChildOptions::Output::File;
        o.output_path = log_path;
        auto c = ChildProcess::spawn(argv, o);
        if (c) m_child.emplace(std::move(*c));
    }
    bool started() const { return m_child.has_value(); }

private:
    std::optional<ChildProcess> m_child;
};

// Records every request and answers as a successful executor would; with
// `blocks`, it also puts in force (or lifts) the block each kind's descriptor
// names, as the Mitigator does, so Undo buttons render.
class RecordingExecutor final : public ActionExecutor {
public:
    ActionOutcome execute(const ActionRequest& r) override {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_requests.push_back(r);
        ActionOutcome o;
        o.ok = !(fail_user == r.username);
        o.action_id = static_cast<std::int64_t>(m_requests.size());
        std::string verb(to_string(r.kind));
        for (auto& c : verb)
            if (c == '_') c = ' ';
        o.summary = verb + " " + r.username;
        if (!o.ok) o.error = "exit 1: simulated failure";
        const auto* a = mitigation::catalog().find(r.kind);
        if (o.ok && blocks && a && !a->block_kind.empty() &&
            a->target == mitigation::TargetKind::Login) {
            mitigation::BlockChange c;
            store::BlockRecord b{std::string(a->block_kind), r.username, o.action_id, 0,
                                 std::nullopt};
            b.actor = r.actor;
            b.incident_id = r.incident_id;
            (a->lifts ? c.removed : c.added).push_back(b);
            c.action_id = o.action_id;
            c.actor = r.actor;
            c.incident_id = r.incident_id;
            blocks->apply(c);
        }
        return o;
    }
    mitigation::ActiveBlocks* blocks = nullptr;
    std::vector<ActionRequest> requests() {
        std::lock_guard<std::mutex> lock(m_mutex);
        return m_requests;
    }
    std::size_t count() {
        std::lock_guard<std::mutex> lock(m_mutex);
        return m_requests.size();
    }
    std::string fail_user;

private:
    std::mutex m_mutex;
    std::vector<ActionRequest> m_requests;
};

class FixedBackend final : public CommandBackend {
public:
    Result<StatusInfo> status() override {
        StatusInfo s;
        s.open_incidents = {{1, "SaslUserSendingSurge", "alice@example.com", 1795400000000}};
        s.active_blocks = 2;
        s.queue_depth = 5321;
        return s;
    }
    Result<std::vector<UserCount>> top_users(std::size_t) override {
        return std::vector<UserCount>{{"alice@example.com", 1234}, {"bob<b>@example.com", 7}};
    }
    Result<QueueInfo> queue() override {
        QueueInfo q;
        q.depth = 5321;
        q.top_senders = {{"alice@example.com", 5000}};
        return q;
    }
    Result<std::vector<BlockInfo>> blocked() override {
        return std::vector<BlockInfo>{
            {"login", "alice@example.com", "telegram:1001", std::nullopt}};
    }
};

// A bot configuration for tests: one admin (user and chat 1001), 1s long polls.
inline TelegramConfig bot_config(const std::string& api_url,
                                 const std::string& token = "42:SECRET") {
    TelegramConfig c;
    c.enabled = true;
    c.api_url = api_url;
    c.bot_token = token;
    c.admin_chat_ids = {1001};
    c.admin_user_ids = {1001};
    c.poll_timeout = std::chrono::seconds(1);
    return c;
}

inline IncidentNotice sample_notice(std::int64_t id, const std::string& user) {
    IncidentNotice n;
    n.incident_id = id;
    n.alertname = "SaslUserSendingSurge";
    n.severity = "critical";
    n.summary = "one user sends far above baseline";
    n.alert.status = "firing";
    n.alert.labels = {
        {"alertname", "SaslUserSendingSurge"}, {"sasl_username", user}, {"severity", "critical"}};
    n.external_url = "http://127.0.0.1:9093";
    n.evidence.source = "label";
    n.evidence.conclusive = true;
    n.evidence.culprit = user;
    n.evidence.window = "10m";
    n.evidence.queue_depth = 5321;
    UserEvidence u;
    u.username = user;
    u.messages = 1234;
    u.share = 0.9;
    u.distinct_ips = 14;
    u.bounce_ratio = 0.42;
    n.evidence.top_users = {u};
    n.decision.mode = Mode::Confirm;
    n.decision.configured_mode = Mode::Confirm;
    n.decision.actions = {ActionKind::BlockLogin, ActionKind::HoldMail, ActionKind::DeleteMail};
    n.decision.reason = "confirm: culprit named by the alert";
    return n;
}

}  // namespace tgtest
