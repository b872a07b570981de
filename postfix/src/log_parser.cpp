#include "saslguard/postfix/log_parser.hpp"

#include <cstring>

// Implementation notes: a Cursor walks the line left to right; every helper either
// consumes what it expects and returns true, or leaves the cursor alone and returns
// false. Fields are string_views into the line. memchr/memcmp do the scanning.

namespace saslguard::postfix {
namespace {

using sv = std::string_view;

constexpr bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
constexpr bool is_alnum(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

struct Cursor {
    const char* p;
    const char* e;

    bool done() const { return p >= e; }
    std::size_t left() const { return static_cast<std::size_t>(e - p); }
    sv rest() const { return sv(p, left()); }
    bool eat(char c) {
        if (p < e && *p == c) {
            ++p;
            return true;
        }
        return false;
    }
    bool eat(sv s) {
        if (left() >= s.size() && std::memcmp(p, s.data(), s.size()) == 0) {
            p += s.size();
            return true;
        }
        return false;
    }
    bool starts_with(sv s) const {
        return left() >= s.size() && std::memcmp(p, s.data(), s.size()) == 0;
    }
    // Reads exactly n digits.
    bool digits(int n, int& out) {
        if (left() < static_cast<std::size_t>(n)) return false;
        int v = 0;
        for (int i = 0; i < n; ++i) {
            if (!is_digit(p[i])) return false;
            v = v * 10 + (p[i] - '0');
        }
        p += n;
        out = v;
        return true;
    }
    // Reads 1..max_len digits into a uint64.
    bool number(std::uint64_t& out, int max_len = 19) {
        const char* s = p;
        std::uint64_t v = 0;
        while (p < e && is_digit(*p) && p - s < max_len)
            v = v * 10 + static_cast<std::uint64_t>(*p++ - '0');
        if (p == s) return false;
        out = v;
        return true;
    }
    // Up to (not including) c; consumes c. False (cursor unchanged) if c is absent.
    bool until(char c, sv& out) {
        const void* hit = std::memchr(p, c, left());
        if (!hit) return false;
        const char* h = static_cast<const char*>(hit);
        out = sv(p, static_cast<std::size_t>(h - p));
        p = h + 1;
        return true;
    }
    // Finds s; moves the cursor past it.
    bool skip_past(sv s) {
        const char* hit = find(s);
        if (!hit) return false;
        p = hit + s.size();
        return true;
    }
    const char* find(sv s) const {
        if (s.empty()) return p;
        const char* q = p;
        while (static_cast<std::size_t>(e - q) >= s.size()) {
            const void* h = std::memchr(q, s[0], static_cast<std::size_t>(e - q) - s.size() + 1);
            if (!h) return nullptr;
            const char* c = static_cast<const char*>(h);
            if (std::memcmp(c, s.data(), s.size()) == 0) return c;
            q = c + 1;
        }
        return nullptr;
    }
};

// Fractional seconds: ".d+" -> nanoseconds (extra digits beyond 9 ignored).
void fraction(Cursor& c, std::int32_t& nanos) {
    if (!c.eat('.')) return;
    std::int32_t v = 0;
    int n = 0;
    while (!c.done() && is_digit(*c.p)) {
        if (n < 9) {
            v = v * 10 + (*c.p - '0');
            ++n;
        }
        ++c.p;
    }
    while (n < 9) {
        v *= 10;
        ++n;
    }
    nanos = v;
}

int month_of(const char* m) {
    // Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec
    switch (m[0]) {
        case 'J':
            return m[1] == 'a' ? 1 : (m[2] == 'n' ? 6 : (m[2] == 'l' ? 7 : 0));
        case 'F':
            return m[1] == 'e' && m[2] == 'b' ? 2 : 0;
        case 'M':
            return m[1] == 'a' ? (m[2] == 'r' ? 3 : (m[2] == 'y' ? 5 : 0)) : 0;
        case 'A':
            return m[1] == 'p' && m[2] == 'r' ? 4 : (m[1] == 'u' && m[2] == 'g' ? 8 : 0);
        case 'S':
            return m[1] == 'e' && m[2] == 'p' ? 9 : 0;
        case 'O':
            return m[1] == 'c' && m[2] == 't' ? 10 : 0;
        case 'N':
            return m[1] == 'o' && m[2] == 'v' ? 11 : 0;
        case 'D':
            return m[1] == 'e' && m[2] == 'c' ? 12 : 0;
        default:
            return 0;
    }
}

bool clock_time(Cursor& c, Timestamp& ts) {
    int h = 0, m = 0, s = 0;
    if (!c.digits(2, h) || !c.eat(':') || !c.digits(2, m) || !c.eat(':') || !c.digits(2, s))
        return false;
    if (h > 23 || m > 59 || s > 60) return false;
    ts.hour = static_cast<std::int8_t>(h);
    ts.minute = static_cast<std::int8_t>(m);
    ts.second = static_cast<std::int8_t>(s);
    fraction(c, ts.nanos);
    return true;
}

bool rfc3164(Cursor& c, Timestamp& ts) {
    if (c.left() < 15) return false;
    int mon = month_of(c.p);
    if (mon == 0 || c.p[3] != ' ') return false;
    c.p += 4;
    if (*c.p == ' ') ++c.p;  // "Nov  3"
    int day = 0;
    if (c.left() >= 2 && is_digit(c.p[0]) && is_digit(c.p[1]))
        c.digits(2, day);
    else if (!c.digits(1, day))
        return false;
    if (day < 1 || day > 31 || !c.eat(' ')) return false;
    if (!clock_time(c, ts)) return false;
    ts.format = TimestampFormat::Rfc3164;
    ts.month = static_cast<std::int8_t>(mon);
    ts.day = static_cast<std::int8_t>(day);
    return true;
}

bool rfc3339(Cursor& c, Timestamp& ts) {
    int y = 0, mo = 0, d = 0;
    if (!c.digits(4, y) || !c.eat('-') || !c.digits(2, mo) || !c.eat('-') || !c.digits(2, d))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > 31) return false;
    if (!c.eat('T') && !c.eat('t')) return false;
    if (!clock_time(c, ts)) return false;
    if (c.eat('Z') || c.eat('z')) {
        ts.utc_offset_s = 0;
    } else if (!c.done() && (*c.p == '+' || *c.p == '-')) {
        int sign = *c.p == '-' ? -1 : 1;
        ++c.p;
        int oh = 0, om = 0;
        if (!c.digits(2, oh)) return false;
        c.eat(':');
        if (!c.digits(2, om)) return false;
        ts.utc_offset_s = sign * (oh * 3600 + om * 60);
    } else {
        return false;
    }
    ts.format = TimestampFormat::Rfc3339;
    ts.year = static_cast<std::int16_t>(y);
    ts.month = static_cast<std::int8_t>(mo);
    ts.day = static_cast<std::int8_t>(d);
    return true;
}

// "HOST[IP]" (optionally ":PORT" after the bracket). Host names hold no '['.
bool client(Cursor& c, sv& host, sv& ip) {
    Cursor t = c;
    sv h, addr;
    if (!t.until('[', h) || !t.until(']', addr) || addr.empty()) return false;
    if (h.find(' ') != sv::npos) return false;
    if (t.left() >= 2 && t.p[0] == ':' && is_digit(t.p[1])) {  // smtpd_client_port_logging
        ++t.p;
        std::uint64_t port = 0;
        t.number(port, 5);
    }
    host = h;
    ip = addr;
    c = t;
    return true;
}

// "QID: " at the start of a message. Postfix ids: hex short form or long form,
// [0-9A-Za-z], 5..20 characters. "NOQUEUE" sets an empty id and returns true.
bool queue_id(Cursor& c, sv& qid) {
    const char* s = c.p;
    while (c.p < c.e && is_alnum(*c.p) && c.p - s <= 20) ++c.p;
    std::size_t n = static_cast<std::size_t>(c.p - s);
    if (n < 5 || n > 20 || !c.eat(": ")) {
        c.p = s;
        return false;
    }
    qid = sv(s, n);
    if (qid == "NOQUEUE") qid = {};
    return true;
}

// "<addr>" → addr (may be empty: the null sender).
bool angle_address(Cursor& c, sv& out) {
    if (!c.eat('<')) return false;
    // Addresses may hold '>' inside quotes; the field ends at ">," or ">" at end.
    const char* q = c.p;
    while (true) {
        const void* h = std::memchr(q, '>', static_cast<std::size_t>(c.e - q));
        if (!h) return false;
        const char* g = static_cast<const char*>(h);
        if (g + 1 == c.e || g[1] == ',' || g[1] == ' ') {
            out = sv(c.p, static_cast<std::size_t>(g - c.p));
            c.p = g + 1;
            return true;
        }
        q = g + 1;
    }
}

DeliveryStatus status_of(sv word) {
    if (word == "sent") return DeliveryStatus::Sent;
    if (word == "deferred") return DeliveryStatus::Deferred;
    if (word == "bounced") return DeliveryStatus::Bounced;
    if (word == "expired") return DeliveryStatus::Expired;
    return DeliveryStatus::Other;
}

sv word(Cursor& c) {
    const char* s = c.p;
    while (c.p < c.e && *c.p != ' ' && *c.p != ',' && *c.p != ';' && *c.p != ':') ++c.p;
    return sv(s, static_cast<std::size_t>(c.p - s));
}

// ---- per-program rules ----------------------------------------------------

// "reject: RCPT from HOST[IP]: 554 5.7.1 ..." after the queue id.
bool reject(Cursor c, Event& ev) {
    if (!c.eat("reject: ") && !c.eat("milter-reject: ")) return false;
    ev.kind = EventKind::Reject;
    if (ev.program != "smtpd") return true;  // cleanup: header/body checks, no SMTP code
    ev.reject_stage = word(c);
    if (!c.eat(" from ")) return true;
    client(c, ev.client_host, ev.client_ip);
    if (c.eat(": ")) {
        std::uint64_t code = 0;
        Cursor t = c;
        if (t.number(code, 3) && t.p - c.p == 3 && code >= 200 && code <= 599)
            ev.reject_code = static_cast<std::uint16_t>(code);
    }
    return true;
}

void smtpd(Cursor c, Event& ev) {
    if (c.eat("connect from ")) {
        if (client(c, ev.client_host, ev.client_ip)) ev.kind = EventKind::Connect;
        return;
    }
    if (c.eat("disconnect from ")) {
        if (client(c, ev.client_host, ev.client_ip)) ev.kind = EventKind::Disconnect;
        return;
    }
    if (c.eat("warning: ")) {
        if (!client(c, ev.client_host, ev.client_ip) || !c.eat(": SASL ")) return;
        ev.sasl_method = word(c);
        if (ev.sasl_method.empty() || !c.eat(" authentication failed")) return;
        ev.kind = EventKind::SaslFailure;
        // The reason text comes from the SASL library; the username is the last field.
        constexpr sv kUser = ", sasl_username=";
        const char* last = nullptr;
        for (Cursor t = c; const char* h = t.find(kUser); t.p = h + 1) last = h;
        if (last)
            ev.sasl_username =
                sv(last + kUser.size(), static_cast<std::size_t>(c.e - last) - kUser.size());
        return;
    }
    if (!queue_id(c, ev.queue_id)) return;
    if (c.eat("client=")) {
        if (!client(c, ev.client_host, ev.client_ip)) return;
        ev.kind = EventKind::SmtpdClient;
        // Optional ", orig_client=…", ", sasl_method=M, sasl_username=U[, sasl_sender=S]".
        if (!c.skip_past(", sasl_method=")) return;
        sv method;
        const char* comma = static_cast<const char*>(std::memchr(c.p, ',', c.left()));
        method = sv(c.p, comma ? static_cast<std::size_t>(comma - c.p) : c.left());
        ev.sasl_method = method;
        if (!comma) return;
        c.p = comma;
        if (!c.eat(", sasl_username=")) return;
        sv user = c.rest();
        if (const char* s = c.find(", sasl_sender="); s)
            user = sv(c.p, static_cast<std::size_t>(s - c.p));
        ev.sasl_username = user;
        return;
    }
    reject(c, ev);
}

void qmgr(Cursor c, Event& ev) {
    if (!queue_id(c, ev.queue_id) || ev.queue_id.empty()) return;
    if (c.eat("removed")) {
        if (c.done()) ev.kind = EventKind::QmgrRemoved;
        return;
    }
    if (!c.eat("from=") || !angle_address(c, ev.address)) return;
    if (c.eat(", size=")) {
        if (!c.number(ev.size) || !c.eat(", nrcpt=")) return;
        std::uint64_t n = 0;
        if (!c.number(n, 9)) return;
        ev.nrcpt = static_cast<std::uint32_t>(n);
        ev.kind = EventKind::QmgrFrom;
        return;
    }
    if (c.eat(", status=expired") || c.eat(", status=force-expired")) {  // the latter: postsuper -e
        ev.status = DeliveryStatus::Expired;
        ev.kind = EventKind::QmgrExpired;
    }
}

void cleanup(Cursor c, Event& ev) {
    if (!queue_id(c, ev.queue_id) || ev.queue_id.empty()) return;
    if (c.eat("message-id=")) {
        ev.kind = EventKind::CleanupMessage;
        return;
    }
    reject(c, ev);
}

void delivery(Cursor c, Event& ev) {
    if (!queue_id(c, ev.queue_id) || ev.queue_id.empty()) return;
    if (!c.eat("to=") || !angle_address(c, ev.address)) return;
    if (Cursor t = c; t.skip_past(", relay=")) {
        const char* s = t.p;
        while (t.p < t.e && *t.p != ',') ++t.p;
        ev.relay = sv(s, static_cast<std::size_t>(t.p - s));
        c = t;
    }
    if (Cursor t = c; t.skip_past(", dsn=")) {
        const char* s = t.p;
        while (t.p < t.e && *t.p != ',') ++t.p;
        ev.dsn = sv(s, static_cast<std::size_t>(t.p - s));
        c = t;
    }
    if (!c.skip_past(", status=")) return;
    ev.status = status_of(word(c));
    ev.kind = EventKind::Delivery;
    if (c.eat(" (")) {
        sv r = c.rest();
        if (!r.empty() && r.back() == ')') r.remove_suffix(1);
        ev.reason = r;
    }
}

bool is_delivery_agent(sv p) {
    return p == "smtp" || p == "lmtp" || p == "local" || p == "virtual" || p == "pipe" ||
           p == "error" || p == "retry" || p == "discard";
}

}  // namespace

Event parse_line(std::string_view line) noexcept {
    Event ev;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    Cursor c{line.data(), line.data() + line.size()};

    if (c.eat('<')) {  // raw syslog "<PRI>"
        std::uint64_t pri = 0;
        if (!c.number(pri, 3) || !c.eat('>')) return ev;
    }
    Timestamp ts;
    if (c.done()) return ev;
    if (is_digit(*c.p) ? !rfc3339(c, ts) : !rfc3164(c, ts)) return ev;
    if (!c.eat(' ')) return ev;
    ev.timestamp = ts;

    // [HOST ]TAG: — the tag is the first word ending in ':' that holds a '/'.
    sv first;
    if (!c.until(' ', first) || first.empty()) return ev;
    sv tag = first;
    if (first.back() != ':' || first.find('/') == sv::npos) {
        ev.host = first;
        if (!c.until(' ', tag) || tag.size() < 2 || tag.back() != ':') return ev;
    }
    tag.remove_suffix(1);
    if (!tag.empty() && tag.back() == ']') {
        std::size_t lb = tag.rfind('[');
        if (lb == sv::npos) return ev;
        tag = tag.substr(0, lb);
    }
    std::size_t slash = tag.rfind('/');
    if (slash == sv::npos || slash == 0 || slash + 1 == tag.size()) return ev;
    ev.syslog_name = tag.substr(0, slash);
    ev.program = tag.substr(slash + 1);

    const sv p = ev.program;
    if (p == "smtpd")
        smtpd(c, ev);
    else if (p == "qmgr")
        qmgr(c, ev);
    else if (p == "cleanup")
        cleanup(c, ev);
    else if (is_delivery_agent(p))
        delivery(c, ev);
    return ev;
}

namespace {
// Case-insensitive search for a lowercase ASCII needle.
bool contains_nocase(sv hay, sv needle) {
    if (needle.size() > hay.size()) return false;
    for (std::size_t i = 0; i + needle.size() <= hay.size(); ++i) {
        std::size_t k = 0;
        while (k < needle.size()) {
            char ch = hay[i + k];
            if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
            if (ch != needle[k]) break;
            ++k;
        }
        if (k == needle.size()) return true;
    }
    return false;
}
}  // namespace

bool is_unknown_recipient(const Event& ev) noexcept {
    if (ev.kind != EventKind::Delivery || ev.status != DeliveryStatus::Bounced) return false;
    if (ev.dsn.size() >= 4 && ev.dsn.substr(0, 4) == "5.1.") return true;
    if (ev.dsn != "5.0.0" && !ev.dsn.empty()) return false;  // another class says why
    for (sv phrase : {sv("user unknown"), sv("unknown user"), sv("no such user"),
                      sv("mailbox unavailable"), sv("does not exist")})
        if (contains_nocase(ev.reason, phrase)) return true;
    return false;
}

namespace {
// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
std::int64_t days_from_civil(int y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return static_cast<std::int64_t>(era) * 146097 + static_cast<std::int64_t>(doe) - 719468;
}
}  // namespace

double to_unix_seconds(const Timestamp& ts) noexcept {
    if (ts.format != TimestampFormat::Rfc3339) return 0;
    std::int64_t days =
        days_from_civil(ts.year, static_cast<unsigned>(ts.month), static_cast<unsigned>(ts.day));
    std::int64_t s = days * 86400 + ts.hour * 3600 + ts.minute * 60 + ts.second - ts.utc_offset_s;
    return static_cast<double>(s) + ts.nanos / 1e9;
}

TimestampResolver::TimestampResolver(std::time_t now) {
    set_now(now);
}

void TimestampResolver::set_now(std::time_t now) {
    std::tm tm{};
    localtime_r(&now, &tm);
    m_year = tm.tm_year + 1900;
    m_month = tm.tm_mon + 1;
    m_cache_key = -1;
}

double TimestampResolver::resolve(const Timestamp& ts) noexcept {
    if (ts.format == TimestampFormat::Rfc3339) return to_unix_seconds(ts);
    if (ts.format != TimestampFormat::Rfc3164) return 0;
    // A line from a month well after "now" is from last year (log read in January).
    int year = ts.month > m_month + 1 ? m_year - 1 : m_year;
    std::int64_t key =
        ((static_cast<std::int64_t>(year) * 13 + ts.month) * 32 + ts.day) * 24 + ts.hour;
    if (key != m_cache_key) {
        std::tm tm{};
        tm.tm_year = year - 1900;
        tm.tm_mon = ts.month - 1;
        tm.tm_mday = ts.day;
        tm.tm_hour = ts.hour;
        tm.tm_isdst = -1;
        m_cache_epoch = static_cast<std::int64_t>(std::mktime(&tm));
        m_cache_key = key;
    }
    return static_cast<double>(m_cache_epoch + ts.minute * 60 + ts.second) + ts.nanos / 1e9;
}

std::string_view to_string(EventKind kind) noexcept {
    switch (kind) {
        case EventKind::Unsupported:
            return "unsupported";
        case EventKind::Connect:
            return "connect";
        case EventKind::Disconnect:
            return "disconnect";
        case EventKind::SmtpdClient:
            return "smtpd_client";
        case EventKind::SaslFailure:
            return "sasl_failure";
        case EventKind::Reject:
            return "reject";
        case EventKind::CleanupMessage:
            return "cleanup_message";
        case EventKind::QmgrFrom:
            return "qmgr_from";
        case EventKind::QmgrExpired:
            return "qmgr_expired";
        case EventKind::QmgrRemoved:
            return "qmgr_removed";
        case EventKind::Delivery:
            return "delivery";
        case EventKind::Count_:
            break;
    }
    return "?";
}

std::string_view to_string(DeliveryStatus status) noexcept {
    switch (status) {
        case DeliveryStatus::Sent:
            return "sent";
        case DeliveryStatus::Deferred:
            return "deferred";
        case DeliveryStatus::Bounced:
            return "bounced";
        case DeliveryStatus::Expired:
            return "expired";
        case DeliveryStatus::Other:
            return "other";
    }
    return "other";
}

std::string_view to_string(TimestampFormat format) noexcept {
    switch (format) {
        case TimestampFormat::None:
            return "none";
        case TimestampFormat::Rfc3164:
            return "rfc3164";
        case TimestampFormat::Rfc3339:
            return "rfc3339";
    }
    return "none";
}

}  // namespace saslguard::postfix
