#include "saslguard/postfix/wiring.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>

namespace saslguard::postfix {
namespace {

// Lists smtpd evaluates for a message, in Postfix's order. client..recipient run at
// RCPT TO (smtpd_delay_reject = yes); data and end-of-data later, still before the
// message is accepted, so a reject there stops it as well.
constexpr std::string_view kLists[] = {
    "smtpd_client_restrictions",      "smtpd_helo_restrictions",      "smtpd_sender_restrictions",
    "smtpd_relay_restrictions",       "smtpd_recipient_restrictions", "smtpd_data_restrictions",
    "smtpd_end_of_data_restrictions",
};

// Built-in defaults of the parameters read here (Postfix 3.7, compatibility_level >= 1).
const std::map<std::string, std::string, std::less<>>& defaults() {
    static const std::map<std::string, std::string, std::less<>> d = {
        {"smtpd_sasl_auth_enable", "no"},
        {"smtpd_delay_reject", "yes"},
        {"smtpd_relay_restrictions",
         "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination"},
        {"syslog_name", "postfix"},
        {"smtpd_restriction_classes", ""},
        {"smtpd_client_restrictions", ""},
        {"smtpd_helo_restrictions", ""},
        {"smtpd_sender_restrictions", ""},
        {"smtpd_recipient_restrictions", ""},
        {"smtpd_data_restrictions", ""},
        {"smtpd_end_of_data_restrictions", ""},
    };
    return d;
}

// Restrictions that end their list for an authenticated client wherever it connects from.
bool ends_list_for_login(std::string_view r) {
    return r == "permit_sasl_authenticated" || r == "permit";
}
// Restrictions that end it for some clients only (noted, not a failure).
bool ends_list_for_some(std::string_view r) {
    return r == "permit_mynetworks" || r == "permit_tls_clientcerts" ||
           r == "permit_tls_all_clientcerts";
}

// Restrictions followed by one argument (a table or a service address).
bool takes_argument(std::string_view r) {
    auto ends_with = [&](std::string_view s) {
        return r.size() >= s.size() && r.substr(r.size() - s.size()) == s;
    };
    auto starts_with = [&](std::string_view s) { return r.substr(0, s.size()) == s; };
    return (starts_with("check_") && (ends_with("_access") || r == "check_policy_service")) ||
           starts_with("reject_rbl_") || starts_with("reject_rhsbl_") ||
           starts_with("permit_dnswl_") || starts_with("permit_rhswl_") ||
           r == "reject_dnsbl_client";
}

std::string trim(std::string_view s) {
    std::size_t b = 0, e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
    return std::string(s.substr(b, e - b));
}

bool valid_name(std::string_view n) {
    return !n.empty() && std::all_of(n.begin(), n.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '_' || c == '-' || c == '.';
    });
}

// "name = value" (postconf -n / postconf / postconf -P). Value may be empty.
std::optional<std::pair<std::string, std::string>> split_assignment(std::string_view line) {
    auto eq = line.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    std::string name = trim(line.substr(0, eq));
    if (name.empty()) return std::nullopt;
    return std::make_pair(name, trim(line.substr(eq + 1)));
}

std::vector<std::string_view> lines_of(std::string_view text) {
    std::vector<std::string_view> out;
    while (!text.empty()) {
        auto nl = text.find('\n');
        out.push_back(text.substr(0, nl));
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    }
    return out;
}

// Postfix list syntax: elements separated by whitespace or commas; "{ ... }"
// groups one element that may contain both (Postfix >= 3.0).
std::vector<std::string> split_list(std::string_view s) {
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i < s.size()) {
        unsigned char c = s[i];
        if (std::isspace(c) || c == ',') {
            ++i;
            continue;
        }
        if (c == '{') {
            int depth = 0;
            std::size_t j = i;
            for (; j < s.size(); ++j) {
                if (s[j] == '{') ++depth;
                if (s[j] == '}' && --depth == 0) break;
            }
            out.push_back(std::string(s.substr(i, std::min(j + 1, s.size()) - i)));
            i = j + 1;
            continue;
        }
        std::size_t j = i;
        while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j])) && s[j] != ',') ++j;
        out.push_back(std::string(s.substr(i, j - i)));
        i = j;
    }
    return out;
}

struct MasterEntry {
    std::string name, type, command;
    bool chroot = false;
    std::map<std::string, std::string> overrides;  // -o name=value
};

// One line of `postconf -M`: 8 columns, then the command's arguments; -o values
// with whitespace are printed as "-o {name=value with spaces}".
Result<MasterEntry> parse_master_line(std::string_view line) {
    std::vector<std::string> tok;
    std::size_t i = 0;
    while (i < line.size()) {
        if (std::isspace(static_cast<unsigned char>(line[i]))) {
            ++i;
            continue;
        }
        std::size_t j = i;
        if (line[i] == '{') {
            j = line.find('}', i);
            j = j == std::string_view::npos ? line.size() : j + 1;
        } else {
            while (j < line.size() && !std::isspace(static_cast<unsigned char>(line[j]))) ++j;
        }
        tok.emplace_back(line.substr(i, j - i));
        i = j;
    }
    if (tok.size() < 8) return make_error("not a postconf -M line: " + std::string(line));
    MasterEntry e;
    e.name = tok[0];
    e.type = tok[1];
    e.chroot = tok[4] == "y";  // "-": the default, n since Postfix 3.0
    e.command = tok[7];
    for (std::size_t k = 8; k + 1 < tok.size(); ++k) {
        if (tok[k] != "-o") continue;
        std::string arg = tok[++k];
        if (arg.size() >= 2 && arg.front() == '{' && arg.back() == '}')
            arg = arg.substr(1, arg.size() - 2);
        if (auto a = split_assignment(arg)) e.overrides[a->first] = a->second;
    }
    return e;
}

struct Element {
    std::string text;    // "permit_sasl_authenticated" or "check_sasl_access hash:/x"
    std::string origin;  // parameter whose text holds it
};

// The parameters one service sees: its -o overrides, main.cf, built-in defaults.
class ServiceParams {
public:
    ServiceParams(const std::map<std::string, std::string>& main,
                  const std::map<std::string, std::string>& overrides, std::string service_name,
                  std::set<std::string>& undefined)
        : m_main(main),
          m_overrides(overrides),
          m_service(std::move(service_name)),
          m_undefined(undefined) {}

    std::optional<std::string> raw(const std::string& name) const {
        if (auto it = m_overrides.find(name); it != m_overrides.end()) return it->second;
        if (auto it = m_main.find(name); it != m_main.end()) return it->second;
        if (auto it = defaults().find(name); it != defaults().end()) return it->second;
        if (name == "service_name") return m_service;
        return std::nullopt;
    }
    bool overridden(const std::string& name) const { return m_overrides.count(name) > 0; }
    bool in_main(const std::string& name) const { return m_main.count(name) > 0; }

    // Text expansion of $name, ${name}, $(name); false when the text uses
    // conditional forms (${name?x}, ${name:x}, ${{...}}) this code does not evaluate.
    bool expand(std::string_view in, std::string& out, int depth = 0) const {
        if (depth > 10) return false;
        for (std::size_t i = 0; i < in.size(); ++i) {
            if (in[i] != '$') {
                out += in[i];
                continue;
            }
            if (i + 1 < in.size() && in[i + 1] == '$') {
                out += '$';
                ++i;
                continue;
            }
            std::string name;
            std::size_t j = i + 1;
            if (j < in.size() && (in[j] == '{' || in[j] == '(')) {
                char close = in[j] == '{' ? '}' : ')';
                auto end = in.find(close, j + 1);
                if (end == std::string_view::npos) return false;
                name = std::string(in.substr(j + 1, end - j - 1));
                if (!valid_name(name)) return false;  // ${name?..}, ${name:..}, ${{..}}
                i = end;
            } else {
                while (j < in.size() &&
                       (std::isalnum(static_cast<unsigned char>(in[j])) || in[j] == '_'))
                    name += in[j++];
                if (name.empty()) return false;
                i = j - 1;
            }
            auto v = raw(name);
            if (!v) {
                m_undefined.insert(name);
                continue;
            }
            if (!expand(*v, out, depth + 1)) return false;
        }
        return true;
    }

    // A restriction list as elements, each with the parameter it came from.
    // A whole-element $name and a restriction-class name are followed.
    bool elements(const std::string& param, std::vector<Element>& out,
                  const std::set<std::string>& classes, int depth = 0) const {
        if (depth > 10) return false;
        auto value = raw(param);
        if (!value) {
            m_undefined.insert(param);
            return true;
        }
        std::vector<Element> flat;
        for (auto& tok : split_list(*value)) {
            std::string ref = reference(tok);
            if (!ref.empty()) {
                if (!elements(ref, flat, classes, depth + 1)) return false;
            } else if (classes.count(tok) && raw(tok)) {
                if (!elements(tok, flat, classes, depth + 1)) return false;
            } else {
                std::string expanded;
                if (!expand(tok, expanded)) return false;
                flat.push_back({expanded, param});
            }
        }
        out.insert(out.end(), flat.begin(), flat.end());
        return true;
    }

    // "$name" / "${name}" / "$(name)" as a whole: the name, else "".
    static std::string reference(std::string_view tok) {
        if (tok.size() < 2 || tok[0] != '$') return {};
        std::string_view n = tok.substr(1);
        if (n.size() >= 2 &&
            ((n.front() == '{' && n.back() == '}') || (n.front() == '(' && n.back() == ')')))
            n = n.substr(1, n.size() - 2);
        return valid_name(n) ? std::string(n) : std::string{};
    }

private:
    const std::map<std::string, std::string>& m_main;
    const std::map<std::string, std::string>& m_overrides;
    std::string m_service;
    std::set<std::string>& m_undefined;
};

bool truthy(const std::string& v) {
    std::string l;
    for (char c : v) l += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return l == "yes" || l == "true" || l == "1";
}

// Groups "check_x_access" with its table; returns false on a dangling restriction.
std::vector<Element> group(const std::vector<Element>& flat) {
    std::vector<Element> out;
    for (std::size_t i = 0; i < flat.size(); ++i) {
        if (takes_argument(flat[i].text) && i + 1 < flat.size()) {
            out.push_back({flat[i].text + " " + flat[i + 1].text, flat[i].origin});
            ++i;
        } else {
            out.push_back(flat[i]);
        }
    }
    return out;
}

// "proxy:hash:/etc/postfix/x" -> {"hash", "/etc/postfix/x"}.
std::pair<std::string, std::string> split_table(std::string table) {
    if (table.size() >= 2 && table.front() == '{' && table.back() == '}')
        table = trim(std::string_view(table).substr(1, table.size() - 2));
    while (table.rfind("proxy:", 0) == 0) table = table.substr(6);
    auto colon = table.find(':');
    if (colon == std::string::npos) return {"", table};
    return {table.substr(0, colon), table.substr(colon + 1)};
}

std::string normalize_service(std::string addr) {
    if (addr.size() >= 2 && addr.front() == '{' && addr.back() == '}') {
        addr = trim(std::string_view(addr).substr(1, addr.size() - 2));
        addr = addr.substr(0, addr.find_first_of(", \t"));
    }
    if (addr.rfind("inet:", 0) == 0) addr = addr.substr(5);
    return addr;
}

struct Wanted {
    WiringCheck check;
    std::string restriction;  // check_sasl_access
    std::string argument;     // hash:/etc/postfix/saslguard_sasl_access
    std::string home_list;    // where to add it when missing
};

enum class Match { None, Yes, WrongType };

Match matches(const Element& e, const Wanted& w, const WiringExpectation& x) {
    auto sp = e.text.find(' ');
    if (sp == std::string::npos || e.text.substr(0, sp) != w.restriction) return Match::None;
    std::string arg = e.text.substr(sp + 1);
    if (w.check == WiringCheck::PolicyService)
        return normalize_service(arg) == normalize_service(x.policy_service) ? Match::Yes
                                                                             : Match::None;
    auto [type, path] = split_table(arg);
    const std::string& want_path =
        w.check == WiringCheck::SaslAccessMap ? x.sasl_access_map : x.client_access_map;
    if (path != want_path) return Match::None;
    if (!x.map_type.empty() && type != x.map_type) return Match::WrongType;
    return Match::Yes;
}

std::string quote(const std::string& s) {
    return "'" + s + "'";
}

// Where a list's text is edited: follow a value that is exactly one $reference.
std::string edit_target(const ServiceParams& p, std::string param) {
    for (int i = 0; i < 10; ++i) {
        auto v = p.raw(param);
        if (!v) return param;
        auto ref = ServiceParams::reference(trim(*v));
        if (ref.empty() || p.overridden(ref)) return param;
        param = ref;
    }
    return param;
}

std::string fix_add(const ServiceParams& p, const SmtpdService& svc, const Wanted& w,
                    const std::string& element) {
    const std::string& list = w.home_list;
    if (p.overridden(list)) {
        std::string target = edit_target(p, list);
        if (target != list) {
            // -o list=$mua_x_restrictions: add it to that main.cf parameter.
            std::string current = p.raw(target).value_or("");
            return "postconf -e " +
                   quote(target + " = " + element + (current.empty() ? "" : ", " + current)) +
                   " && postfix reload  (master.cf " + svc.label() + " takes " + list + " from $" +
                   target + ")";
        }
        // A literal -o value: postconf -P takes no whitespace, so give it a main.cf
        // parameter, as master.cf's own comments recommend ($mua_*_restrictions).
        std::string stem = list.substr(6, list.size() - 6 - 13);  // sender
        std::string name = "mua_" + stem + "_restrictions";
        if (p.in_main(name)) name = "saslguard_" + stem + "_restrictions";
        std::string current = p.raw(list).value_or("");
        return "postconf -e " +
               quote(name + " = " + element + (current.empty() ? "" : ", " + current)) +
               " && postconf -P " + quote(svc.label() + "/" + list + "=$" + name) +
               " && postfix reload  (master.cf " + svc.label() + " overrides " + list + ")";
    }
    std::string target = edit_target(p, list);
    std::string current = p.raw(target).value_or("");
    return "postconf -e " +
           quote(target + " = " + element + (current.empty() ? "" : ", " + current)) +
           " && postfix reload";
}

}  // namespace

bool SmtpdService::ok() const {
    return std::all_of(findings.begin(), findings.end(), [](const auto& f) { return f.ok(); });
}

bool WiringReport::ok() const {
    return !services.empty() &&
           std::all_of(services.begin(), services.end(), [](const auto& s) { return s.ok(); });
}

std::string_view to_string(WiringCheck check) {
    switch (check) {
        case WiringCheck::SaslAccessMap:
            return "check_sasl_access map";
        case WiringCheck::ClientAccessMap:
            return "check_client_access map";
        case WiringCheck::PolicyService:
            return "policy service";
    }
    return "?";
}

std::string_view to_string(WiringVerdict verdict) {
    switch (verdict) {
        case WiringVerdict::Consulted:
            return "consulted";
        case WiringVerdict::Missing:
            return "missing";
        case WiringVerdict::AfterPermit:
            return "after a permit";
        case WiringVerdict::WrongTableType:
            return "wrong table type";
        case WiringVerdict::BeforeAuth:
            return "before AUTH";
        case WiringVerdict::NotUnderstood:
            return "not understood";
    }
    return "?";
}

Result<WiringReport> analyze_wiring(const PostconfTexts& texts, const WiringExpectation& expected) {
    WiringReport report;
    std::map<std::string, std::string> main;
    for (auto line : lines_of(texts.main)) {
        if (trim(line).empty()) continue;
        auto a = split_assignment(line);
        if (!a || !valid_name(a->first)) {
            report.notes.push_back("main.cf: line not understood: " + std::string(line));
            continue;
        }
        main[a->first] = a->second;
    }
    if (main.empty()) return make_error("postconf main.cf output has no parameter line");

    std::vector<MasterEntry> entries;
    for (auto line : lines_of(texts.master)) {
        if (trim(line).empty()) continue;
        auto e = parse_master_line(line);
        if (!e) return e.error();
        entries.push_back(std::move(*e));
    }
    // postconf -P, when given, is the authority on -o values (no brace quoting).
    for (auto line : lines_of(texts.overrides)) {
        if (trim(line).empty()) continue;
        auto a = split_assignment(line);
        auto s1 = a ? a->first.find('/') : std::string::npos;
        auto s2 = a && s1 != std::string::npos ? a->first.find('/', s1 + 1) : std::string::npos;
        if (s2 == std::string::npos) {
            report.notes.push_back("master.cf -P: line not understood: " + std::string(line));
            continue;
        }
        std::string svc = a->first.substr(0, s1), type = a->first.substr(s1 + 1, s2 - s1 - 1);
        for (auto& e : entries)
            if (e.name == svc && e.type == type) e.overrides[a->first.substr(s2 + 1)] = a->second;
    }

    std::vector<Wanted> wanted;
    std::string type = expected.map_type.empty() ? "hash" : expected.map_type;
    if (!expected.sasl_access_map.empty())
        wanted.push_back({WiringCheck::SaslAccessMap, "check_sasl_access",
                          type + ":" + expected.sasl_access_map, "smtpd_sender_restrictions"});
    if (!expected.client_access_map.empty())
        wanted.push_back({WiringCheck::ClientAccessMap, "check_client_access",
                          type + ":" + expected.client_access_map, "smtpd_client_restrictions"});
    if (!expected.policy_service.empty())
        wanted.push_back({WiringCheck::PolicyService, "check_policy_service",
                          expected.policy_service, "smtpd_recipient_restrictions"});

    std::set<std::string> undefined;
    for (const auto& e : entries) {
        std::string cmd = e.command.substr(e.command.rfind('/') + 1);
        if (cmd != "smtpd") continue;
        ServiceParams p(main, e.overrides, e.name, undefined);
        std::string auth;
        if (!p.expand(p.raw("smtpd_sasl_auth_enable").value_or("no"), auth) || !truthy(auth))
            continue;

        SmtpdService svc;
        svc.name = e.name;
        svc.type = e.type;
        svc.chroot = e.chroot;
        p.expand(p.raw("syslog_name").value_or("postfix"), svc.syslog_name);
        std::string delay;
        bool delay_reject =
            !p.expand(p.raw("smtpd_delay_reject").value_or("yes"), delay) || truthy(delay);
        std::set<std::string> classes;
        std::string class_text;
        if (p.expand(p.raw("smtpd_restriction_classes").value_or(""), class_text))
            for (auto& c : split_list(class_text)) classes.insert(c);

        auto where = [&](const std::string& param) {
            return p.overridden(param) ? "master.cf " + svc.label() + " -o " + param : param;
        };
        std::vector<std::vector<Element>> grouped;
        std::vector<bool> understood;
        for (auto list : kLists) {
            std::string name(list);
            EffectiveList eff;
            eff.name = name;
            eff.raw = p.raw(name).value_or("");
            eff.source = e.overrides.count(name) ? "master.cf " + svc.label() + " -o"
                         : main.count(name)      ? "main.cf"
                                                 : "default";
            std::vector<Element> flat;
            bool fine = p.elements(name, flat, classes);
            auto g = group(flat);
            for (auto& el : g) eff.elements.push_back(el.text);
            grouped.push_back(std::move(g));
            understood.push_back(fine);
            svc.lists.push_back(std::move(eff));
        }

        for (const auto& w : wanted) {
            WiringFinding f{w.check, WiringVerdict::Missing, "", "", ""};
            std::optional<WiringFinding> after, wrong, before_auth;
            bool any_not_understood = false;
            for (std::size_t li = 0; li < grouped.size(); ++li) {
                const std::string& lname = svc.lists[li].name;
                if (!understood[li]) any_not_understood = true;
                std::string permit, partial;
                for (const auto& el : grouped[li]) {
                    Match m = matches(el, w, expected);
                    if (m == Match::WrongType && !wrong) {
                        wrong =
                            WiringFinding{w.check, WiringVerdict::WrongTableType, lname,
                                          lname + " (" + el.origin + ") names " + el.text +
                                              ", but the receiver runs postmap with " + w.argument,
                                          "name the table as " + w.argument + " in " + el.origin +
                                              ", or set mitigation.map_type in "
                                              "receiver.yml to its type"};
                    }
                    if (m == Match::Yes) {
                        bool early = !delay_reject && li < 2;
                        if (!permit.empty()) {
                            if (!after)
                                after = WiringFinding{
                                    w.check, WiringVerdict::AfterPermit, lname,
                                    lname + " names " + el.text + " after " + permit +
                                        ", which ends the list for an authenticated client first",
                                    "in " + where(el.origin) + ", move " + el.text + " before " +
                                        permit + ", then postfix reload"};
                        } else if (early) {
                            if (!before_auth)
                                before_auth = WiringFinding{
                                    w.check, WiringVerdict::BeforeAuth, lname,
                                    lname + " names " + el.text +
                                        ", but smtpd_delay_reject = no evaluates it before AUTH",
                                    "move " + el.text +
                                        " to smtpd_sender_restrictions or "
                                        "smtpd_recipient_restrictions"};
                        } else {
                            f.verdict = WiringVerdict::Consulted;
                            f.list = lname;
                            f.detail = lname + (el.origin == lname ? "" : " (" + el.origin + ")") +
                                       " names " + el.text;
                            if (!partial.empty())
                                f.detail += " after " + partial + " (clients it permits skip it)";
                            break;
                        }
                    }
                    if (ends_list_for_login(el.text) && permit.empty()) permit = el.text;
                    if (ends_list_for_some(el.text) && partial.empty()) partial = el.text;
                }
                if (f.ok()) break;
            }
            if (!f.ok()) {
                if (after)
                    f = *after;
                else if (wrong)
                    f = *wrong;
                else if (before_auth)
                    f = *before_auth;
                else if (any_not_understood) {
                    f.verdict = WiringVerdict::NotUnderstood;
                    f.detail =
                        "a restriction list uses ${name?..}/${name:..}/${{..}}, which "
                        "this check does not evaluate";
                    f.fix = "check by hand: postconf -x -P; postconf -x " + w.home_list;
                } else {
                    f.list = w.home_list;
                    f.detail = "no restriction list of " + svc.label() + " names " + w.restriction +
                               " " + w.argument;
                    if (e.overrides.count(w.home_list))
                        f.detail += " (master.cf sets " + w.home_list + "=" +
                                    e.overrides.at(w.home_list) + ")";
                    f.fix = fix_add(p, svc, w, w.restriction + " " + w.argument);
                }
            }
            svc.findings.push_back(std::move(f));
        }
        report.services.push_back(std::move(svc));
    }
    for (const auto& u : undefined)
        report.notes.push_back("undefined parameter $" + u + " (expands to nothing)");
    if (report.services.empty())
        report.notes.push_back("no smtpd service accepts SASL (smtpd_sasl_auth_enable)");
    return report;
}

}  // namespace saslguard::postfix
