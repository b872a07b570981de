#include "saslguard/receiver/owner_notice.hpp"

#include <algorithm>

#include "saslguard/common/log.hpp"
#include "saslguard/common/validate.hpp"

namespace saslguard::receiver {
namespace {

constexpr std::string_view kPlaceholders[] = {"user", "host", "action", "contact"};

bool known_placeholder(std::string_view name) {
    return std::find(std::begin(kPlaceholders), std::end(kPlaceholders), name) !=
           std::end(kPlaceholders);
}

// What happened, as the owner reads it.
std::string owner_words(ActionKind kind) {
    if (kind == ActionKind::BlockLogin) return "blocked logins to it";
    if (kind == ActionKind::HoldMail) return "held the mail it was sending";
    if (kind == ActionKind::DeleteMail) return "deleted the mail it was sending";
    if (kind == ActionKind::LockAccount) return "locked it";
    if (kind == ActionKind::BlockIps) return "blocked the addresses it was used from";
    return std::string(to_string(kind));
}

std::string substitute(std::string_view text, const std::string& user, const std::string& host,
                       const std::string& action, const std::string& contact) {
    std::string out;
    for (std::size_t i = 0; i < text.size();) {
        if (text[i] == '{') {
            auto close = text.find('}', i);
            if (close != std::string_view::npos) {
                std::string_view name = text.substr(i + 1, close - i - 1);
                const std::string* v = name == "user"      ? &user
                                       : name == "host"    ? &host
                                       : name == "action"  ? &action
                                       : name == "contact" ? &contact
                                                           : nullptr;
                if (v) {
                    out += *v;
                    i = close + 1;
                    continue;
                }
            }
        }
        out += text[i++];
    }
    return out;
}

bool has_line_break(std::string_view s) {
    return s.find_first_of("\r\n") != std::string_view::npos;
}

bool ascii(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x80; });
}

// RFC 2047 encoded word (UTF-8, base64) for a header value that is not ASCII.
std::string encode_header(std::string_view s) {
    if (ascii(s)) return std::string(s);
    static const char* kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out = "=?UTF-8?B?";
    std::size_t i = 0;
    for (; i + 2 < s.size(); i += 3) {
        unsigned v = (static_cast<unsigned char>(s[i]) << 16) |
                     (static_cast<unsigned char>(s[i + 1]) << 8) |
                     static_cast<unsigned char>(s[i + 2]);
        for (int k = 18; k >= 0; k -= 6) out += kB64[(v >> k) & 63];
    }
    if (i < s.size()) {
        unsigned v = static_cast<unsigned char>(s[i]) << 16;
        if (i + 1 < s.size()) v |= static_cast<unsigned char>(s[i + 1]) << 8;
        out += kB64[(v >> 18) & 63];
        out += kB64[(v >> 12) & 63];
        out += i + 1 < s.size() ? kB64[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out + "?=";
}

}  // namespace

std::optional<std::string> check_owner_template(std::string_view text) {
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '{') continue;
        auto close = text.find('}', i);
        if (close == std::string_view::npos) return "'{' without '}'";
        std::string_view name = text.substr(i + 1, close - i - 1);
        if (!known_placeholder(name))
            return "unknown placeholder {" + std::string(name) +
                   "} (known: {user} {host} {action} {contact})";
        i = close;
    }
    return std::nullopt;
}

Result<std::string> owner_address(const OwnerNoticeConfig& config, std::string_view login) {
    auto canonical = validate::canonical_login(login);
    if (!canonical) return make_error("not a valid SASL login name");
    std::string address = *canonical;
    if (address.find('@') == std::string::npos) {
        if (config.default_domain.empty())
            return make_error(
                "the login is not an address and owner_notice.default_domain is "
                "not set");
        address += "@" + config.default_domain;
    }
    if (address.empty() || !validate::email_address(address) || address.front() == '-')
        return make_error("not a usable address: " + address);
    return address;
}

Result<std::string> render_owner_notice(const OwnerNoticeConfig& config, std::string_view login,
                                        std::string_view host, ActionKind action) {
    auto to = owner_address(config, login);
    if (!to) return to.error();
    if (has_line_break(host) || has_line_break(config.from) || has_line_break(config.contact))
        return make_error("a line break in a header value");
    const std::string user = *validate::canonical_login(login);
    const std::string contact = config.contact.empty() ? config.from : config.contact;
    const std::string words = owner_words(action);
    const std::string subject = substitute(config.subject, user, std::string(host), words, contact);
    if (has_line_break(subject)) return make_error("the subject has a line break");
    std::string body = substitute(config.body, user, std::string(host), words, contact);
    body.erase(std::remove(body.begin(), body.end(), '\r'), body.end());
    if (body.empty() || body.back() != '\n') body += '\n';
    std::string m;
    m += "From: " + config.from + "\n";
    m += "To: " + *to + "\n";
    m += "Subject: " + encode_header(subject) + "\n";
    m += "Auto-Submitted: auto-generated\n";
    m += "MIME-Version: 1.0\n";
    m += "Content-Type: text/plain; charset=UTF-8\n";
    m += "Content-Transfer-Encoding: 8bit\n";
    m += "\n";
    return m + body;
}

OwnerNotifier::OwnerNotifier(OwnerNoticeConfig config, std::string host, SendmailRunner run)
    : m_config(std::move(config)), m_host(std::move(host)), m_run(std::move(run)) {}

Result<bool> OwnerNotifier::after(const ActionRequest& request, const ActionOutcome& outcome) {
    if (!m_config.enabled || !outcome.ok || request.dry_run) return false;
    if (std::find(m_config.actions.begin(), m_config.actions.end(), request.kind) ==
        m_config.actions.end())
        return false;
    // Holding nothing is nothing to tell.
    if (request.kind == ActionKind::HoldMail && outcome.affected.empty()) return false;
    auto to = owner_address(m_config, request.username);
    if (!to) return to.error();
    {
        std::lock_guard lock(m_mutex);
        if (request.incident_id != 0 && !m_told.insert({request.incident_id, *to}).second)
            return false;
    }
    auto message = render_owner_notice(m_config, request.username, m_host, request.kind);
    if (!message) return message.error();
    std::vector<std::string> argv{m_config.sendmail};
    if (!m_config.postfix_config_dir.empty()) {
        argv.emplace_back("-C");
        argv.push_back(m_config.postfix_config_dir);
    }
    for (const char* a : {"-i", "-f"}) argv.emplace_back(a);
    argv.push_back(m_config.from);
    argv.emplace_back("--");
    argv.push_back(*to);
    ProcessOptions opt;
    opt.timeout = m_config.timeout;
    opt.stdin_data = std::move(*message);
    ProcessResult r = m_run(argv, opt);
    if (!r.success()) return make_error("sendmail: " + r.describe());
    return true;
}

ActionOutcome OwnerNoticeExecutor::execute(const ActionRequest& request) {
    ActionOutcome outcome = m_inner->execute(request);
    auto told = m_notifier->after(request, outcome);
    if (!told)
        log::warn("owner notice not sent", {{"user", request.username},
                                            {"action", std::string(to_string(request.kind))},
                                            {"error", told.error().message}});
    else if (*told)
        log::info("owner notice sent",
                  {{"user", request.username}, {"action", std::string(to_string(request.kind))}});
    return outcome;
}

}  // namespace saslguard::receiver
