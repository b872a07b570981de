#include "correlator.hpp"

#include <algorithm>
#include <cstring>

namespace saslguard::exporter {
namespace {
std::uint64_t hash(std::string_view s) {
    std::uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    return h ^ (h >> 29);
}
bool same(const Correlator::Entry& e, std::string_view k) {
    return e.key_len == k.size() && std::memcmp(e.key, k.data(), k.size()) == 0;
}
}  // namespace

Correlator::Correlator(std::size_t max_entries, std::int64_t ttl_s)
    : m_max(max_entries), m_ttl(ttl_s) {
    std::size_t cap = 16;
    while (cap < max_entries * 2) cap <<= 1;  // load factor <= 1/2: short probes
    m_slots.assign(cap, Entry{});
    m_mask = cap - 1;
}

std::size_t Correlator::slot_of(std::string_view qid) const {
    std::size_t i = hash(qid) & m_mask;
    while (m_slots[i].key_len != 0 && !same(m_slots[i], qid)) i = (i + 1) & m_mask;
    return i;
}

void Correlator::put(std::string_view qid, std::uint32_t user, std::uint32_t generation,
                     std::int64_t now) {
    if (qid.empty() || qid.size() > sizeof(Entry::key)) return;
    std::size_t i = slot_of(qid);
    if (m_slots[i].key_len == 0) {
        if (m_size >= m_max) {
            sweep(now);
            i = slot_of(qid);
        }
        ++m_size;
    }
    Entry& e = m_slots[i];
    std::memcpy(e.key, qid.data(), qid.size());
    e.key_len = static_cast<std::uint8_t>(qid.size());
    e.recipients_counted = false;
    e.user = user;
    e.generation = generation;
    e.seen = now;
}

Correlator::Entry* Correlator::find(std::string_view qid) {
    if (qid.empty() || qid.size() > sizeof(Entry::key) || m_size == 0) return nullptr;
    Entry& e = m_slots[slot_of(qid)];
    return e.key_len ? &e : nullptr;
}

void Correlator::erase(std::string_view qid) {
    if (qid.empty() || qid.size() > sizeof(Entry::key) || m_size == 0) return;
    std::size_t i = slot_of(qid);
    if (m_slots[i].key_len == 0) return;
    // Backward-shift deletion keeps every probe chain unbroken without tombstones.
    std::size_t j = i;
    while (true) {
        j = (j + 1) & m_mask;
        if (m_slots[j].key_len == 0) break;
        std::size_t home = hash(std::string_view(m_slots[j].key, m_slots[j].key_len)) & m_mask;
        // Move j into the hole i unless its home lies cyclically in (i, j].
        bool home_in_range = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!home_in_range) {
            m_slots[i] = m_slots[j];
            i = j;
        }
    }
    m_slots[i] = Entry{};
    --m_size;
}

void Correlator::insert_fresh(const Entry& e) {
    std::size_t i = slot_of(std::string_view(e.key, e.key_len));
    m_slots[i] = e;
    ++m_size;
}

void Correlator::sweep(std::int64_t now) {
    std::vector<Entry> live;
    live.reserve(m_size);
    for (const Entry& e : m_slots)
        if (e.key_len) {
            if (e.seen >= now - m_ttl)
                live.push_back(e);
            else
                ++m_expired;
        }
    if (live.size() > m_max * 3 / 4) {
        // Nothing old enough expired: drop the oldest quarter to make room.
        std::size_t drop = live.size() - m_max * 3 / 4;
        std::nth_element(live.begin(), live.begin() + static_cast<std::ptrdiff_t>(drop), live.end(),
                         [](const Entry& a, const Entry& b) { return a.seen < b.seen; });
        live.erase(live.begin(), live.begin() + static_cast<std::ptrdiff_t>(drop));
        m_evicted += drop;
    }
    std::fill(m_slots.begin(), m_slots.end(), Entry{});
    m_size = 0;
    for (const Entry& e : live) insert_fresh(e);
}

}  // namespace saslguard::exporter
