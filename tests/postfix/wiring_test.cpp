// Tests for the Postfix wiring analyzer (postfix/src/wiring.cpp) on real
// `postconf -n/-M/-P` output captured from private Postfix 3.7 configurations
// (tests/fixtures/postconf/capture.sh; each case's main.cf and master.cf are
// beside its captures and say what the case is).
#include "saslguard/postfix/wiring.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

using saslguard::postfix::analyze_wiring;
using saslguard::postfix::PostconfTexts;
using saslguard::postfix::SmtpdService;
using saslguard::postfix::WiringCheck;
using saslguard::postfix::WiringExpectation;
using saslguard::postfix::WiringFinding;
using saslguard::postfix::WiringReport;
using saslguard::postfix::WiringVerdict;

namespace {

std::string read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in.good());
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

PostconfTexts capture(const std::string& name, bool with_p = true) {
    std::string dir = std::string(SASLGUARD_FIXTURES_DIR) + "/postconf/" + name + "/";
    return {read(dir + "n.txt"), read(dir + "M.txt"), with_p ? read(dir + "P.txt") : ""};
}

// The receiver's defaults (deploy/receiver.yml) plus a policy service.
WiringExpectation defaults(bool policy = false) {
    WiringExpectation x;
    x.sasl_access_map = "/etc/postfix/saslguard_sasl_access";
    x.client_access_map = "/etc/postfix/saslguard_client_access";
    x.map_type = "hash";
    if (policy) x.policy_service = "inet:127.0.0.1:10031";
    return x;
}

WiringReport analyze(const std::string& name, const WiringExpectation& x, bool with_p = true) {
    auto r = analyze_wiring(capture(name, with_p), x);
    REQUIRE(r.ok());
    return std::move(*r);
}

const SmtpdService& service(const WiringReport& r, const std::string& label) {
    for (const auto& s : r.services)
        if (s.label() == label) return s;
    FAIL("no service " << label);
    throw;
}

const WiringFinding& finding(const SmtpdService& s, WiringCheck c) {
    for (const auto& f : s.findings)
        if (f.check == c) return f;
    FAIL("no finding for " << to_string(c) << " in " << s.label());
    throw;
}

std::vector<std::string> labels(const WiringReport& r) {
    std::vector<std::string> out;
    for (const auto& s : r.services) out.push_back(s.label());
    return out;
}

}  // namespace

TEST_CASE("right wiring: every AUTH service consults both maps and the policy service first") {
    auto r = analyze("right", defaults(true));
    // Port 25 has no AUTH here (smtpd_sasl_auth_enable = no): not a SASL service.
    CHECK(labels(r) == std::vector<std::string>{"submission/inet", "submissions/inet"});
    CHECK(r.ok());
    const auto& sub = service(r, "submission/inet");
    CHECK(sub.chroot);
    CHECK(sub.syslog_name == "postfix/submission");
    // Followed through -o ...=$mua_sender_restrictions and the restriction class.
    const auto& sasl = finding(sub, WiringCheck::SaslAccessMap);
    CHECK(sasl.list == "smtpd_sender_restrictions");
    CHECK_THAT(sasl.detail, Catch::Contains("(saslguard_sender)"));
    CHECK(finding(sub, WiringCheck::PolicyService).list == "smtpd_recipient_restrictions");
    CHECK(sub.lists[2].source == "master.cf submission/inet -o");
    CHECK(sub.lists[2].raw == "$mua_sender_restrictions");
    CHECK(sub.lists[2].elements ==
          std::vector<std::string>{"check_sasl_access hash:/etc/postfix/saslguard_sasl_access"});
    CHECK(r.notes.empty());
}

TEST_CASE(
    "master.cf from -M alone (no -P) gives the same report, brace-quoted -o values included") {
    auto with_p = analyze("right", defaults(true));
    auto without = analyze("right", defaults(true), false);
    CHECK(without.ok());
    CHECK(labels(without) == labels(with_p));
    CHECK(service(without, "submission/inet").lists[4].elements ==
          service(with_p, "submission/inet").lists[4].elements);

    PostconfTexts t = capture("right", false);
    t.master =
        "submission inet  n       -       y       -       -       smtpd -o "
        "smtpd_sasl_auth_enable=yes -o {smtpd_sender_restrictions=check_sasl_access "
        "hash:/etc/postfix/saslguard_sasl_access, permit_sasl_authenticated}\n";
    auto r = analyze_wiring(t, defaults());
    REQUIRE(r.ok());
    CHECK(finding(r->services.at(0), WiringCheck::SaslAccessMap).ok());
}

TEST_CASE("Debian's stock submission entries empty the lists: port 587 and 465 unprotected") {
    auto r = analyze("debian-stock", defaults());
    CHECK(labels(r) ==
          std::vector<std::string>{"smtp/inet", "submission/inet", "submissions/inet"});
    CHECK_FALSE(r.ok());
    // main.cf names the maps: port 25 is fine.
    CHECK(service(r, "smtp/inet").ok());
    for (auto label : {"submission/inet", "submissions/inet"}) {
        const auto& s = service(r, label);
        const auto& f = finding(s, WiringCheck::SaslAccessMap);
        CHECK(f.verdict == WiringVerdict::Missing);
        CHECK_THAT(f.detail, Catch::Contains("master.cf sets smtpd_sender_restrictions="));
        // postconf -P takes no whitespace: the fix goes through a mua_* parameter.
        CHECK(f.fix ==
              "postconf -e 'mua_sender_restrictions = check_sasl_access "
              "hash:/etc/postfix/saslguard_sasl_access' && postconf -P '" +
                  std::string(label) +
                  "/smtpd_sender_restrictions=$mua_sender_restrictions' && postfix reload  "
                  "(master.cf " +
                  label + " overrides smtpd_sender_restrictions)");
        CHECK(finding(s, WiringCheck::ClientAccessMap).verdict == WiringVerdict::Missing);
    }
}

TEST_CASE("Debian's stock entries with a policy service: the override's own list is kept") {
    auto r = analyze("debian-stock", defaults(true));
    const auto& f = finding(service(r, "submission/inet"), WiringCheck::PolicyService);
    CHECK(f.verdict == WiringVerdict::Missing);
    CHECK_THAT(f.fix, Catch::StartsWith("postconf -e 'mua_recipient_restrictions = "
                                        "check_policy_service inet:127.0.0.1:10031, "
                                        "permit_sasl_authenticated,reject'"));
}

TEST_CASE("map only in main.cf's smtpd_sender_restrictions, submission uses undefined $mua_*") {
    auto r = analyze("debian-mua", defaults());
    CHECK(service(r, "smtp/inet").ok());
    const auto& sub = service(r, "submission/inet");
    CHECK_FALSE(sub.ok());
    const auto& f = finding(sub, WiringCheck::SaslAccessMap);
    CHECK(f.verdict == WiringVerdict::Missing);
    CHECK(f.list == "smtpd_sender_restrictions");
    // The fix is in main.cf, where $mua_sender_restrictions points.
    CHECK(f.fix ==
          "postconf -e 'mua_sender_restrictions = check_sasl_access "
          "hash:/etc/postfix/saslguard_sasl_access' && postfix reload  (master.cf "
          "submission/inet takes smtpd_sender_restrictions from $mua_sender_restrictions)");
    CHECK(std::find(r.notes.begin(), r.notes.end(),
                    "undefined parameter $mua_sender_restrictions (expands to nothing)") !=
          r.notes.end());
}

TEST_CASE("map after permit_sasl_authenticated is never reached by a login") {
    auto r = analyze("after-permit", defaults());
    CHECK(labels(r) == std::vector<std::string>{"smtp/inet"});
    const auto& s = service(r, "smtp/inet");
    const auto& sasl = finding(s, WiringCheck::SaslAccessMap);
    CHECK(sasl.verdict == WiringVerdict::AfterPermit);
    CHECK(sasl.list == "smtpd_sender_restrictions");
    CHECK(sasl.fix ==
          "in smtpd_sender_restrictions, move check_sasl_access "
          "hash:/etc/postfix/saslguard_sasl_access before permit_sasl_authenticated, then "
          "postfix reload");
    // permit_mynetworks first only lets mynetworks skip the IP map: consulted, with a note.
    const auto& ip = finding(s, WiringCheck::ClientAccessMap);
    CHECK(ip.ok());
    CHECK_THAT(ip.detail, Catch::Contains("after permit_mynetworks"));
    CHECK_FALSE(r.ok());
}

TEST_CASE("a table of another type than the receiver postmaps is a failure") {
    auto x = defaults();
    x.map_type = "lmdb";
    auto r = analyze("right", x);
    const auto& f = finding(service(r, "submission/inet"), WiringCheck::SaslAccessMap);
    CHECK(f.verdict == WiringVerdict::WrongTableType);
    CHECK_THAT(f.fix, Catch::Contains("lmdb:/etc/postfix/saslguard_sasl_access"));
}

TEST_CASE("a map path the receiver does not write is missing, not consulted") {
    auto x = defaults();
    x.sasl_access_map = "/etc/postfix/other";
    auto r = analyze("right", x);
    CHECK(finding(service(r, "submission/inet"), WiringCheck::SaslAccessMap).verdict ==
          WiringVerdict::Missing);
}

TEST_CASE("smtpd_delay_reject = no: a login check in the client list runs before AUTH") {
    PostconfTexts t{
        "smtpd_sasl_auth_enable = yes\nsmtpd_delay_reject = no\n"
        "smtpd_client_restrictions = check_sasl_access hash:/etc/postfix/saslguard_sasl_access\n",
        "smtp       inet  n       -       y       -       -       smtpd\n", ""};
    auto r = analyze_wiring(t, defaults());
    REQUIRE(r.ok());
    CHECK(finding(r->services.at(0), WiringCheck::SaslAccessMap).verdict ==
          WiringVerdict::BeforeAuth);
}

TEST_CASE("conditional expansions are reported as not understood, never as protected") {
    PostconfTexts t{
        "smtpd_sasl_auth_enable = yes\n"
        "smtpd_sender_restrictions = ${x?{check_sasl_access hash:/y}}\n",
        "smtp       inet  n       -       y       -       -       smtpd\n", ""};
    auto r = analyze_wiring(t, defaults());
    REQUIRE(r.ok());
    CHECK(finding(r->services.at(0), WiringCheck::SaslAccessMap).verdict ==
          WiringVerdict::NotUnderstood);
}

TEST_CASE("no AUTH anywhere: nothing to protect is not a pass") {
    auto r =
        analyze_wiring({"smtpd_sasl_auth_enable = no\n",
                        "smtp       inet  n       -       y       -       -       smtpd\n", ""},
                       defaults());
    REQUIRE(r.ok());
    CHECK(r->services.empty());
    CHECK_FALSE(r->ok());
}

TEST_CASE("text that is not postconf output is an error") {
    CHECK_FALSE(analyze_wiring({"", "", ""}, defaults()).ok());
    CHECK_FALSE(analyze_wiring({"a = b\n", "smtp inet n\n", ""}, defaults()).ok());
}
