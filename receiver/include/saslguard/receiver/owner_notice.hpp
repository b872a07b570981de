#pragma once
// Telling the account owner (the `owner_notice:` section, off by default;
// docs/owner-notice.md). When saslguard blocks an account's login, holds its
// queued mail or locks it, the owner gets one short email through the local
// Postfix saying what happened and what to do (change the password, whom to
// contact), from templates in the configuration.
//
// - The owner's address is the SASL login when it is an address, else
//   login@default_domain; no address, no mail (logged).
// - The message is handed to Postfix's sendmail as an argv (never a shell):
//   `sendmail [-C config_dir] -i -f FROM -- OWNER`, the message on stdin. The
//   recipient is an argument after "--", never read from the headers (-t), so
//   nothing in the text can add a recipient; every substituted value is
//   validated first (the login is attacker-controlled) and a header value with
//   a line break is refused.
// - One mail per incident and owner (in memory: a restart may send a second);
//   actions without an incident (/block, saslguardctl) always send.
// - A failure to send is logged and never changes the action's outcome.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "saslguard/common/result.hpp"
#include "saslguard/common/subprocess.hpp"
#include "saslguard/receiver/actions.hpp"

namespace saslguard::receiver {

struct OwnerNoticeConfig {
    bool enabled = false;
    std::string from;            // envelope sender and From: (required when enabled)
    std::string contact;         // {contact}: whom to write to; "" = from
    std::string default_domain;  // the owner of a login without '@' is login@default_domain
    std::string subject = "Your mail account {user} on {host}: {action}";
    std::string body =
        "Hello,\n"
        "\n"
        "the mail server {host} noticed unusual sending from your account {user}\n"
        "and {action} to protect you and everyone else.\n"
        "\n"
        "This usually means that someone else knows your password.\n"
        "Please change your password as soon as you can, on every device that\n"
        "sends mail with it, then contact {contact} to have the account released.\n"
        "\n"
        "If you did send a lot of mail on purpose, tell {contact}.\n";
    // The actions that tell the owner (forward kinds of the catalog).
    std::vector<ActionKind> actions = {ActionKind::BlockLogin, ActionKind::HoldMail,
                                       ActionKind::LockAccount};
    std::string sendmail = "/usr/sbin/sendmail";
    std::string postfix_config_dir;  // sendmail -C; "" = Postfix's default
    std::chrono::seconds timeout{30};
};

// Checks a template: every {name} is one of {user} {host} {action} {contact}.
// Returns the first problem ("unknown placeholder {x}").
std::optional<std::string> check_owner_template(std::string_view text);

// The owner's address for a SASL login, or an error saying why there is none.
Result<std::string> owner_address(const OwnerNoticeConfig& config, std::string_view login);

// The whole message (headers and body, LF line ends) for `login`, after
// `action` (a forward kind) on `host`. Fails when a value cannot be used
// safely (an invalid login, a line break in a header).
Result<std::string> render_owner_notice(const OwnerNoticeConfig& config, std::string_view login,
                                        std::string_view host, ActionKind action);

// Runs one argv with stdin; injected so unit tests can look at what would run.
using SendmailRunner =
    std::function<ProcessResult(const std::vector<std::string>& argv, const ProcessOptions&)>;

class OwnerNotifier {
public:
    OwnerNotifier(OwnerNoticeConfig config, std::string host, SendmailRunner run = run_process);
    // Sends the notice for a successful action, when the configuration asks
    // for it; returns whether a mail was handed to Postfix. Errors are values.
    Result<bool> after(const ActionRequest& request, const ActionOutcome& outcome);

private:
    OwnerNoticeConfig m_config;
    std::string m_host;
    SendmailRunner m_run;
    std::mutex m_mutex;
    std::set<std::pair<std::int64_t, std::string>> m_told;  // (incident, owner)
};

// An executor that tells the owner after the inner executor acted.
class OwnerNoticeExecutor final : public ActionExecutor {
public:
    OwnerNoticeExecutor(std::shared_ptr<ActionExecutor> inner,
                        std::shared_ptr<OwnerNotifier> notifier)
        : m_inner(std::move(inner)), m_notifier(std::move(notifier)) {}
    ActionOutcome execute(const ActionRequest& request) override;

private:
    std::shared_ptr<ActionExecutor> m_inner;
    std::shared_ptr<OwnerNotifier> m_notifier;
};

}  // namespace saslguard::receiver
