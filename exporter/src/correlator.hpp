#pragma once
// Correlator: remembers which SASL user submitted which queue id, so that the
// later qmgr (nrcpt) and delivery (status=) lines of that message, which carry
// only the queue id, can be attributed to the user.
//
// Bounded and expiring: an open-addressing table of fixed capacity with the key
// stored inline (no allocation per message). Entries leave on qmgr "removed"; an
// entry not touched for `ttl` (log time) is dropped at the next sweep; when the
// table is full and nothing has expired, the oldest quarter is dropped and
// counted in evicted(). A sweep rebuilds the table (rare; amortised O(1)).
// Not thread-safe (the log thread owns it).
#include <cstdint>
#include <string_view>
#include <vector>

namespace saslguard::exporter {

class Correlator {
public:
    struct Entry {
        char key[20];
        std::uint8_t key_len = 0;         // 0: empty slot
        bool recipients_counted = false;  // qmgr repeats from=/nrcpt= on every retry
        std::uint32_t user = 0;           // slot in the user table
        std::uint32_t generation = 0;     // of that slot when the entry was made
        std::int64_t seen = 0;            // log time, seconds
    };

    Correlator(std::size_t max_entries, std::int64_t ttl_s);

    // Inserts or replaces. Queue ids longer than 20 bytes are ignored.
    void put(std::string_view qid, std::uint32_t user, std::uint32_t generation, std::int64_t now);
    // nullptr when unknown. The pointer is valid until the next put/erase.
    Entry* find(std::string_view qid);
    void erase(std::string_view qid);

    std::size_t size() const { return m_size; }
    std::uint64_t evicted() const { return m_evicted; }
    std::uint64_t expired() const { return m_expired; }

private:
    std::size_t slot_of(std::string_view qid) const;
    void sweep(std::int64_t now);
    void insert_fresh(const Entry& e);

    std::vector<Entry> m_slots;
    std::size_t m_mask = 0;
    std::size_t m_size = 0;
    std::size_t m_max;
    std::int64_t m_ttl;
    std::uint64_t m_evicted = 0;
    std::uint64_t m_expired = 0;
};

}  // namespace saslguard::exporter
