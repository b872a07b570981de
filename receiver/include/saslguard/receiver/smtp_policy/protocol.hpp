#pragma once
// Postfix SMTP access policy delegation protocol (check_policy_service):
// the request parser and the answer writer. Pure: no I/O, no clock, no logging.
//
// A request is a sequence of `name=value` lines, each ended by "\n", and ends
// with an empty line. Postfix sends at least `request=smtpd_access_policy`,
// `protocol_state` (CONNECT, EHLO, HELO, MAIL, RCPT, DATA, END-OF-MESSAGE, VRFY,
// ETRN), `client_address`, `sasl_username` (empty when the client did not
// authenticate), `recipient_count` (0 before END-OF-MESSAGE), `queue_id`,
// `instance` and many more; attributes this service does not use are skipped
// (they still count towards the limits). The answer is one `action=…` line and
// an empty line. One connection carries many requests one after the other
// (Postfix keeps it open for up to smtpd_policy_service_max_ttl).
//
// Every byte of a request is attacker-influenced (sender, HELO name, SASL login),
// so the parser is bounded: a line, the attribute count and the whole request
// have limits. A request that breaks a limit or the syntax is read up to its
// closing empty line without being stored and reported as ONE error, so the
// connection stays in step (one answer per request) and memory stays bounded
// however long the bad request is.
//
// Values are taken byte for byte (one trailing CR is dropped, for people typing
// requests with `nc -C`): a control byte in an attacker-chosen value such as the
// HELO name must not turn a request into an error, because an error is answered
// DUNNO and would let a blocked or held sender through. The limits are far above
// what Postfix can send with its default line_length_limit (2048), so only a
// client that is not Postfix breaks them.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace saslguard::receiver::smtp_policy {

struct ParserLimits {
    // Postfix sends ~35 attributes of which the longest (sender, recipient,
    // ccert_subject) stay well under 2 KiB; these leave room and bound memory.
    std::size_t max_line_bytes = 8192;      // one `name=value` line, without "\n"
    std::size_t max_attributes = 100;       // lines per request
    std::size_t max_request_bytes = 32768;  // the whole request, newlines included
};

// Why a request was refused. Stable names (to_string) for logs and metrics.
enum class ParseError : std::uint8_t {
    LineTooLong,        // a line is longer than max_line_bytes
    TooManyAttributes,  // more than max_attributes lines
    RequestTooLarge,    // more than max_request_bytes before the empty line
    MalformedLine,      // a line without '=' or with an empty name
    BadValue,           // an attribute this service reads has an invalid value
    NotPolicyRequest,   // `request` is missing or not `smtpd_access_policy`
};
inline constexpr std::size_t kParseErrorCount = 6;
std::string_view to_string(ParseError e);

enum class ProtocolState : std::uint8_t {
    Other,  // a state this service does not know (a future Postfix); treated like CONNECT
    Connect,
    Helo,  // HELO or EHLO
    Mail,
    Rcpt,
    Data,
    EndOfMessage,
    Vrfy,
    Etrn,
};
ProtocolState parse_protocol_state(std::string_view text);
std::string_view to_string(ProtocolState s);

// The attributes this service reads. Values are kept as Postfix sent them;
// canonical forms (lowercase login, canonical IP) are the decision's business.
struct PolicyRequest {
    std::string request;         // "smtpd_access_policy"
    std::string protocol_state;  // as sent; see `state`
    ProtocolState state = ProtocolState::Other;
    std::string protocol_name;  // SMTP, ESMTP
    std::string client_address;
    std::string client_name;
    std::string sasl_method;
    std::string sasl_username;  // empty: not authenticated
    std::string sender;
    std::string recipient;
    std::uint32_t recipient_count = 0;  // accepted recipients; meaningful at END-OF-MESSAGE
    std::string queue_id;               // known from MAIL/RCPT on, when the queue file exists
    std::string instance;               // same for every request about one message
    std::size_t attribute_count = 0;

    // Keeps the strings' capacity: a connection reuses one request object.
    void clear();
};

// Incremental parser for one connection. Feed it whatever read() returned;
// it consumes bytes up to the end of one request and stops there, so the caller
// answers that request before feeding the rest (answers keep request order).
class RequestParser {
public:
    enum class Status : std::uint8_t {
        NeedMore,  // all bytes consumed, no request finished yet
        Complete,  // request() holds a finished, valid request
        Failed,    // a request ended (empty line) but was invalid: error() says why
    };
    struct Step {
        std::size_t consumed = 0;  // bytes of the input used by this call
        Status status = Status::NeedMore;
    };

    explicit RequestParser(ParserLimits limits = {});

    Step feed(std::string_view data);

    const PolicyRequest& request() const { return m_request; }
    ParseError error() const { return m_error; }
    // A short, log-safe description of the first problem (e.g. "line 3: no '='").
    const std::string& error_detail() const { return m_error_detail; }

    // True while a request has begun (some byte of it was fed) but not ended:
    // the server's deadline for a request that never ends is measured from here.
    bool in_request() const { return m_request_bytes > 0; }
    std::size_t request_bytes() const { return m_request_bytes; }
    // Bytes held between calls (the current partial line): bounded by max_line_bytes.
    std::size_t buffered_bytes() const { return m_line.capacity(); }

private:
    void begin_next();
    void fail(ParseError e, std::string detail);
    void accept_line(std::string_view line);
    Status finish_request();

    ParserLimits m_limits;
    PolicyRequest m_request;
    std::string m_line;  // partial line carried over between feed() calls
    std::size_t m_request_bytes = 0;
    std::size_t m_lines = 0;
    std::size_t m_line_bytes = 0;  // length of the current line so far, stored or not
    bool m_line_cr_only = false;   // the current line so far is exactly "\r"
    bool m_discarding = false;     // an error was found: skip to the empty line
    bool m_line_too_long = false;  // m_line overflowed: skip the rest of this line
    bool m_finished = false;       // the last call returned Complete/Failed
    ParseError m_error = ParseError::MalformedLine;
    std::string m_error_detail;
};

// The actions this service answers with (access(5) semantics).
enum class Action : std::uint8_t {
    Dunno,   // no opinion: Postfix goes on with the next restriction
    Reject,  // REJECT <text>: a 5xx for this RCPT / message
    Hold,    // HOLD <text>: accept into the hold queue (the whole message); text is only logged
};
inline constexpr std::size_t kActionCount = 3;
std::string_view to_string(Action a);  // "DUNNO", "REJECT", "HOLD"

// Appends `action=<ACTION>[ <text>]\n\n` to `out`. The text is made safe for an
// SMTP reply and a log line: control bytes and non-ASCII become '?', it is cut
// at 400 bytes, and it is dropped for DUNNO.
void append_answer(std::string& out, Action action, std::string_view text = {});

}  // namespace saslguard::receiver::smtp_policy
