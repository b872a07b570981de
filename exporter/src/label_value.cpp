#include "label_value.hpp"

namespace saslguard::exporter {
namespace {
// Length of the valid UTF-8 character at s[i], or 0 when invalid or a control.
std::size_t char_len(std::string_view s, std::size_t i) {
    auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char c = b(i);
    if (c < 0x80) return (c < 0x20 || c == 0x7f) ? 0 : 1;
    std::size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    if (n == 0 || c > 0xf4 || i + n > s.size()) return 0;
    for (std::size_t k = 1; k < n; ++k)
        if ((b(i + k) & 0xc0) != 0x80) return 0;
    // Overlongs, surrogates and > U+10FFFF.
    if (c == 0xe0 && b(i + 1) < 0xa0) return 0;
    if (c == 0xed && b(i + 1) >= 0xa0) return 0;
    if (c == 0xf0 && b(i + 1) < 0x90) return 0;
    if (c == 0xf4 && b(i + 1) >= 0x90) return 0;
    if (n == 2 && b(i + 1) < 0x80) return 0;
    return n;
}
}  // namespace

bool is_clean_label_value(std::string_view s) noexcept {
    for (std::size_t i = 0; i < s.size();) {
        std::size_t n = char_len(s, i);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

std::string sanitize_label_value(std::string_view s, std::size_t max_bytes) {
    std::string out;
    out.reserve(s.size() < max_bytes ? s.size() : max_bytes);
    for (std::size_t i = 0; i < s.size();) {
        std::size_t n = char_len(s, i);
        std::string_view piece = n ? s.substr(i, n) : std::string_view("\xEF\xBF\xBD");
        if (out.size() + piece.size() > max_bytes) break;
        out.append(piece);
        i += n ? n : 1;
    }
    return out;
}

}  // namespace saslguard::exporter
