#pragma once
// Postfix syslog line parser: a pure function from one line of text to one event.
// Hand-written (no regex), no heap allocation: every string in an Event is a view
// into the caller's line, valid only as long as that line.
//
// Accepted line shapes
//   [<PRI>]TIMESTAMP [HOST ]TAG: MESSAGE
//   TIMESTAMP  RFC 3164  "Nov  3 09:17:08" (optional ".123456")
//              RFC 3339  "2026-11-23T09:17:08[.frac](Z|+hh:mm|+hhmm)" (journalctl short-iso too)
//   HOST       optional; a word that does not end in ':'
//   TAG        SYSLOG_NAME/PROGRAM[PID] or SYSLOG_NAME/PROGRAM; any syslog_name
//              ("postfix", "postfix/submission", "postfix-out", custom) with a '/'.
// Understood messages (see EventKind). Anything else — other programs, unknown
// Postfix messages, truncated or binary lines — is EventKind::Unsupported, never
// an error. A field the parser could not read is left empty / zero.
#include <cstdint>
#include <ctime>
#include <string_view>

namespace saslguard::postfix {

enum class TimestampFormat : std::uint8_t { None, Rfc3164, Rfc3339 };

// A timestamp as written in the line. RFC 3164 has no year and no zone: year is 0
// and resolve it with Rfc3164Clock; RFC 3339 carries both.
struct Timestamp {
    TimestampFormat format = TimestampFormat::None;
    std::int16_t year = 0;  // 0 for RFC 3164
    std::int8_t month = 0;  // 1..12
    std::int8_t day = 0;
    std::int8_t hour = 0;
    std::int8_t minute = 0;
    std::int8_t second = 0;
    std::int32_t nanos = 0;
    std::int32_t utc_offset_s = 0;  // RFC 3339 only
};

enum class EventKind : std::uint8_t {
    Unsupported,     // not understood (counted by the caller)
    Connect,         // smtpd: "connect from HOST[IP]"
    Disconnect,      // smtpd: "disconnect from HOST[IP] ..."
    SmtpdClient,     // smtpd: "QID: client=HOST[IP][, sasl_method=M, sasl_username=U]"
    SaslFailure,     // smtpd: "warning: HOST[IP]: SASL M authentication failed: WHY[,
                     // sasl_username=U]"
    Reject,          // smtpd/cleanup: "NOQUEUE|QID: [milter-]reject: STAGE from HOST[IP]: CODE ..."
    CleanupMessage,  // cleanup: "QID: message-id=<...>"
    QmgrFrom,        // qmgr: "QID: from=<S>, size=N, nrcpt=M (queue active)"
    QmgrExpired,     // qmgr: "QID: from=<S>, status=[force-]expired, returned to sender"
    QmgrRemoved,     // qmgr: "QID: removed"
    Delivery,  // smtp/lmtp/local/virtual/pipe/error/retry/discard: "QID: to=<R>, ..., status=S
               // (...)"
    Count_     // number of kinds (for coverage tables)
};

enum class DeliveryStatus : std::uint8_t { Sent, Deferred, Bounced, Expired, Other };

struct Event {
    EventKind kind = EventKind::Unsupported;
    Timestamp timestamp;
    std::string_view host;           // syslog host, may be empty
    std::string_view syslog_name;    // "postfix/submission" (tag without the program)
    std::string_view program;        // "smtpd", "qmgr", …
    std::string_view queue_id;       // "" for NOQUEUE and for lines without a queue id
    std::string_view client_host;    // "unknown" or a name
    std::string_view client_ip;      // "127.0.0.1", "2001:db8::1"
    std::string_view sasl_method;    // "PLAIN", "LOGIN", …
    std::string_view sasl_username;  // may be empty
    std::string_view address;        // from= (qmgr) or to= (delivery), without <>
    std::string_view relay;          // delivery relay=
    std::string_view reject_stage;   // "RCPT", "CONNECT", … (smtpd rejects)
    std::string_view dsn;            // delivery dsn= ("5.1.1"), may be empty
    std::string_view reason;         // delivery: the text in parentheses after status=WORD
    std::uint16_t reject_code = 0;   // 554, 450, … (0: none given, e.g. cleanup)
    DeliveryStatus status = DeliveryStatus::Other;
    std::uint64_t size = 0;   // qmgr size=
    std::uint32_t nrcpt = 0;  // qmgr nrcpt=
};

// Parses one line (without its '\n'; a trailing '\r' is ignored).
Event parse_line(std::string_view line) noexcept;

// A permanent failure that says the recipient address does not exist: a bounced
// delivery with an enhanced status code 5.1.x (bad mailbox, bad domain, bad
// syntax, null MX), or, when the remote gave no enhanced code (dsn 5.0.0), a
// reason that says so ("User unknown", "no such user", "mailbox unavailable",
// "does not exist"). Harvested and made-up address lists produce these; a remote
// outage or a blocklisting (4.x.x deferrals, 5.7.x policy rejects) does not.
bool is_unknown_recipient(const Event& ev) noexcept;

// Unix seconds of an RFC 3339 timestamp (exact). For RFC 3164 use Rfc3164Clock.
double to_unix_seconds(const Timestamp& ts) noexcept;

// Resolves RFC 3164 timestamps (no year, local time zone) against "now": the year
// is the one that puts the timestamp at most ~1 month in the future (so a December
// line read in January is last year's). Local-time conversion (mktime) is cached
// per hour of log, so it runs once per log hour, not per line. Not thread-safe.
class TimestampResolver {
public:
    explicit TimestampResolver(std::time_t now = std::time(nullptr));
    void set_now(std::time_t now);
    // Unix seconds, or 0 when the timestamp is absent.
    double resolve(const Timestamp& ts) noexcept;

private:
    int m_year = 1970;
    int m_month = 1;
    std::int64_t m_cache_key = -1;
    std::int64_t m_cache_epoch = 0;
};

std::string_view to_string(EventKind kind) noexcept;
std::string_view to_string(DeliveryStatus status) noexcept;
std::string_view to_string(TimestampFormat format) noexcept;

}  // namespace saslguard::postfix
