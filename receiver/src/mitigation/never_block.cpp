#include "saslguard/receiver/mitigation/never_block.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "saslguard/common/files.hpp"
#include "saslguard/common/validate.hpp"
#include "saslguard/receiver/mitigation/settings.hpp"

namespace saslguard::receiver::mitigation {
namespace {

struct Fixed {
    const char* network;
    const char* why;
};
constexpr Fixed kFixed[] = {
    {"127.0.0.0/8", "a loopback address"},      {"::1/128", "the loopback address"},
    {"0.0.0.0/8", "an unspecified address"},    {"::/128", "the unspecified address"},
    {"169.254.0.0/16", "a link-local address"}, {"fe80::/10", "a link-local address"},
};

std::optional<Network> parse_address(std::string text) {
    Network n;
    if (text.find(':') == std::string::npos) {
        in_addr a{};
        if (inet_pton(AF_INET, text.c_str(), &a) != 1) return std::nullopt;
        std::memcpy(n.bytes.data(), &a, 4);
        n.prefix = 32;
        return n;
    }
    in6_addr a6{};
    if (inet_pton(AF_INET6, text.c_str(), &a6) != 1) return std::nullopt;
    if (IN6_IS_ADDR_V4MAPPED(&a6)) {
        std::memcpy(n.bytes.data(), a6.s6_addr + 12, 4);
        n.prefix = 32;
        return n;
    }
    n.v6 = true;
    std::memcpy(n.bytes.data(), a6.s6_addr, 16);
    n.prefix = 128;
    return n;
}

bool separator(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',';
}

std::vector<std::string> tokens(std::string_view text) {
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && separator(text[i])) ++i;
        std::size_t j = i;
        while (j < text.size() && !separator(text[j])) ++j;
        if (j > i) out.emplace_back(text.substr(i, j - i));
        i = j;
    }
    return out;
}

}  // namespace

bool Network::contains(const Network& a) const {
    if (v6 != a.v6) return false;
    int bits = prefix;
    for (std::size_t i = 0; bits > 0; ++i, bits -= 8) {
        const unsigned mask = bits >= 8 ? 0xffu : (0xffu << (8 - bits)) & 0xffu;
        if ((bytes[i] & mask) != (a.bytes[i] & mask)) return false;
    }
    return true;
}

std::string Network::text() const {
    char out[INET6_ADDRSTRLEN] = {};
    inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), out, sizeof out);
    return std::string(out) + "/" + std::to_string(prefix);
}

std::optional<Network> parse_network(std::string_view text) {
    if (text.empty() || text.size() > 64) return std::nullopt;
    std::string_view addr = text;
    std::optional<int> prefix;
    if (auto slash = text.rfind('/'); slash != std::string_view::npos) {
        int p = -1;
        auto digits = text.substr(slash + 1);
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), p);
        if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty())
            return std::nullopt;
        prefix = p;
        addr = text.substr(0, slash);
    }
    if (addr.size() >= 2 && addr.front() == '[' && addr.back() == ']')
        addr = addr.substr(1, addr.size() - 2);
    const bool mapped_text = addr.find(':') != std::string_view::npos;
    auto n = parse_address(std::string(addr));
    if (!n) return std::nullopt;
    if (prefix) {
        int p = *prefix;
        if (mapped_text && !n->v6) p -= 96;  // ::ffff:127.0.0.0/104 is 127.0.0.0/8
        if (p < 0 || p > (n->v6 ? 128 : 32)) return std::nullopt;
        n->prefix = p;
    }
    return n;
}

MynetworksEntries parse_mynetworks(std::string_view text) {
    MynetworksEntries out;
    for (const auto& t : tokens(text)) {
        if (t.front() == '!') continue;  // an exclusion can only protect less
        if (t.front() == '/') {
            out.files.push_back(t);
        } else if (auto n = parse_network(t)) {
            out.networks.push_back(*n);
        } else if (auto colon = t.find(':');
                   colon != std::string::npos && colon > 0 && t.front() != '[' &&
                   std::all_of(t.begin(), t.begin() + colon,
                               [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; })) {
            out.tables.push_back(t);  // hash:/etc/postfix/network_table
        }
        // else a hostname or domain: it matches client names, never an address
    }
    return out;
}

std::vector<std::string> host_addresses() {
    std::vector<std::string> out;
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) return out;
    for (ifaddrs* i = list; i; i = i->ifa_next) {
        if (!i->ifa_addr) continue;
        char text[INET6_ADDRSTRLEN] = {};
        if (i->ifa_addr->sa_family == AF_INET)
            inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, text,
                      sizeof text);
        else if (i->ifa_addr->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr, text,
                      sizeof text);
        else
            continue;
        if (auto c = validate::canonical_ip(text)) out.push_back(*c);
    }
    ::freeifaddrs(list);
    return out;
}

NeverBlock::NeverBlock(const MitigationSettings& settings, CommandRunner& runner, OwnAddresses own)
    : m_settings(settings), m_runner(runner), m_own(std::move(own)) {}

Result<MynetworksEntries> NeverBlock::mynetworks() {
    std::vector<std::string> argv{m_settings.program("postconf"),
                                  "-c",
                                  m_settings.postfix_config_dir,
                                  "-x",
                                  "-h",
                                  "mynetworks"};
    ProcessOptions opt;
    opt.timeout = m_settings.command_timeout;
    auto r = m_runner.run(argv, opt);
    if (!r.success())
        return make_error("reading Postfix's mynetworks: " + describe_failure(argv, r));
    MynetworksEntries e = parse_mynetworks(r.out);
    // "/file/name" is replaced by its contents (one level deep).
    for (const auto& f : std::vector<std::string>(e.files)) {
        auto text = files::read_all(f, 1 << 20);
        if (!text) return make_error("reading Postfix's mynetworks: " + text.error().message);
        std::string contents;  // "#" starts a comment, to the end of the line
        for (std::string_view rest = *text; !rest.empty();) {
            auto nl = rest.find('\n');
            std::string_view line = rest.substr(0, nl);
            rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
            contents += std::string(line.substr(0, line.find('#'))) + "\n";
        }
        auto inner = parse_mynetworks(contents);
        e.networks.insert(e.networks.end(), inner.networks.begin(), inner.networks.end());
        e.tables.insert(e.tables.end(), inner.tables.begin(), inner.tables.end());
    }
    return e;
}

Result<bool> NeverBlock::in_table(const std::string& table, const std::string& ip) {
    std::vector<std::string> argv{
        m_settings.program("postmap"), "-c", m_settings.postfix_config_dir, "-q", ip, table};
    ProcessOptions opt;
    opt.timeout = m_settings.command_timeout;
    auto r = m_runner.run(argv, opt);
    if (r.success()) return true;
    if (r.started && !r.timed_out && r.exit_code == 1) return false;  // not found
    return make_error("reading Postfix's mynetworks: " + describe_failure(argv, r));
}

Result<std::vector<std::pair<std::string, std::string>>> NeverBlock::reasons(
    const std::vector<std::string>& ips) {
    std::vector<std::pair<std::string, std::string>> out;
    if (ips.empty()) return out;
    std::optional<MynetworksEntries> mynet;
    const auto own = m_own ? m_own() : std::vector<std::string>{};
    for (const auto& ip : ips) {
        auto a = parse_network(ip);
        if (!a) return make_error("not an IP address: " + ip);
        std::string why;
        for (const auto& f : kFixed)
            if (parse_network(f.network)->contains(*a)) {
                why = f.why;
                break;
            }
        if (why.empty())
            for (const auto& o : own)
                if (auto n = parse_network(o); n && n->contains(*a)) {
                    why = "an address of this host";
                    break;
                }
        if (why.empty())
            for (const auto& text : m_settings.never_block_ips)
                if (auto n = parse_network(text); n && n->contains(*a)) {
                    why = "in mitigation.never_block_ips (" + text + ")";
                    break;
                }
        if (why.empty()) {
            if (!mynet) {
                auto m = mynetworks();
                if (!m) return m.error();
                mynet = std::move(*m);
            }
            for (const auto& n : mynet->networks)
                if (n.contains(*a)) {
                    why = "in Postfix's mynetworks (" + n.text() + ")";
                    break;
                }
            for (const auto& t : mynet->tables) {
                if (!why.empty()) break;
                auto found = in_table(t, ip);
                if (!found) return found.error();
                if (*found) why = "in Postfix's mynetworks (" + t + ")";
            }
        }
        if (!why.empty()) out.emplace_back(ip, std::move(why));
    }
    return out;
}

}  // namespace saslguard::receiver::mitigation
