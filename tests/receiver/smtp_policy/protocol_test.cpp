#include <catch2/catch.hpp>

#include <set>

#include "policy_test_support.hpp"
#include "saslguard/receiver/smtp_policy/protocol.hpp"

using namespace saslguard::receiver::smtp_policy;
using Status = RequestParser::Status;

namespace {

// Feeds the whole text; returns the status of the first finished request.
Status parse_all(RequestParser& p, std::string_view text) {
    auto step = p.feed(text);
    REQUIRE(step.consumed <= text.size());
    return step.status;
}

}  // namespace

TEST_CASE("a real Postfix RCPT request is parsed with the attributes the service reads") {
    const std::string text = read_fixture("postfix-3.7-rcpt.request");
    RequestParser p;
    auto step = p.feed(text);
    REQUIRE(step.status == Status::Complete);
    CHECK(step.consumed == text.size());
    const PolicyRequest& r = p.request();
    CHECK(r.request == "smtpd_access_policy");
    CHECK(r.state == ProtocolState::Rcpt);
    CHECK(r.protocol_name == "ESMTP");
    CHECK(r.client_address == "127.0.0.1");
    CHECK(r.client_name == "localhost");
    CHECK(r.sasl_method == "PLAIN");
    CHECK(r.sasl_username == "alice@saslguard.test");
    CHECK(r.sender == "alice@saslguard.test");
    CHECK(r.recipient == "a@remote.example");
    CHECK(r.recipient_count == 0);
    CHECK(r.queue_id.empty());
    CHECK(r.instance == "63f2.6b0cc64a.5fb35.0");
    CHECK(r.attribute_count == 29);
    CHECK_FALSE(p.in_request());
}

TEST_CASE("a real END-OF-MESSAGE request carries the recipient count and the queue id") {
    RequestParser p;
    REQUIRE(parse_all(p, read_fixture("postfix-3.7-end-of-message.request")) == Status::Complete);
    CHECK(p.request().state == ProtocolState::EndOfMessage);
    CHECK(p.request().recipient_count == 3);
    CHECK(p.request().queue_id == "6F2B4A7277D");
}

TEST_CASE("an unauthenticated request has an empty sasl_username") {
    RequestParser p;
    REQUIRE(parse_all(p, read_fixture("postfix-3.7-rcpt-unauthenticated.request")) ==
            Status::Complete);
    CHECK(p.request().sasl_username.empty());
    CHECK(p.request().sender == "x@example.org");
}

TEST_CASE("a request fed one byte at a time parses exactly like one fed at once") {
    const std::string text = read_fixture("postfix-3.7-end-of-message.request");
    RequestParser p;
    for (std::size_t i = 0; i < text.size(); ++i) {
        auto step = p.feed(std::string_view(text).substr(i, 1));
        REQUIRE(step.consumed == 1);
        if (i + 1 < text.size()) {
            REQUIRE(step.status == Status::NeedMore);
            CHECK(p.in_request());
        } else {
            REQUIRE(step.status == Status::Complete);
        }
    }
    CHECK(p.request().sasl_username == "alice@saslguard.test");
    CHECK(p.request().recipient_count == 3);
    CHECK(p.request().queue_id == "6F2B4A7277D");
}

TEST_CASE("two requests in one read are answered one at a time, in order") {
    const std::string a = policy_request({{"protocol_state", "RCPT"}, {"sasl_username", "a"}});
    const std::string b =
        policy_request({{"protocol_state", "END-OF-MESSAGE"}, {"sasl_username", "b"}});
    const std::string both = a + b + "request=smtpd_acc";
    RequestParser p;
    auto s1 = p.feed(both);
    REQUIRE(s1.status == Status::Complete);
    CHECK(s1.consumed == a.size());
    CHECK(p.request().sasl_username == "a");
    auto s2 = p.feed(std::string_view(both).substr(s1.consumed));
    REQUIRE(s2.status == Status::Complete);
    CHECK(s2.consumed == b.size());
    CHECK(p.request().sasl_username == "b");
    CHECK(p.request().state == ProtocolState::EndOfMessage);
    auto s3 = p.feed(std::string_view(both).substr(s1.consumed + s2.consumed));
    CHECK(s3.status == Status::NeedMore);
    CHECK(p.in_request());
    // The next request starts from scratch: nothing of "b" leaks into it.
    auto s4 = p.feed("ess_policy\nprotocol_state=MAIL\n\n");
    REQUIRE(s4.status == Status::Complete);
    CHECK(p.request().sasl_username.empty());
    CHECK(p.request().state == ProtocolState::Mail);
}

TEST_CASE("CRLF line ends are accepted (people test with nc -C)") {
    RequestParser p;
    REQUIRE(parse_all(p,
                      "request=smtpd_access_policy\r\nprotocol_state=RCPT\r\n"
                      "sasl_username=Bob\r\n\r\n") == Status::Complete);
    CHECK(p.request().sasl_username == "Bob");
    CHECK(p.request().state == ProtocolState::Rcpt);
}

TEST_CASE("control bytes in a value are kept, not an error that would answer DUNNO") {
    RequestParser p;
    const std::string helo = std::string("evil") + '\x01' + '\t' + "helo";
    REQUIRE(parse_all(p, policy_request({{"helo_name", helo},
                                         {"sender", std::string("a\x7f@b")},
                                         {"sasl_username", "mallory"}})) == Status::Complete);
    CHECK(p.request().sasl_username == "mallory");
    CHECK(p.request().sender == std::string("a\x7f@b"));
}

TEST_CASE("unknown and empty protocol states are 'other'") {
    CHECK(parse_protocol_state("BDAT-SOMETHING") == ProtocolState::Other);
    CHECK(parse_protocol_state("") == ProtocolState::Other);
    CHECK(parse_protocol_state("rcpt") == ProtocolState::Other);  // Postfix sends upper case
    CHECK(parse_protocol_state("EHLO") == ProtocolState::Helo);
    CHECK(parse_protocol_state("HELO") == ProtocolState::Helo);
}

TEST_CASE("a request without request=smtpd_access_policy is refused as not_policy_request") {
    RequestParser p;
    REQUIRE(parse_all(p, "protocol_state=RCPT\nsasl_username=a\n\n") == Status::Failed);
    CHECK(p.error() == ParseError::NotPolicyRequest);
    CHECK(p.error_detail() == "no request attribute");
    REQUIRE(parse_all(p, "request=junk\n\n") == Status::Failed);
    CHECK(p.error() == ParseError::NotPolicyRequest);
    REQUIRE(parse_all(p, "\n") == Status::Failed);  // an empty request
    CHECK(p.error() == ParseError::NotPolicyRequest);
}

TEST_CASE("malformed lines are refused with their kind and the stream stays in step") {
    RequestParser p;
    const std::string bad = "request=smtpd_access_policy\nno equals sign\nsasl_username=x\n\n";
    const std::string good = policy_request({{"sasl_username", "next"}});
    const std::string both = bad + good;
    auto s1 = p.feed(both);
    REQUIRE(s1.status == Status::Failed);
    CHECK(s1.consumed == bad.size());
    CHECK(p.error() == ParseError::MalformedLine);
    CHECK(p.error_detail() == "line 2: no '='");
    auto s2 = p.feed(std::string_view(both).substr(s1.consumed));
    REQUIRE(s2.status == Status::Complete);
    CHECK(p.request().sasl_username == "next");

    REQUIRE(parse_all(p, "request=smtpd_access_policy\n=value\n\n") == Status::Failed);
    CHECK(p.error() == ParseError::MalformedLine);
    CHECK(p.error_detail() == "line 2: empty name");
}

TEST_CASE("a recipient_count that is not a number is a bad_value") {
    RequestParser p;
    for (const char* v : {"abc", "", "-1", "3x", "99999999999"}) {
        INFO(v);
        REQUIRE(parse_all(p, policy_request({{"recipient_count", v}})) == Status::Failed);
        CHECK(p.error() == ParseError::BadValue);
    }
}

TEST_CASE("a line over max_line_bytes is refused and never buffered in full") {
    ParserLimits limits;
    limits.max_line_bytes = 600;
    limits.max_request_bytes = 1 << 20;
    RequestParser p(limits);
    REQUIRE(p.feed("request=smtpd_access_policy\nhelo_name=").status == Status::NeedMore);
    const std::string chunk(4096, 'x');
    for (int i = 0; i < 50; ++i) {
        REQUIRE(p.feed(chunk).status == Status::NeedMore);
        CHECK(p.buffered_bytes() <= 2 * limits.max_line_bytes);
    }
    auto step = p.feed("\nsasl_username=a\n\n");
    REQUIRE(step.status == Status::Failed);
    CHECK(p.error() == ParseError::LineTooLong);
    CHECK(p.error_detail() == "line 2: more than 600 bytes");
}

TEST_CASE("more than max_attributes lines is too_many_attributes") {
    ParserLimits limits;
    limits.max_attributes = 20;
    RequestParser p(limits);
    std::string text = "request=smtpd_access_policy\n";
    for (int i = 0; i < 25; ++i) text += "x" + std::to_string(i) + "=y\n";
    text += "\n";
    REQUIRE(parse_all(p, text) == Status::Failed);
    CHECK(p.error() == ParseError::TooManyAttributes);
}

TEST_CASE("a request that never ends stays bounded and is too large when it finally ends") {
    ParserLimits limits;
    limits.max_request_bytes = 2048;
    RequestParser p(limits);
    REQUIRE(p.feed("request=smtpd_access_policy\n").status == Status::NeedMore);
    for (int i = 0; i < 10000; ++i) {
        REQUIRE(p.feed("name=value\n").status == Status::NeedMore);
        CHECK(p.in_request());
    }
    CHECK(p.buffered_bytes() <= limits.max_line_bytes);
    auto step = p.feed("\n" + policy_request({{"sasl_username", "after"}}));
    REQUIRE(step.status == Status::Failed);
    CHECK(step.consumed == 1);
    // 10,000 lines: the attribute limit (100) is hit before the size limit.
    CHECK(p.error() == ParseError::TooManyAttributes);

    ParserLimits roomy = limits;
    roomy.max_attributes = 1 << 20;
    RequestParser q(roomy);
    for (int i = 0; i < 1000; ++i) REQUIRE(q.feed("name=value\n").status == Status::NeedMore);
    REQUIRE(q.feed("\n").status == Status::Failed);
    CHECK(q.error() == ParseError::RequestTooLarge);
    CHECK(q.error_detail() == "more than 2048 bytes");
}

TEST_CASE("the empty line that ends a bad request is found across reads, CR or not") {
    RequestParser p;
    REQUIRE(p.feed("garbage\n").status == Status::NeedMore);
    REQUIRE(p.feed("more garbage\n\r").status == Status::NeedMore);
    auto step = p.feed("\nrequest=smtpd_access_policy\n\n");
    REQUIRE(step.status == Status::Failed);
    CHECK(step.consumed == 1);
    CHECK(p.error() == ParseError::MalformedLine);
    CHECK(p.error_detail() == "line 1: no '='");
}

TEST_CASE("answers are action lines ended by an empty line, with a safe text") {
    std::string out;
    append_answer(out, Action::Dunno, "ignored for DUNNO");
    CHECK(out == "action=DUNNO\n\n");
    out.clear();
    append_answer(out, Action::Reject, "5.7.1 blocked");
    CHECK(out == "action=REJECT 5.7.1 blocked\n\n");
    out.clear();
    append_answer(out, Action::Hold, "line\nbreak\r\x01 \xc3\xa9");
    CHECK(out == "action=HOLD line?break?? ??\n\n");
    out.clear();
    append_answer(out, Action::Reject, std::string(1000, 'a'));
    CHECK(out.size() == std::string("action=REJECT ").size() + 400 + 2);
}

TEST_CASE("every parse error kind has a distinct metric name") {
    std::set<std::string_view> names;
    for (std::size_t i = 0; i < kParseErrorCount; ++i)
        names.insert(to_string(static_cast<ParseError>(i)));
    CHECK(names.size() == kParseErrorCount);
    CHECK(names.count("unknown") == 0);
}
