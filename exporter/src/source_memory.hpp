#pragma once
// SourceMemory: the client networks each SASL user has submitted from over a long
// horizon (default 30 days), so that a submission from a network new for that
// user can be counted (postfix_sasl_user_new_source_messages_total).
//
// A network is the client address's IPv4 /24 or IPv6 /64: a home router or an
// office keeps its network when its address changes, a VPS or a botnet host does
// not share it. Mobile carriers hand out addresses from many /24s, so a phone
// produces new networks now and then: this is a corroborating signal for the
// rules, never an alert on its own (docs/rules.md).
//
// New: a network a user had not used within `horizon_s` becomes new when it
// first appears, and its submissions stay "new" for `new_for_s` after that (a
// spammer's thousand messages from a VPS all count, not just the first one);
// then it is known. Every network of a user the memory has never seen is new (a
// dormant account waking up).
// Learning: until `learning_s` of log time has passed since the memory was first
// created (kept across restarts in the state file), networks are remembered but
// nothing is called new — a fresh install knows nobody's habits yet.
//
// Bounds: at most `max_users` users (the least recently active is forgotten
// first) and `max_networks_per_user` networks per user (the least recently seen
// is forgotten first); entries older than the horizon are dropped. Memory is
// about 40 bytes per network plus the username per user (docs/exporter.md).
//
// Persistence: serialize()/load() use a small line-oriented text format
// (documented in source_memory.cpp); the caller writes it with
// files::write_atomic (temporary file, fsync, rename, mode 0600): a crash leaves
// the old or the new file, never half of one.
//
// Not thread-safe: the caller serializes access (LogMetrics holds its mutex).
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "saslguard/common/result.hpp"

namespace saslguard::exporter {

struct SourceMemoryConfig {
    std::int64_t horizon_s = 30 * 86400;
    std::int64_t learning_s = 7 * 86400;
    std::int64_t new_for_s = 86400;
    std::size_t max_users = 10000;
    std::size_t max_networks_per_user = 32;
};

// A client network: IPv4 /24 or IPv6 /64 (the prefix bits, host part zero).
struct Network {
    std::uint64_t prefix = 0;  // IPv4: the /24 as a 32-bit address; IPv6: the top 64 bits
    bool v6 = false;
    bool operator==(const Network& o) const { return prefix == o.prefix && v6 == o.v6; }
};
// The network of an address as Postfix prints it ("192.0.2.7", "2001:db8::1",
// "::ffff:192.0.2.7" counts as IPv4). nullopt for anything that is not an address.
std::optional<Network> network_of(std::string_view ip);
// "192.0.2.0/24", "2001:db8:1:2::/64".
std::string to_string(const Network& n);
std::optional<Network> parse_network(std::string_view text);

class SourceMemory {
public:
    enum class Seen { Known, New, Learning };

    explicit SourceMemory(SourceMemoryConfig config) : m_config(config) {}

    // A submission by `user` (a sanitized label value) from `net` at log time `now`.
    // Remembers the network and says whether it was new for that user.
    Seen observe(std::string_view user, const Network& net, std::int64_t now);

    // The state as text; entries past the horizon (relative to `now`) are left out.
    std::string serialize(std::int64_t now) const;
    // Replaces the state with `text`. A line that cannot be read is skipped and
    // reported as "NAME:LINE: what" in `warnings`; a wrong header is an error and
    // leaves the memory empty.
    Result<std::size_t> load(std::string_view text, const std::string& name,
                             std::vector<std::string>& warnings);

    std::size_t users() const { return m_index.size(); }
    std::size_t networks() const { return m_networks; }
    std::uint64_t users_forgotten() const { return m_users_forgotten; }
    std::int64_t learning_since() const { return m_learning_since; }
    const SourceMemoryConfig& config() const { return m_config; }

private:
    struct Known {
        Network net;
        std::int64_t first_seen;  // since it last became new (after a gap > horizon)
        std::int64_t last_seen;
    };
    struct UserEntry {
        std::string name;
        std::int64_t last_seen = 0;
        std::vector<Known> nets;  // few per user: linear search beats hashing
    };
    using List = std::list<UserEntry>;  // most recently active first

    UserEntry& entry_for(std::string_view user, std::int64_t now);
    // Returns the entry (new or updated).
    Known& add_network(UserEntry& u, const Network& net, std::int64_t first, std::int64_t last);

    SourceMemoryConfig m_config;
    std::int64_t m_learning_since = 0;  // 0: not started (no line, no state yet)
    List m_users;
    std::unordered_map<std::string_view, List::iterator> m_index;  // views into List names
    std::size_t m_networks = 0;
    std::uint64_t m_users_forgotten = 0;
};

}  // namespace saslguard::exporter
