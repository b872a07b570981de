#include "saslguard/receiver/connection_gate.hpp"

#include <sys/socket.h>

namespace saslguard::receiver {

ConnectionGate::ConnectionGate(ConnectionLimits limits, Cut cut)
    : m_limits(limits), m_cut(std::move(cut)) {
    if (!m_cut) m_cut = [](int fd) { ::shutdown(fd, SHUT_RDWR); };
}

std::map<std::uint64_t, ConnectionGate::Slot>::iterator ConnectionGate::victim(
    const std::string& client, Clock::time_point now) {
    auto best = m_slots.end();
    for (auto it = m_slots.begin(); it != m_slots.end(); ++it) {
        const Slot& s = it->second;
        if (s.cut || s.trusted || !s.waiting || (!client.empty() && s.client != client)) continue;
        if (now - s.since < m_limits.evict_after) continue;
        if (best == m_slots.end() || s.since < best->second.since) best = it;
    }
    return best;
}

std::uint64_t ConnectionGate::admit(const std::string& client, int fd, Clock::time_point now) {
    std::lock_guard<std::mutex> lock(m_mutex);
    auto room = m_slots.end();
    bool full = false;
    if (m_per_client[client] >= m_limits.max_per_client) {
        full = true;
        room = victim(client, now);
    } else if (m_live >= m_limits.max_connections) {
        full = true;
        room = victim("", now);
    }
    if (full) {
        if (room == m_slots.end()) {
            ++m_refused;
            if (m_per_client[client] == 0) m_per_client.erase(client);
            return 0;
        }
        Slot& s = room->second;
        m_cut(s.fd);
        s.cut = true;
        --m_live;
        if (--m_per_client[s.client] == 0) m_per_client.erase(s.client);
        ++m_evicted;
    }
    const std::uint64_t id = m_next_id++;
    m_slots[id] = Slot{client, fd, now, true, false, false};
    ++m_per_client[client];
    ++m_live;
    return id;
}

void ConnectionGate::request_started(std::uint64_t id, Clock::time_point now) {
    std::lock_guard<std::mutex> lock(m_mutex);
    if (auto it = m_slots.find(id); it != m_slots.end()) {
        it->second.since = now;
        it->second.waiting = false;
    }
}

void ConnectionGate::idle(std::uint64_t id, Clock::time_point now) {
    std::lock_guard<std::mutex> lock(m_mutex);
    if (auto it = m_slots.find(id); it != m_slots.end()) {
        it->second.since = now;
        it->second.waiting = true;
        it->second.trusted = false;
    }
}

void ConnectionGate::trust(std::uint64_t id) {
    std::lock_guard<std::mutex> lock(m_mutex);
    if (auto it = m_slots.find(id); it != m_slots.end()) it->second.trusted = true;
}

void ConnectionGate::waiting(std::uint64_t id, bool on) {
    std::lock_guard<std::mutex> lock(m_mutex);
    if (auto it = m_slots.find(id); it != m_slots.end()) it->second.waiting = on;
}

void ConnectionGate::release(std::uint64_t id) {
    std::lock_guard<std::mutex> lock(m_mutex);
    auto it = m_slots.find(id);
    if (it == m_slots.end()) return;
    if (!it->second.cut) {
        --m_live;
        if (--m_per_client[it->second.client] == 0) m_per_client.erase(it->second.client);
    }
    m_slots.erase(it);
}

std::size_t ConnectionGate::size() const {
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_slots.size();
}

std::uint64_t ConnectionGate::refused() const {
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_refused;
}

std::uint64_t ConnectionGate::evicted() const {
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_evicted;
}

}  // namespace saslguard::receiver
