#pragma once
// Addresses saslguard never blocks, whoever asks (the automatic policy, a
// Telegram button or command, saslguardctl): one press on "Block IPs" for
// 127.0.0.1 would make every local submission fail with 554. The set is
//   - fixed: loopback (127.0.0.0/8, ::1), unspecified (0.0.0.0/8, ::) and
//     link-local (169.254.0.0/16, fe80::/10);
//   - the host's own addresses (getifaddrs, read at each check);
//   - Postfix's mynetworks, read with `postconf -c CONFIG_DIR -x -h mynetworks`
//     at each check: networks and addresses ([IPv6] in brackets), /file/name
//     entries read once level deep, and type:table entries asked with
//     `postmap -q ADDRESS type:table`; hostnames and !negations are ignored
//     (they can only make the set smaller);
//   - mitigation.never_block_ips from the configuration.
// Addresses are compared in canonical form (validate::canonical_ip), so an
// IPv4-mapped IPv6 address (::ffff:127.0.0.1) is the IPv4 address it maps.
//
// Contract: reasons() says why each protected address is protected; it fails
// (and the caller blocks nothing) when mynetworks cannot be read. Never throws.
#include <array>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "saslguard/common/result.hpp"
#include "saslguard/receiver/mitigation/command_runner.hpp"

namespace saslguard::receiver::mitigation {

struct MitigationSettings;

// An IPv4 or IPv6 network (an address is a network of full length).
struct Network {
    bool v6 = false;
    std::array<unsigned char, 16> bytes{};  // IPv4 in the first 4
    int prefix = 0;
    bool contains(const Network& address) const;
    std::string text() const;  // "192.0.2.0/24"
};

// "192.0.2.0/24", "192.0.2.7", "2001:db8::/32", "[2001:db8::]/32", "[::1]";
// an IPv4-mapped IPv6 network (::ffff:127.0.0.0/104) is the IPv4 network it maps.
// nullopt for anything else (hostnames, tables, files, negations).
std::optional<Network> parse_network(std::string_view text);

// What mynetworks lists, from `postconf -h mynetworks` output (pure).
struct MynetworksEntries {
    std::vector<Network> networks;
    std::vector<std::string> tables;  // "cidr:/etc/postfix/network_table"
    std::vector<std::string> files;   // "/etc/postfix/mynetworks.list"
};
MynetworksEntries parse_mynetworks(std::string_view text);

// This host's addresses, canonical (getifaddrs).
std::vector<std::string> host_addresses();

class NeverBlock {
public:
    using OwnAddresses = std::function<std::vector<std::string>()>;
    NeverBlock(const MitigationSettings& settings, CommandRunner& runner,
               OwnAddresses own = host_addresses);

    // For each of `ips` (canonical) that must never be blocked: the address and
    // why ("a loopback address", "in Postfix's mynetworks (192.0.2.0/24)", …).
    Result<std::vector<std::pair<std::string, std::string>>> reasons(
        const std::vector<std::string>& ips);

private:
    Result<MynetworksEntries> mynetworks();
    Result<bool> in_table(const std::string& table, const std::string& ip);

    const MitigationSettings& m_settings;
    CommandRunner& m_runner;
    OwnAddresses m_own;
};

}  // namespace saslguard::receiver::mitigation
