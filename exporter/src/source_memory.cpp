#include "source_memory.hpp"

#include <arpa/inet.h>
#include <algorithm>
#include <charconv>
#include <cstring>

#include "label_value.hpp"

// State file format (text, one record per line, fields separated by one TAB):
//   # comment lines
//   saslguard-exporter-sources 1                  header: format name and version
//   learning_since UNIX_SECONDS                     when learning started (log time)
//   user NAME LAST_SEEN NET=FIRST:LAST[,...]        one per user; NET as to_string(),
//                                                   FIRST/LAST: when it became new / was last used
// NAME is a sanitized label value (valid UTF-8, no control bytes, so no TAB or
// newline). Times are Unix seconds of log time.

namespace saslguard::exporter {
namespace {

constexpr std::string_view kHeader = "saslguard-exporter-sources\t1";
constexpr std::size_t kMaxName = 256;

bool parse_i64(std::string_view s, std::int64_t& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc{} && p == s.data() + s.size();
}

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    while (true) {
        std::size_t pos = s.find(sep, start);
        out.push_back(s.substr(start, pos == std::string_view::npos ? pos : pos - start));
        if (pos == std::string_view::npos) break;
        start = pos + 1;
    }
    return out;
}

}  // namespace

std::optional<Network> network_of(std::string_view ip) {
    if (ip.empty() || ip.size() > 45) return std::nullopt;
    char buf[46];
    std::memcpy(buf, ip.data(), ip.size());
    buf[ip.size()] = '\0';
    unsigned char a[16];
    if (::inet_pton(AF_INET, buf, a) == 1)
        return Network{
            (std::uint64_t{a[0]} << 24) | (std::uint64_t{a[1]} << 16) | (std::uint64_t{a[2]} << 8),
            false};
    if (::inet_pton(AF_INET6, buf, a) != 1) return std::nullopt;
    static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(a, kMapped, 12) == 0)
        return Network{(std::uint64_t{a[12]} << 24) | (std::uint64_t{a[13]} << 16) |
                           (std::uint64_t{a[14]} << 8),
                       false};
    std::uint64_t p = 0;
    for (int i = 0; i < 8; ++i) p = (p << 8) | a[i];
    return Network{p, true};
}

std::string to_string(const Network& n) {
    char buf[INET6_ADDRSTRLEN];
    if (!n.v6) {
        unsigned char a[4] = {static_cast<unsigned char>(n.prefix >> 24),
                              static_cast<unsigned char>(n.prefix >> 16),
                              static_cast<unsigned char>(n.prefix >> 8), 0};
        ::inet_ntop(AF_INET, a, buf, sizeof buf);
        return std::string(buf) + "/24";
    }
    unsigned char a[16] = {};
    for (int i = 0; i < 8; ++i) a[i] = static_cast<unsigned char>(n.prefix >> (56 - 8 * i));
    ::inet_ntop(AF_INET6, a, buf, sizeof buf);
    return std::string(buf) + "/64";
}

std::optional<Network> parse_network(std::string_view text) {
    auto slash = text.rfind('/');
    if (slash == std::string_view::npos) return std::nullopt;
    std::string_view len = text.substr(slash + 1);
    auto net = network_of(text.substr(0, slash));
    if (!net || len != (net->v6 ? "64" : "24")) return std::nullopt;
    // The host part must be zero: "192.0.2.7/24" is not what serialize() writes.
    if (to_string(*net) != text) return std::nullopt;
    return net;
}

SourceMemory::UserEntry& SourceMemory::entry_for(std::string_view user, std::int64_t now) {
    if (auto it = m_index.find(user); it != m_index.end()) {
        m_users.splice(m_users.begin(), m_users, it->second);  // most recent first: O(1)
        it->second->last_seen = std::max(it->second->last_seen, now);
        return *it->second;
    }
    if (m_index.size() >= m_config.max_users && !m_users.empty()) {
        UserEntry& oldest = m_users.back();
        m_networks -= oldest.nets.size();
        m_index.erase(oldest.name);
        m_users.pop_back();
        ++m_users_forgotten;
    }
    m_users.push_front(UserEntry{std::string(user), now, {}});
    m_index.emplace(m_users.front().name, m_users.begin());
    return m_users.front();
}

SourceMemory::Known& SourceMemory::add_network(UserEntry& u, const Network& net, std::int64_t first,
                                               std::int64_t last) {
    for (auto& k : u.nets)
        if (k.net == net) {
            k.last_seen = std::max(k.last_seen, last);
            return k;
        }
    if (u.nets.size() >= m_config.max_networks_per_user) {
        auto oldest = std::min_element(
            u.nets.begin(), u.nets.end(),
            [](const Known& a, const Known& b) { return a.last_seen < b.last_seen; });
        *oldest = Known{net, first, last};
        return *oldest;
    }
    u.nets.push_back(Known{net, first, last});
    ++m_networks;
    return u.nets.back();
}

SourceMemory::Seen SourceMemory::observe(std::string_view user, const Network& net,
                                         std::int64_t now) {
    if (m_learning_since == 0) m_learning_since = now;
    UserEntry& u = entry_for(user, now);
    // Networks past the horizon are forgotten here, lazily, one user at a time.
    const std::int64_t horizon_start = now - m_config.horizon_s;
    std::size_t before = u.nets.size();
    std::erase_if(u.nets, [&](const Known& k) { return k.last_seen < horizon_start; });
    m_networks -= before - u.nets.size();
    const Known& k = add_network(u, net, now, now);
    const std::int64_t learned_by = m_learning_since + m_config.learning_s;
    if (k.first_seen < learned_by) return now < learned_by ? Seen::Learning : Seen::Known;
    return now - k.first_seen < m_config.new_for_s ? Seen::New : Seen::Known;
}

std::string SourceMemory::serialize(std::int64_t now) const {
    std::string out;
    out.reserve(64 + m_index.size() * 48 + m_networks * 32);
    out += "# saslguard-exporter: client networks per SASL user (docs/exporter.md)\n";
    out += kHeader;
    out += "\nlearning_since\t" + std::to_string(m_learning_since) + "\n";
    const std::int64_t horizon_start = now - m_config.horizon_s;
    // Least recently active first, so that loading in file order rebuilds the same order.
    for (auto it = m_users.rbegin(); it != m_users.rend(); ++it) {
        std::string nets;
        for (const auto& k : it->nets) {
            if (k.last_seen < horizon_start) continue;
            if (!nets.empty()) nets += ',';
            nets += to_string(k.net) + "=" + std::to_string(k.first_seen) + ":" +
                    std::to_string(k.last_seen);
        }
        if (nets.empty()) continue;
        out += "user\t" + it->name + "\t" + std::to_string(it->last_seen) + "\t" + nets + "\n";
    }
    return out;
}

Result<std::size_t> SourceMemory::load(std::string_view text, const std::string& name,
                                       std::vector<std::string>& warnings) {
    m_users.clear();
    m_index.clear();
    m_networks = 0;
    m_learning_since = 0;
    std::size_t line_no = 0;
    bool header = false;
    std::size_t users = 0;
    for (std::string_view line : split(text, '\n')) {
        ++line_no;
        if (line.empty() || line[0] == '#') continue;
        auto where = [&] { return name + ":" + std::to_string(line_no) + ": "; };
        if (!header) {
            if (line != kHeader)
                return make_error(where() + "not a saslguard-exporter source memory (expected '" +
                                  std::string("saslguard-exporter-sources<TAB>1") + "')");
            header = true;
            continue;
        }
        auto f = split(line, '\t');
        if (f[0] == "learning_since" && f.size() == 2) {
            if (!parse_i64(f[1], m_learning_since) || m_learning_since < 0) {
                warnings.push_back(where() + "bad learning_since");
                m_learning_since = 0;
            }
            continue;
        }
        if (f[0] != "user" || f.size() != 4) {
            warnings.push_back(where() + "unknown record, skipped");
            continue;
        }
        std::int64_t user_last = 0;
        if (f[1].empty() || f[1].size() > kMaxName || !is_clean_label_value(f[1]) ||
            !parse_i64(f[2], user_last)) {
            warnings.push_back(where() + "bad user record, skipped");
            continue;
        }
        UserEntry& u = entry_for(f[1], user_last);
        bool bad = false;
        for (std::string_view item : split(f[3], ',')) {
            auto eq = item.find('=');
            auto colon = item.find(':', eq == std::string_view::npos ? 0 : eq);
            std::int64_t first = 0, last = 0;
            std::optional<Network> net;
            if (eq != std::string_view::npos && colon != std::string_view::npos)
                net = parse_network(item.substr(0, eq));
            if (!net || !parse_i64(item.substr(eq + 1, colon - eq - 1), first) ||
                !parse_i64(item.substr(colon + 1), last) || first > last) {
                bad = true;
                continue;
            }
            add_network(u, *net, first, last);
        }
        if (bad) warnings.push_back(where() + "unreadable networks skipped");
        ++users;
    }
    if (!header) return make_error(name + ": empty source memory file");
    return users;
}

}  // namespace saslguard::exporter
