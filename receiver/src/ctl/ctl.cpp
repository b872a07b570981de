#include "saslguard/receiver/mitigation/ctl.hpp"

#include <pwd.h>
#include <unistd.h>
#include <optional>
#include <ostream>

#include "saslguard/common/flags.hpp"
#include "saslguard/common/format.hpp"
#include "saslguard/common/log.hpp"
#include "saslguard/common/validate.hpp"
#include "saslguard/receiver/config.hpp"
#include "saslguard/receiver/doctor.hpp"
#include "saslguard/receiver/mitigation/catalog.hpp"
#include "saslguard/receiver/mitigation/service.hpp"
#include "saslguard/receiver/store/state_store.hpp"

namespace saslguard::receiver::mitigation {
namespace {

// The mitigation commands come from the catalog (verb, what they take, help).
std::string commands_text() {
    std::string out = "usage: saslguardctl --config FILE [options] COMMAND [ARGS]\n\ncommands:\n";
    auto line = [&out](std::string left, std::string_view help) {
        if (!help.empty() && left.size() < 28) left.resize(28, ' ');
        out += "  " + left + std::string(help);
        while (!out.empty() && out.back() == ' ') out.pop_back();
        out += "\n";
    };
    for (const auto* a : catalog().actions())
        line(std::string(a->cli_verb) + (a->target == TargetKind::Ips ? " IP..." : " USER"),
             a->help);
    line("list-blocks", "what is in force now, with expiry");
    line("audit [--limit N]", "the newest records of the action log (default 50)");
    line("expire", "revert every block whose expiry is due");
    line("doctor", "check that a block really stops mail (Postfix wiring, maps, SASL backend,");
    line("", "Prometheus rules and scrape, Alertmanager route, Telegram); exit 1 on a problem");
    return out + "\noptions:\n";
}

struct Args {
    std::string config;
    bool dry_run = false;
    bool yes = false;
    std::optional<std::chrono::seconds> expires;
    std::string reason;
    std::string user;
    std::vector<std::string> senders;
    std::size_t limit = 50;
    std::string command;
    std::vector<std::string> positional;
};

std::string iso_time(std::optional<std::int64_t> unix_ms) {
    return unix_ms ? format::rfc3339(*unix_ms / 1000) : "-";
}

// "cli:<unix user>", plus the sudo caller when there is one (validated: it is
// only an environment variable).
std::string actor() {
    std::string who = "uid" + std::to_string(::getuid());
    if (passwd* pw = ::getpwuid(::getuid()); pw && validate::unix_user(pw->pw_name))
        who = pw->pw_name;
    if (const char* sudo = std::getenv("SUDO_USER"); sudo && validate::unix_user(sudo))
        who += "(sudo:" + std::string(sudo) + ")";
    return "cli:" + who;
}

// The flags (common/flags.hpp), bound to `a`.
flags::FlagSet flag_set(Args& a) {
    flags::FlagSet set(/*allow_positional=*/true);
    set.text("config", "receiver configuration (mitigation: and state_path are used)", a.config)
        .boolean("dry-run", "validate and say what would change; change nothing", a.dry_run)
        .add({"expires", "revert automatically after DUR (30m, 24h, 7d); needs `expire` to run", "",
              false, "DUR",
              [&a](const std::string& v) -> std::string {
                  std::chrono::seconds d{};
                  if (auto e = flags::parse_positive_duration(v, d); !e.empty()) return e;
                  a.expires = d;
                  return {};
              }})
        .text("reason", "why, for the audit trail", a.reason)
        .add({"sender", "(mail commands) match this envelope sender too; repeatable", "", false,
              "ADDR",
              [&a](const std::string& v) {
                  a.senders.push_back(v);
                  return std::string();
              }})
        .text("user", "(block-ips) the login the IPs belong to, for the audit trail", a.user)
        .add({"limit", "(audit) how many records", "50", false, "N",
              [&a](const std::string& v) { return flags::parse_count(v, a.limit); }})
        .boolean("yes", "confirm a destructive action (delete-mail)", a.yes);
    return set;
}

std::string usage() {
    Args unused;
    return commands_text() + flag_set(unused).usage();
}

// Returns an error message, or "" when parsed.
std::string parse(const std::vector<std::string>& args, Args& a) {
    auto parsed = flag_set(a).parse(args);
    if (!parsed) return parsed.error().message;
    if (parsed->help) {
        a.command = "help";
        return "";
    }
    if (!parsed->positional.empty()) {
        a.command = parsed->positional.front();
        a.positional.assign(parsed->positional.begin() + 1, parsed->positional.end());
    }
    return "";
}

void print_outcome(const ActionOutcome& o, std::ostream& out, std::ostream& err) {
    if (o.ok) {
        out << o.summary << " [action " << o.action_id << "]\n";
        for (const auto& a : o.affected) out << "  " << a << "\n";
    } else {
        // The error may echo attacker-controlled text: quote it onto one line.
        err << "saslguardctl: failed: " << log::quote(o.error) << " [action " << o.action_id
            << "]\n";
    }
}

int list_blocks(store::MitigationRepository& repo, std::ostream& out, std::ostream& err) {
    auto blocks = repo.blocks();
    if (!blocks) {
        err << "saslguardctl: " << blocks.error().message << "\n";
        return 1;
    }
    out << "KIND\tTARGET\tACTION\tSINCE\tEXPIRES\n";
    for (const auto& b : *blocks)
        out << b.kind << '\t' << b.target << '\t' << b.action_id << '\t' << iso_time(b.created_at)
            << '\t' << iso_time(b.expires_at) << '\n';
    return 0;
}

int audit(store::MitigationRepository& repo, std::size_t limit, std::ostream& out,
          std::ostream& err) {
    auto rows = repo.actions(limit);
    if (!rows) {
        err << "saslguardctl: " << rows.error().message << "\n";
        return 1;
    }
    out << "ID\tTIME\tACTOR\tKIND\tTARGET\tSTATE\tDRY_RUN\tEXPIRES\tRESULT\n";
    for (const auto& a : *rows)
        out << a.id << '\t' << iso_time(a.created_at) << '\t' << log::quote(a.actor) << '\t'
            << a.kind << '\t' << a.target << '\t' << a.state << '\t' << (a.dry_run ? "yes" : "no")
            << '\t' << iso_time(a.expires_at) << '\t'
            << log::quote(a.error.empty()
                              ? a.result
                              : a.result + (a.result.empty() ? "" : "; ") + "error: " + a.error)
            << '\n';
    return 0;
}

// Checks the command line before anything is opened: a mitigation by its verb
// (the catalog) with what it takes, or an administration command. Returns why
// it is wrong ("" when right) and sets `action` for a mitigation.
std::string check_usage(const Args& a, const ActionDescriptor*& action) {
    action = catalog().find_verb(a.command);
    const bool admin_command = a.command == "list-blocks" || a.command == "audit" ||
                               a.command == "expire" || a.command == "doctor";
    if (!action && !admin_command) return "unknown command " + log::quote(a.command);
    if (!action) return "";
    if (action->target == TargetKind::Ips)
        return a.positional.empty() ? a.command + " needs at least one IP" : "";
    if (a.positional.size() != 1) return a.command + " takes exactly one USER";
    if (action->destructive() && !a.yes && !a.dry_run)
        return a.command + " cannot be undone: add --yes to confirm (or --dry-run)";
    return "";
}

// One expiry pass, as the receiver runs it every 30 s.
int expire(MitigationService& mitigation, std::ostream& out, std::ostream& err) {
    auto outcomes = mitigation.run_expiries();
    int rc = 0;
    for (const auto& o : outcomes) {
        print_outcome(o, out, err);
        if (!o.ok) rc = 1;
    }
    if (outcomes.empty()) out << "nothing due\n";
    return rc;
}

}  // namespace

int run_ctl(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
    Args a;
    if (auto e = parse(args, a); !e.empty()) {
        err << "saslguardctl: " << e << "\n" << usage();
        return 2;
    }
    if (a.command.empty() || a.command == "help") {
        (a.command.empty() ? err : out) << usage();
        return a.command.empty() ? 2 : 0;
    }
    if (a.config.empty()) {
        err << "saslguardctl: --config FILE is required\n";
        return 2;
    }
    const ActionDescriptor* action = nullptr;
    if (auto e = check_usage(a, action); !e.empty()) {
        err << "saslguardctl: " << e << "\n";
        if (e.rfind("unknown command", 0) == 0) err << usage();
        return 2;
    }

    auto config = load_config(a.config);
    if (!config) {
        err << "saslguardctl: " << config.error().message << "\n";
        return 2;
    }
    if (a.command == "doctor") {
        auto checks = doctor::run_checks(*config, doctor::system_probes());
        out << doctor::render(checks);
        return doctor::exit_code(checks);
    }
    auto state = store::StateStore::open(config->store_settings());
    if (!state) {
        err << "saslguardctl: " << state.error().message << "\n";
        return 2;
    }
    auto svc =
        MitigationService::open(**state, config->mitigation, config->policy.allow_auto_delete);
    if (!svc) {
        err << "saslguardctl: " << svc.error().message << "\n";
        return 2;
    }
    auto& mitigator = *svc;
    if (a.command == "list-blocks") return list_blocks(mitigator->repository(), out, err);
    if (a.command == "audit") return audit(mitigator->repository(), a.limit, out, err);
    if (a.command == "expire") return expire(*mitigator, out, err);

    ActionRequest req;
    req.kind = action->kind;
    if (action->target == TargetKind::Ips) {
        req.username = a.user;
        req.ips = a.positional;
    } else {
        req.username = a.positional[0];
    }
    req.senders = a.senders;
    req.actor = actor();
    req.reason = a.reason.empty() ? "saslguardctl " + a.command : a.reason;
    req.dry_run = a.dry_run;
    req.expires_after = a.expires;
    auto o = mitigator->execute(req);
    print_outcome(o, out, err);
    // The owner is told here too (docs/owner-notice.md): a block is a block,
    // whoever typed it. A failure to tell does not fail the command.
    if (config->owner_notice.enabled) {
        OwnerNotifier owner(config->owner_notice, config->telegram.host_name);
        if (auto told = owner.after(req, o); !told)
            err << "saslguardctl: owner not told: " << told.error().message << "\n";
        else if (*told)
            out << "told the owner by mail\n";
    }
    return o.ok ? 0 : 1;
}

}  // namespace saslguard::receiver::mitigation
