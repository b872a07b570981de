#include "saslguard/receiver/mitigation/active_blocks.hpp"

#include "saslguard/common/log.hpp"
#include "saslguard/common/validate.hpp"

namespace saslguard::receiver::mitigation {
namespace {
bool same(const BlockRecord& a, const BlockRecord& b) {
    return a.action_id == b.action_id && a.expires_at == b.expires_at;
}
}  // namespace

ActiveBlocks::ActiveBlocks(std::unique_ptr<store::Session> session)
    : m_session(std::move(session)) {}

ActiveBlocks::~ActiveBlocks() {
    {
        std::lock_guard lock(m_watch_mutex);
        m_stopping = true;
    }
    m_watch_cv.notify_all();
    if (m_watch.joinable()) m_watch.join();
}

std::vector<BlockRecord> ActiveBlocks::snapshot() const {
    std::shared_lock lock(m_mutex);
    std::vector<BlockRecord> out;
    out.reserve(m_blocks.size());
    for (const auto& [key, b] : m_blocks) out.push_back(b);
    return out;
}

// The key a target is filed under: its canonical form, or (a target with none,
// which the Mitigator never records but another executor may) as written.
std::optional<std::string> canonical_block_target(std::string_view kind, std::string_view target) {
    auto key = kind == "ip" ? validate::canonical_ip(target) : validate::canonical_login(target);
    return key ? key : std::optional<std::string>(std::string(target));
}

std::optional<BlockRecord> ActiveBlocks::find(std::string_view kind,
                                              std::string_view target) const {
    auto key = canonical_block_target(kind, target);
    if (!key) return std::nullopt;
    std::shared_lock lock(m_mutex);
    auto it = m_blocks.find(Key(kind, *key));
    if (it == m_blocks.end()) return std::nullopt;
    return it->second;
}

bool ActiveBlocks::is_blocked(std::string_view kind, std::string_view target) const {
    auto key = canonical_block_target(kind, target);
    if (!key) return false;
    std::shared_lock lock(m_mutex);
    return m_blocks.find(Key(kind, *key)) != m_blocks.end();
}

std::size_t ActiveBlocks::subscribe(Listener listener) {
    std::lock_guard lock(m_listeners_mutex);
    m_listeners.emplace_back(m_next_handle, std::move(listener));
    return m_next_handle++;
}

void ActiveBlocks::unsubscribe(std::size_t handle) {
    std::lock_guard lock(m_listeners_mutex);
    std::erase_if(m_listeners, [&](const auto& l) { return l.first == handle; });
}

void ActiveBlocks::notify(const BlockChange& change) {
    std::vector<Listener> listeners;
    {
        std::lock_guard lock(m_listeners_mutex);
        for (const auto& [h, l] : m_listeners) listeners.push_back(l);
    }
    for (const auto& l : listeners) l(change);
}

void ActiveBlocks::apply(const BlockChange& change) {
    if (change.added.empty() && change.removed.empty()) return;
    {
        std::unique_lock lock(m_mutex);
        for (const auto& b : change.removed) m_blocks.erase(Key(b.kind, b.target));
        for (const auto& b : change.added) m_blocks[Key(b.kind, b.target)] = b;
        ++m_generation;
    }
    notify(change);
}

Result<void> ActiveBlocks::refresh() {
    if (!m_session) return {};
    std::lock_guard refreshing(m_refresh_mutex);
    auto rows = m_session->mitigation().blocks();
    if (!rows) return rows.error();
    BlockChange change;
    {
        std::unique_lock lock(m_mutex);
        std::map<Key, BlockRecord, std::less<>> next;
        for (auto& b : *rows) next[Key(b.kind, b.target)] = std::move(b);
        for (const auto& [key, b] : m_blocks) {
            auto it = next.find(key);
            if (it == next.end()) change.removed.push_back(b);
        }
        for (const auto& [key, b] : next) {
            auto it = m_blocks.find(key);
            if (it == m_blocks.end() || !same(it->second, b)) change.added.push_back(b);
        }
        if (change.added.empty() && change.removed.empty()) return {};
        m_blocks = std::move(next);
        ++m_generation;
    }
    notify(change);
    return {};
}

void ActiveBlocks::watch(std::chrono::milliseconds interval) {
    if (m_watch.joinable()) return;
    m_watch = std::thread([this, interval] {
        std::unique_lock lock(m_watch_mutex);
        while (!m_watch_cv.wait_for(lock, interval, [&] { return m_stopping; })) {
            lock.unlock();
            if (auto r = refresh(); !r)
                log::warn("reading the blocks in force failed", {{"error", r.error().message}});
            lock.lock();
        }
    });
}

}  // namespace saslguard::receiver::mitigation
