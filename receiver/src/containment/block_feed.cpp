#include "saslguard/receiver/containment/block_feed.hpp"

#include <atomic>
#include <chrono>
#include <mutex>
#include <vector>

#include "saslguard/common/log.hpp"

namespace saslguard::receiver::containment {

struct ActiveBlocksView::State {
    smtp_policy::BlockSet set;
    std::mutex rebuilding;  // one rebuild at a time: the last one reads the newest state
    std::atomic<std::uint64_t> rebuilds{0};
    // What the set holds now (the snapshot's order is stable: by kind, target).
    std::vector<std::string> last_logins, last_ips;

    void rebuild(const mitigation::ActiveBlocks& blocks) {
        std::lock_guard lock(rebuilding);
        const auto t0 = std::chrono::steady_clock::now();
        std::vector<std::string> logins, ips;
        for (const auto& b : blocks.snapshot()) {
            if (b.kind == "login" || b.kind == "account")
                logins.push_back(b.target);
            else if (b.kind == "ip")
                ips.push_back(b.target);
        }
        // A change of holds only (or a refresh that found nothing new for the
        // service) leaves the set as it is.
        if (rebuilds.load() > 0 && logins == last_logins && ips == last_ips) return;
        const std::size_t invalid = set.replace(logins, ips);
        last_logins = std::move(logins);
        last_ips = std::move(ips);
        const auto n = ++rebuilds;
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::steady_clock::now() - t0)
                            .count();
        if (invalid > 0)
            log::warn("policy: blocked IPs the policy service cannot read, skipped",
                      {{"count", std::to_string(invalid)}});
        // Info: blocks change a few times a day, and this line is when a block
        // took effect for the policy service (docs/policy-service.md measures it).
        log::info("policy: blocks updated", {{"logins", std::to_string(set.login_count())},
                                             {"client_ips", std::to_string(set.client_count())},
                                             {"rebuild", std::to_string(n)},
                                             {"took_us", std::to_string(us)}});
    }
};

ActiveBlocksView::ActiveBlocksView(mitigation::ActiveBlocks& blocks)
    : m_state(std::make_shared<State>()), m_blocks(blocks) {
    // Subscribe first, then fill: a change in between is in the snapshot or
    // rebuilds again after it; a rebuild always reads the newest state.
    std::weak_ptr<State> weak = m_state;
    m_subscription = m_blocks.subscribe([weak, &blocks](const mitigation::BlockChange&) {
        if (auto s = weak.lock()) s->rebuild(blocks);
    });
    m_state->rebuild(m_blocks);
}

ActiveBlocksView::~ActiveBlocksView() {
    m_blocks.unsubscribe(m_subscription);
}

bool ActiveBlocksView::login_blocked(std::string_view canonical_login) const {
    return m_state->set.login_blocked(canonical_login);
}

bool ActiveBlocksView::client_blocked(std::string_view canonical_ip) const {
    return m_state->set.client_blocked(canonical_ip);
}

std::uint64_t ActiveBlocksView::rebuilds() const {
    return m_state->rebuilds.load();
}

std::size_t ActiveBlocksView::login_count() const {
    return m_state->set.login_count();
}

std::size_t ActiveBlocksView::client_count() const {
    return m_state->set.client_count();
}

}  // namespace saslguard::receiver::containment
