#include "saslguard/receiver/smtp_policy/protocol.hpp"

#include <charconv>
#include <cstring>

namespace saslguard::receiver::smtp_policy {

std::string_view to_string(ParseError e) {
    switch (e) {
        case ParseError::LineTooLong:
            return "line_too_long";
        case ParseError::TooManyAttributes:
            return "too_many_attributes";
        case ParseError::RequestTooLarge:
            return "request_too_large";
        case ParseError::MalformedLine:
            return "malformed_line";
        case ParseError::BadValue:
            return "bad_value";
        case ParseError::NotPolicyRequest:
            return "not_policy_request";
    }
    return "unknown";
}

ProtocolState parse_protocol_state(std::string_view text) {
    if (text == "RCPT") return ProtocolState::Rcpt;
    if (text == "END-OF-MESSAGE") return ProtocolState::EndOfMessage;
    if (text == "MAIL") return ProtocolState::Mail;
    if (text == "DATA") return ProtocolState::Data;
    if (text == "CONNECT") return ProtocolState::Connect;
    if (text == "EHLO" || text == "HELO") return ProtocolState::Helo;
    if (text == "VRFY") return ProtocolState::Vrfy;
    if (text == "ETRN") return ProtocolState::Etrn;
    return ProtocolState::Other;
}

std::string_view to_string(ProtocolState s) {
    switch (s) {
        case ProtocolState::Other:
            return "other";
        case ProtocolState::Connect:
            return "CONNECT";
        case ProtocolState::Helo:
            return "HELO";
        case ProtocolState::Mail:
            return "MAIL";
        case ProtocolState::Rcpt:
            return "RCPT";
        case ProtocolState::Data:
            return "DATA";
        case ProtocolState::EndOfMessage:
            return "END-OF-MESSAGE";
        case ProtocolState::Vrfy:
            return "VRFY";
        case ProtocolState::Etrn:
            return "ETRN";
    }
    return "other";
}

std::string_view to_string(Action a) {
    switch (a) {
        case Action::Dunno:
            return "DUNNO";
        case Action::Reject:
            return "REJECT";
        case Action::Hold:
            return "HOLD";
    }
    return "DUNNO";
}

void PolicyRequest::clear() {
    request.clear();
    protocol_state.clear();
    state = ProtocolState::Other;
    protocol_name.clear();
    client_address.clear();
    client_name.clear();
    sasl_method.clear();
    sasl_username.clear();
    sender.clear();
    recipient.clear();
    recipient_count = 0;
    queue_id.clear();
    instance.clear();
    attribute_count = 0;
}

RequestParser::RequestParser(ParserLimits limits) : m_limits(limits) {}

void RequestParser::begin_next() {
    m_request.clear();
    m_line.clear();
    m_request_bytes = 0;
    m_lines = 0;
    m_discarding = false;
    m_line_too_long = false;
    m_finished = false;
    m_error_detail.clear();
}

void RequestParser::fail(ParseError e, std::string detail) {
    if (m_discarding) return;  // the first problem is the one reported
    m_discarding = true;
    m_error = e;
    m_error_detail = std::move(detail);
}

void RequestParser::accept_line(std::string_view line) {
    if (++m_lines > m_limits.max_attributes) {
        fail(ParseError::TooManyAttributes,
             "more than " + std::to_string(m_limits.max_attributes) + " attributes");
        return;
    }
    const auto eq = line.find('=');
    if (eq == std::string_view::npos) {
        fail(ParseError::MalformedLine, "line " + std::to_string(m_lines) + ": no '='");
        return;
    }
    if (eq == 0) {
        fail(ParseError::MalformedLine, "line " + std::to_string(m_lines) + ": empty name");
        return;
    }
    const std::string_view name = line.substr(0, eq);
    const std::string_view value = line.substr(eq + 1);
    auto set = [&](std::string& field) { field.assign(value.data(), value.size()); };
    // Most frequent first; the rest of Postfix's ~35 attributes fall through.
    switch (name.front()) {
        case 'c':
            if (name == "client_address")
                set(m_request.client_address);
            else if (name == "client_name")
                set(m_request.client_name);
            break;
        case 'i':
            if (name == "instance") set(m_request.instance);
            break;
        case 'p':
            if (name == "protocol_state")
                set(m_request.protocol_state);
            else if (name == "protocol_name")
                set(m_request.protocol_name);
            break;
        case 'q':
            if (name == "queue_id") set(m_request.queue_id);
            break;
        case 'r':
            if (name == "request") {
                set(m_request.request);
            } else if (name == "recipient") {
                set(m_request.recipient);
            } else if (name == "recipient_count") {
                std::uint32_t n = 0;
                const auto* end = value.data() + value.size();
                auto [p, ec] = std::from_chars(value.data(), end, n);
                if (value.empty() || ec != std::errc() || p != end) {
                    fail(ParseError::BadValue, "recipient_count is not a number");
                    return;
                }
                m_request.recipient_count = n;
            }
            break;
        case 's':
            if (name == "sasl_username")
                set(m_request.sasl_username);
            else if (name == "sasl_method")
                set(m_request.sasl_method);
            else if (name == "sender")
                set(m_request.sender);
            break;
        default:
            break;
    }
}

RequestParser::Status RequestParser::finish_request() {
    m_request.attribute_count = m_lines;
    if (m_request.request != "smtpd_access_policy") {
        fail(ParseError::NotPolicyRequest, m_request.request.empty()
                                               ? std::string("no request attribute")
                                               : std::string("request is not smtpd_access_policy"));
        return Status::Failed;
    }
    m_request.state = parse_protocol_state(m_request.protocol_state);
    return Status::Complete;
}

RequestParser::Step RequestParser::feed(std::string_view data) {
    if (m_finished) begin_next();
    std::size_t pos = 0;
    while (pos < data.size()) {
        const char* start = data.data() + pos;
        const auto* nl = static_cast<const char*>(std::memchr(start, '\n', data.size() - pos));
        const std::size_t chunk = nl ? static_cast<std::size_t>(nl - start) : data.size() - pos;
        m_request_bytes += chunk + (nl ? 1 : 0);
        if (m_request_bytes > m_limits.max_request_bytes)
            fail(ParseError::RequestTooLarge,
                 "more than " + std::to_string(m_limits.max_request_bytes) + " bytes");

        // The current line so far is m_line (not stored once the line is too long
        // or the request is being discarded) + chunk; m_line_bytes counts it in
        // full, so the closing empty line is recognised while discarding too.
        const std::size_t line_bytes = m_line_bytes + chunk;
        const bool cr_only = chunk == 0 ? m_line_cr_only : line_bytes == 1 && *start == '\r';
        if (!m_line_too_long && line_bytes > m_limits.max_line_bytes) {
            m_line_too_long = true;
            fail(ParseError::LineTooLong, "line " + std::to_string(m_lines + 1) + ": more than " +
                                              std::to_string(m_limits.max_line_bytes) + " bytes");
        }
        const bool store = !m_discarding && !m_line_too_long;
        if (!nl) {
            if (store) m_line.append(start, chunk);
            m_line_bytes = line_bytes;
            m_line_cr_only = cr_only;
            pos = data.size();
            break;
        }
        pos += chunk + 1;
        if (line_bytes == 0 || (line_bytes == 1 && cr_only)) {
            const Status status = m_discarding ? Status::Failed : finish_request();
            if (status == Status::Failed) m_request.attribute_count = m_lines;
            m_finished = true;
            m_request_bytes = 0;
            m_line.clear();
            m_line_bytes = 0;
            m_line_too_long = false;
            return {pos, status};
        }
        if (store) {
            std::string_view line(start, chunk);
            if (!m_line.empty()) {
                m_line.append(start, chunk);
                line = m_line;
            }
            if (line.back() == '\r') line.remove_suffix(1);
            accept_line(line);
        }
        m_line.clear();
        m_line_bytes = 0;
        m_line_too_long = false;
    }
    return {pos, Status::NeedMore};
}

void append_answer(std::string& out, Action action, std::string_view text) {
    out += "action=";
    out += to_string(action);
    if (action != Action::Dunno && !text.empty()) {
        out += ' ';
        const std::size_t n = text.size() < 400 ? text.size() : 400;
        for (std::size_t i = 0; i < n; ++i) {
            const auto c = static_cast<unsigned char>(text[i]);
            out += (c < 0x20 || c >= 0x7f) ? '?' : static_cast<char>(c);
        }
    }
    out += "\n\n";
}

}  // namespace saslguard::receiver::smtp_policy
