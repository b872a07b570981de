#pragma once
// An in-memory MitigationRepository for the Mitigator's unit tests: the same
// contract as the SQLite one (store/mitigation_repository.hpp), no file.
#include <algorithm>

#include "saslguard/receiver/store/mitigation_repository.hpp"

namespace saslguard::receiver::testing {

class MemoryMitigationRepository final : public store::MitigationRepository {
public:
    using ActionRecord = store::ActionRecord;
    using BlockRecord = store::BlockRecord;

    Result<std::int64_t> insert_action(const ActionRecord& record) override {
        m_actions.push_back(record);
        m_actions.back().id = static_cast<std::int64_t>(m_actions.size());
        return m_actions.back().id;
    }
    Result<void> update_action(const ActionRecord& r) override {
        auto* a = find(r.id);
        if (!a) return make_error("no action " + std::to_string(r.id));
        a->target = r.target;
        a->params_json = r.params_json;
        a->reason = r.reason;
        a->dry_run = r.dry_run;
        a->state = r.state;
        a->error = r.error;
        a->expires_at = r.expires_at;
        if (!a->started_at) a->started_at = r.started_at;
        a->finished_at = r.finished_at;
        return {};
    }
    Result<bool> start_action(std::int64_t id, std::int64_t now) override {
        auto* a = find(id);
        if (!a || a->state != "planned") return false;
        a->state = "running";
        a->started_at = now;
        return true;
    }
    Result<void> finish_action(const store::ActionFinish& f) override {
        auto* a = find(f.action_id);
        if (!a) return make_error("no action " + std::to_string(f.action_id));
        a->state = f.state;
        a->result = f.result;
        a->error = f.error;
        if (!f.params_json.empty()) a->params_json = f.params_json;
        a->finished_at = f.finished_at;
        if (!f.reverted_actions.empty()) a->reverts_action_id = f.reverted_actions.front();
        for (const auto& b : f.remove_blocks)
            m_blocks.erase(std::remove_if(m_blocks.begin(), m_blocks.end(),
                                          [&](const auto& x) {
                                              return x.kind == b.kind && x.target == b.target;
                                          }),
                           m_blocks.end());
        for (const auto& b : f.put_blocks) {
            auto it = std::find_if(m_blocks.begin(), m_blocks.end(), [&](const auto& x) {
                return x.kind == b.kind && x.target == b.target;
            });
            if (it != m_blocks.end())
                *it = b;
            else
                m_blocks.push_back(b);
        }
        for (auto id : f.reverted_actions)
            if (auto* r = find(id); r && r->state == "applied") r->state = "reverted";
        return {};
    }
    Result<void> settle_action(std::int64_t id, bool ok, const std::string& result,
                               const std::string& error, std::int64_t now) override {
        if (auto* a = find(id); a && a->state == "running") {
            a->state = ok ? "applied" : "failed";
            a->result = result;
            a->error = error;
            a->finished_at = now;
        }
        return {};
    }
    Result<void> interrupt_action(std::int64_t id, const std::string& error,
                                  std::int64_t now) override {
        if (auto* a = find(id); a && a->state == "running") {
            a->state = "interrupted";
            a->error = error;
            a->finished_at = now;
        }
        return {};
    }
    Result<int> interrupt_running(const std::vector<std::string>& prefixes,
                                  const std::string& error, std::int64_t now) override {
        int n = 0;
        for (auto& a : m_actions)
            for (const auto& p : prefixes)
                if (a.state == "running" && a.actor.rfind(p, 0) == 0) {
                    a.state = "interrupted";
                    a.error = error;
                    a.finished_at = now;
                    ++n;
                }
        return n;
    }
    Result<std::int64_t> count_actions_since(const std::string& actor,
                                             std::int64_t since) override {
        return static_cast<std::int64_t>(std::count_if(
            m_actions.begin(), m_actions.end(),
            [&](const auto& a) { return a.actor == actor && a.created_at >= since; }));
    }
    Result<std::vector<ActionRecord>> actions_of_incident(std::int64_t incident,
                                                          const std::string& actor) override {
        std::vector<ActionRecord> out;
        for (const auto& a : m_actions)
            if (a.incident_id == incident && a.actor == actor) out.push_back(a);
        return out;
    }
    Result<std::vector<ActionRecord>> actions(std::size_t limit) override {
        std::vector<ActionRecord> out(m_actions.rbegin(), m_actions.rend());
        if (out.size() > limit) out.resize(limit);
        return out;
    }
    Result<std::optional<ActionRecord>> action(std::int64_t id) override {
        auto* a = find(id);
        return a ? std::optional<ActionRecord>(*a) : std::nullopt;
    }
    Result<std::optional<BlockRecord>> find_block(const std::string& kind,
                                                  const std::string& target) override {
        for (const auto& b : m_blocks)
            if (b.kind == kind && b.target == target)
                return std::optional<BlockRecord>(with_actor(b));
        return std::optional<BlockRecord>{};
    }
    Result<std::vector<BlockRecord>> blocks() override {
        std::vector<BlockRecord> out;
        for (const auto& b : m_blocks) out.push_back(with_actor(b));
        std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
            return std::tie(a.kind, a.target) < std::tie(b.kind, b.target);
        });
        return out;
    }

private:
    ActionRecord* find(std::int64_t id) {
        if (id <= 0 || id > static_cast<std::int64_t>(m_actions.size())) return nullptr;
        return &m_actions[static_cast<std::size_t>(id - 1)];
    }
    BlockRecord with_actor(BlockRecord b) {
        if (auto* a = find(b.action_id)) {
            b.actor = a->actor;
            b.incident_id = a->incident_id;
        }
        return b;
    }
    std::vector<ActionRecord> m_actions;
    std::vector<BlockRecord> m_blocks;
};

}  // namespace saslguard::receiver::testing
