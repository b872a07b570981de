#include "saslguard/receiver/smtp_policy/settings.hpp"

#include <arpa/inet.h>
#include <sys/un.h>

#include <charconv>

#include "saslguard/common/validate.hpp"

namespace saslguard::receiver::smtp_policy {
namespace {

constexpr std::string_view kKey = "smtp_policy.";

Error bad(std::string_view key, const std::string& what) {
    return make_error(std::string(kKey) + std::string(key) + ": " + what);
}

bool loopback(const std::string& ip) {
    in_addr v4{};
    if (inet_pton(AF_INET, ip.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
    in6_addr v6{};
    return inet_pton(AF_INET6, ip.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

}  // namespace

std::string ListenAddress::text() const {
    if (kind == Kind::Unix) return "unix:" + path;
    const bool v6 = host.find(':') != std::string::npos;
    return "inet:" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<ListenAddress> parse_listen_address(const std::string& text) {
    ListenAddress a;
    std::string_view t = text;
    if (t.rfind("unix:", 0) == 0) {
        a.kind = ListenAddress::Kind::Unix;
        a.path = std::string(t.substr(5));
        if (a.path.empty() || a.path.front() != '/')
            return make_error("'" + text + "': a unix socket needs an absolute path");
        if (a.path.size() >= sizeof(sockaddr_un::sun_path))
            return make_error("'" + text + "': socket path longer than " +
                              std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes");
        if (a.path.find('\0') != std::string::npos)
            return make_error("'" + text + "': NUL byte in the path");
        return a;
    }
    if (t.rfind("inet:", 0) == 0) t.remove_prefix(5);
    std::string_view host;
    std::string_view port;
    if (!t.empty() && t.front() == '[') {
        const auto close = t.find(']');
        if (close == std::string_view::npos || close + 1 >= t.size() || t[close + 1] != ':')
            return make_error("'" + text + "': expected inet:[IPv6]:port");
        host = t.substr(1, close - 1);
        port = t.substr(close + 2);
    } else {
        const auto colon = t.rfind(':');
        if (colon == std::string_view::npos)
            return make_error("'" + text +
                              "': expected inet:127.0.0.1:PORT, inet:[::1]:PORT or unix:/PATH");
        host = t.substr(0, colon);
        port = t.substr(colon + 1);
    }
    auto ip = validate::canonical_ip(host);
    if (!ip)
        return make_error("'" + text + "': '" + std::string(host) +
                          "' is not an IP address (write 127.0.0.1, not a host name)");
    if (!loopback(*ip))
        return make_error("'" + text +
                          "': only loopback addresses (127.0.0.0/8, ::1): the policy service "
                          "must not be reachable from other hosts");
    unsigned value = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || p != port.data() + port.size() || value > 65535)
        return make_error("'" + text + "': bad port '" + std::string(port) + "'");
    a.host = *ip;
    a.port = static_cast<std::uint16_t>(value);
    return a;
}

Result<void> validate(const SmtpPolicySettings& s) {
    const ServerSettings& srv = s.server;
    if (srv.listen.empty()) return bad("listen", "at least one address is needed");
    for (const auto& l : srv.listen)
        if (auto a = parse_listen_address(l); !a) return bad("listen", a.error().message);
    if (srv.socket_mode > 0777) return bad("socket_mode", "not a permission mode");
    if (srv.max_connections < 1 || srv.max_connections > 100000)
        return bad("max_connections", "must be 1..100000");
    if (srv.request_timeout < std::chrono::milliseconds(100))
        return bad("request_timeout", "must be at least 100ms");
    if (srv.idle_timeout < srv.request_timeout)
        return bad("idle_timeout", "must not be shorter than request_timeout");
    const ParserLimits& p = srv.parser;
    if (p.max_line_bytes < 512) return bad("max_line_bytes", "must be at least 512");
    if (p.max_attributes < 16) return bad("max_attributes", "must be at least 16");
    if (p.max_request_bytes < p.max_line_bytes)
        return bad("max_request_bytes", "must be at least max_line_bytes");
    if (p.max_request_bytes > (16u << 20)) return bad("max_request_bytes", "must be at most 16MiB");
    if (srv.max_output_bytes < 1024) return bad("max_output_bytes", "must be at least 1024");

    const GuardSettings& g = s.guard;
    const auto day = std::chrono::seconds(86400);
    if (g.message_window.count() < 1 || g.message_window > day)
        return bad("guard.message_window", "must be 1s..1d");
    if (g.recipient_window.count() < 1 || g.recipient_window > day)
        return bad("guard.recipient_window", "must be 1s..1d");
    if (g.hold_for.count() < 0) return bad("guard.hold_for", "must not be negative");
    if (g.max_tracked_users < 1) return bad("guard.max_tracked_users", "must be at least 1");
    for (const auto& [user, limits] : g.user_limits)
        if (user.empty()) return bad("guard.user_limits", "empty login");
    for (const auto& u : g.allow_users)
        if (u.empty()) return bad("guard.allow_users", "empty login");
    for (const auto& d : g.allow_domains)
        if (!validate::domain(d)) return bad("guard.allow_domains", "'" + d + "' is not a domain");

    auto check_text = [](std::string_view key, const std::string& text) -> Result<void> {
        if (text.empty()) return bad(key, "must not be empty");
        if (text.size() > 400) return bad(key, "longer than 400 characters");
        for (unsigned char c : text)
            if (c < 0x20 || c >= 0x7f) return bad(key, "only printable ASCII");
        return {};
    };
    if (auto r = check_text("block.login_reject_text", s.login_reject_text); !r) return r;
    if (auto r = check_text("block.client_reject_text", s.client_reject_text); !r) return r;
    return {};
}

}  // namespace saslguard::receiver::smtp_policy
