#include "saslguard/common/validate.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace saslguard::validate {
namespace {

bool is_alnum(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool local_char(unsigned char c) {
    return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-' || c == '=';
}

bool local_part(std::string_view s) {
    if (s.empty() || s.size() > 64 * 4) return false;
    if (s.front() == '-' || s.front() == '.' || s.back() == '.') return false;
    if (s.find("..") != std::string_view::npos) return false;
    for (unsigned char c : s)
        if (!local_char(c)) return false;
    return true;
}

}  // namespace

bool domain(std::string_view s) {
    if (s.empty() || s.size() > 253) return false;
    std::size_t start = 0;
    while (start <= s.size()) {
        std::size_t dot = s.find('.', start);
        std::string_view label =
            s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
            return false;
        for (unsigned char c : label)
            if (!is_alnum(c) && c != '-') return false;
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    return true;
}

bool sasl_username(std::string_view s) {
    if (s.empty() || s.size() > 255) return false;
    auto at = s.find('@');
    if (at == std::string_view::npos) return local_part(s);
    if (s.find('@', at + 1) != std::string_view::npos) return false;
    return local_part(s.substr(0, at)) && domain(s.substr(at + 1));
}

bool email_address(std::string_view s) {
    if (s.empty()) return true;  // the null sender <>
    if (s.size() > 320) return false;
    auto at = s.rfind('@');
    if (at == std::string_view::npos || at == 0) return false;
    return local_part(s.substr(0, at)) && domain(s.substr(at + 1));
}

std::optional<std::string> canonical_login(std::string_view s) {
    if (!sasl_username(s)) return std::nullopt;
    std::string out(s);
    for (auto& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

std::optional<std::string> canonical_ip(std::string_view s) {
    if (s.empty() || s.size() > 45) return std::nullopt;
    std::string text(s);
    char out[INET6_ADDRSTRLEN];
    if (text.find(':') == std::string::npos) {
        in_addr a{};
        if (inet_pton(AF_INET, text.c_str(), &a) != 1) return std::nullopt;
        if (!inet_ntop(AF_INET, &a, out, sizeof out)) return std::nullopt;
        return std::string(out);
    }
    in6_addr a6{};
    if (inet_pton(AF_INET6, text.c_str(), &a6) != 1) return std::nullopt;
    if (IN6_IS_ADDR_V4MAPPED(&a6)) {
        in_addr a{};
        std::memcpy(&a, a6.s6_addr + 12, sizeof a);
        if (!inet_ntop(AF_INET, &a, out, sizeof out)) return std::nullopt;
        return std::string(out);
    }
    if (!inet_ntop(AF_INET6, &a6, out, sizeof out)) return std::nullopt;
    return std::string(out);
}

bool queue_id(std::string_view s) {
    if (s.size() < 5 || s.size() > 20) return false;
    for (unsigned char c : s)
        if (!is_alnum(c)) return false;
    return true;
}

bool unix_user(std::string_view s) {
    if (s.empty() || s.size() > 32) return false;
    unsigned char f = static_cast<unsigned char>(s.front());
    if (!((f >= 'a' && f <= 'z') || f == '_')) return false;
    for (unsigned char c : s)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return false;
    return true;
}

}  // namespace saslguard::validate
