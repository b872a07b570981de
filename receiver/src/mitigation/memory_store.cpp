#include <algorithm>

#include "saslguard/receiver/mitigation/store.hpp"

namespace saslguard::receiver::mitigation {

Result<std::int64_t> MemoryMitigationStore::insert_action(const ActionRecord& record) {
    m_actions.push_back(record);
    m_actions.back().id = static_cast<std::int64_t>(m_actions.size());
    return m_actions.back().id;
}

Result<void> MemoryMitigationStore::finish_action(const ActionFinish& f) {
    if (f.action_id <= 0 || f.action_id > static_cast<std::int64_t>(m_actions.size()))
        return make_error("no action " + std::to_string(f.action_id));
    auto& a = m_actions[static_cast<std::size_t>(f.action_id - 1)];
    a.state = f.state;
    a.result = f.result;
    a.error = f.error;
    if (!f.params_json.empty()) a.params_json = f.params_json;
    a.finished_at = f.finished_at;
    if (!f.reverted_actions.empty()) a.reverts_action_id = f.reverted_actions.front();
    for (const auto& b : f.remove_blocks)
        m_blocks.erase(
            std::remove_if(m_blocks.begin(), m_blocks.end(),
                           [&](const auto& x) { return x.kind == b.kind && x.target == b.target; }),
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
        if (id > 0 && id <= static_cast<std::int64_t>(m_actions.size()))
            m_actions[static_cast<std::size_t>(id - 1)].state = "reverted";
    return {};
}

Result<std::optional<BlockRecord>> MemoryMitigationStore::find_block(const std::string& kind,
                                                                     const std::string& target) {
    for (const auto& b : m_blocks)
        if (b.kind == kind && b.target == target) return std::optional<BlockRecord>(b);
    return std::optional<BlockRecord>{};
}

Result<std::vector<BlockRecord>> MemoryMitigationStore::blocks() {
    return m_blocks;
}

Result<std::vector<ActionRecord>> MemoryMitigationStore::actions(std::size_t limit) {
    std::vector<ActionRecord> out(m_actions.rbegin(), m_actions.rend());
    if (out.size() > limit) out.resize(limit);
    return out;
}

Result<std::optional<ActionRecord>> MemoryMitigationStore::action(std::int64_t id) {
    if (id <= 0 || id > static_cast<std::int64_t>(m_actions.size()))
        return std::optional<ActionRecord>{};
    return std::optional<ActionRecord>(m_actions[static_cast<std::size_t>(id - 1)]);
}

}  // namespace saslguard::receiver::mitigation
