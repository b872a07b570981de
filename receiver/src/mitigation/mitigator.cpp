#include "saslguard/receiver/mitigation/mitigator.hpp"

#include <algorithm>
#include <map>

#include <nlohmann/json.hpp>

#include "saslguard/common/log.hpp"
#include "saslguard/common/validate.hpp"
#include "saslguard/receiver/mitigation/file_lock.hpp"

namespace saslguard::receiver::mitigation {
namespace {

constexpr std::size_t kMaxReason = 500;
constexpr std::size_t kMaxTargetEcho = 300;  // how much of a rejected name the audit row keeps

// The block kind an action puts in force or lifts, and whether it lifts it.
struct BlockKind {
    const char* kind;
    bool lifts;
};
BlockKind block_kind(ActionKind k) {
    switch (k) {
        case ActionKind::BlockLogin:
            return {"login", false};
        case ActionKind::UnblockLogin:
            return {"login", true};
        case ActionKind::HoldMail:
            return {"hold", false};
        case ActionKind::ReleaseMail:
            return {"hold", true};
        case ActionKind::DeleteMail:
            return {"hold", true};  // deleted mail is no longer held
        case ActionKind::LockAccount:
            return {"account", false};
        case ActionKind::UnlockAccount:
            return {"account", true};
        case ActionKind::BlockIps:
            return {"ip", false};
        case ActionKind::UnblockIps:
            return {"ip", true};
    }
    return {"", true};
}

bool takes_ips(ActionKind k) {
    return k == ActionKind::BlockIps || k == ActionKind::UnblockIps;
}

std::string clip(std::string_view s, std::size_t n) {
    return std::string(s.substr(0, n));
}

std::string plural(std::size_t n, const char* what) {
    return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

std::unique_ptr<QueueSource> default_queue_source(const MitigationSettings& s,
                                                  CommandRunner& runner) {
    if (!s.showq_path.empty())
        return std::make_unique<ShowqSource>(s.showq_path, s.command_timeout);
    return std::make_unique<PostqueueSource>(runner, s.postfix_command("postqueue"),
                                             s.postfix_config_dir, s.command_timeout);
}

}  // namespace

struct Mitigator::Work {
    explicit Work(const ActionRequest& r) : req(r) {}
    const ActionRequest& req;
    bool dry = false;
    std::int64_t now = 0;
    std::optional<std::int64_t> expires_at;
    std::string username;          // validated ("" allowed only for *_ips)
    std::vector<std::string> ips;  // validated, canonical, unique
    std::vector<std::string> senders;
    store::ActionFinish fin;
    ActionOutcome out;

    void fail(std::string error) {
        out.ok = false;
        out.error = std::move(error);
    }
    void succeed(std::string summary) {
        out.ok = true;
        out.summary = std::move(summary);
    }
    store::BlockRecord block(const char* kind, std::string target) const {
        return store::BlockRecord{kind, std::move(target), fin.action_id, now, expires_at};
    }
};

Result<std::unique_ptr<Mitigator>> Mitigator::create(MitigationSettings settings,
                                                     MitigatorDeps deps) {
    if (!deps.runner || !deps.store) return make_error("mitigation: runner and store are required");
    // The loader applied the same rules; a programmatic caller meets them here.
    if (auto e = validate(settings)) return make_error("mitigation." + e->key + ": " + e->message);
    auto backend = make_sasl_backend(settings, *deps.runner);
    if (!backend) return backend.error();
    return std::unique_ptr<Mitigator>(
        new Mitigator(std::move(settings), std::move(deps), std::move(*backend)));
}

Mitigator::Mitigator(MitigationSettings settings, MitigatorDeps deps,
                     std::unique_ptr<SaslBackend> backend)
    : m_settings(std::move(settings)),
      m_deps(std::move(deps)),
      m_own_queue_source(m_deps.queue_source ? nullptr
                                             : default_queue_source(m_settings, *m_deps.runner)),
      m_backend(std::move(backend)),
      m_sasl_map(m_settings.sasl_access_map, m_settings.map_type, m_settings.postfix_config_dir,
                 m_settings.postfix_command("postmap"), *m_deps.runner, m_settings.command_timeout),
      m_client_map(m_settings.client_access_map, m_settings.map_type, m_settings.postfix_config_dir,
                   m_settings.postfix_command("postmap"), *m_deps.runner,
                   m_settings.command_timeout),
      m_queue(*m_deps.runner, m_deps.queue_source ? *m_deps.queue_source : *m_own_queue_source,
              m_settings.postfix_command("postsuper"), m_settings.postfix_command("postcat"),
              m_settings.postfix_config_dir, m_settings.command_timeout) {
    if (!m_deps.clock) m_deps.clock = wall_clock_ms;
}

ActionOutcome Mitigator::execute(const ActionRequest& request) {
    auto lock = FileLock::acquire(m_mutex, m_settings.effective_lock_file());
    if (!lock) {
        ActionOutcome o;
        o.error = lock.error().message;
        return o;
    }
    auto out = run(request);
    log::write(out.ok ? log::Level::Info : log::Level::Warn, "mitigation action",
               {{"kind", std::string(to_string(request.kind))},
                {"user", request.username},
                {"actor", request.actor},
                {"dry_run", request.dry_run || m_settings.dry_run ? "true" : "false"},
                {"ok", out.ok ? "true" : "false"},
                {"action_id", std::to_string(out.action_id)},
                {"summary", out.summary},
                {"error", out.error}});
    return out;
}

// The request's row of the action log: the planned row it names, or a new one.
Result<std::int64_t> Mitigator::record(const store::ActionRecord& rec) {
    if (rec.id == 0) return m_deps.store->insert_action(rec);
    if (auto r = m_deps.store->update_action(rec); !r) return r.error();
    return rec.id;
}

ActionOutcome Mitigator::run(const ActionRequest& req) {
    Work w(req);
    w.now = m_deps.clock();
    w.dry = req.dry_run || m_settings.dry_run;
    auto* repo = m_deps.store;

    store::ActionRecord rec;
    rec.id = req.action_id;
    rec.incident_id = req.incident_id;
    rec.kind = std::string(to_string(req.kind));
    rec.actor = clip(req.actor.empty() ? "unknown" : req.actor, 200);
    rec.reason = clip(req.reason, kMaxReason);
    rec.dry_run = w.dry;
    rec.created_at = w.now;
    rec.started_at = w.now;

    // --- validation: nothing below sees a value that failed here -------------
    std::string invalid;
    bool user_optional = takes_ips(req.kind) && req.username.empty();
    if (!user_optional && !validate::sasl_username(req.username))
        invalid = "invalid SASL username";
    else
        w.username = req.username;
    if (invalid.empty() && takes_ips(req.kind)) {
        if (req.ips.empty())
            invalid = "no IP addresses given";
        else if (req.ips.size() > m_settings.max_block_ips)
            invalid = "too many IP addresses: " + std::to_string(req.ips.size()) +
                      " > max_block_ips " + std::to_string(m_settings.max_block_ips);
        for (const auto& ip : req.ips) {
            if (!invalid.empty()) break;
            auto c = validate::canonical_ip(ip);
            if (!c)
                invalid = "invalid IP address";
            else if (std::find(w.ips.begin(), w.ips.end(), *c) == w.ips.end())
                w.ips.push_back(*c);
        }
    } else if (invalid.empty() && !req.ips.empty()) {
        invalid = "IP addresses given to an action that takes none";
    }
    for (const auto& s : req.senders) {
        if (!invalid.empty()) break;
        // The null sender "" is a valid address but would match every bounce: refuse it.
        if (s.empty() || !validate::email_address(s))
            invalid = "invalid envelope sender";
        else
            w.senders.push_back(s);
    }
    if (invalid.empty() && req.expires_after) {
        auto k = block_kind(req.kind);
        if (k.lifts || req.kind == ActionKind::DeleteMail)
            invalid = "an expiry only applies to block/hold/lock actions";
        else if (req.expires_after->count() <= 0)
            invalid = "expiry must be positive";
        else
            w.expires_at = w.now + req.expires_after->count() * 1000;
    }
    if (invalid.empty() && req.kind == ActionKind::DeleteMail && req.actor == "auto" &&
        !m_deps.allow_auto_delete)
        invalid = "delete_mail is never automatic unless policy.allow_auto_delete is true";

    rec.target = w.username.empty() && !req.username.empty()
                     ? clip(log::quote(req.username), kMaxTargetEcho)
                     : w.username;
    nlohmann::json params = nlohmann::json::object();
    if (!w.ips.empty()) params["ips"] = w.ips;
    if (!w.senders.empty()) params["senders"] = w.senders;
    if (req.expires_after) params["expires_after_s"] = req.expires_after->count();
    rec.params_json = params.dump();
    rec.expires_at = w.expires_at;
    if (!invalid.empty()) {
        rec.state = "failed";
        rec.error = invalid;
        rec.finished_at = w.now;
        auto id = record(rec);
        w.out.action_id = id ? *id : 0;
        w.fail(invalid);
        return w.out;
    }

    // --- audit first, then act ----------------------------------------------
    rec.state = "running";
    auto id = record(rec);
    if (!id) {
        w.fail("not acting: cannot write the audit record: " + id.error().message);
        return w.out;
    }
    w.fin.action_id = *id;
    w.out.action_id = *id;

    switch (req.kind) {
        case ActionKind::BlockLogin:
        case ActionKind::UnblockLogin:
            do_login(w);
            break;
        case ActionKind::BlockIps:
        case ActionKind::UnblockIps:
            do_ips(w);
            break;
        case ActionKind::HoldMail:
        case ActionKind::ReleaseMail:
        case ActionKind::DeleteMail:
            do_mail(w);
            break;
        case ActionKind::LockAccount:
        case ActionKind::UnlockAccount:
            do_account(w);
            break;
    }
    if (w.dry) {
        w.out.summary += " (dry run)";
        w.fin.put_blocks.clear();  // a dry run puts nothing in force
        w.fin.remove_blocks.clear();
        w.fin.reverted_actions.clear();
    }

    if (!w.out.affected.empty()) params[w.dry ? "would_affect" : "affected"] = w.out.affected;
    w.fin.params_json = params.dump();
    w.fin.state = w.out.ok ? "applied" : "failed";
    w.fin.result = w.out.summary;
    w.fin.error = w.out.error;
    w.fin.finished_at = m_deps.clock();
    if (!w.out.ok) {
        w.fin.put_blocks.clear();
        w.fin.remove_blocks.clear();
        w.fin.reverted_actions.clear();
    }
    if (auto f = repo->finish_action(w.fin); !f) {
        w.out.error = (w.out.ok ? "the change was made but recording it failed: "
                                : w.out.error + "; recording failed: ") +
                      f.error().message;
        w.out.ok = false;
    }
    return w.out;
}

std::string Mitigator::unused_map_warning(const AccessMap& map, bool& known_used) {
    if (known_used) return "";
    const std::string postconf = m_settings.postfix_command("postconf");
    const std::string& dir = m_settings.postfix_config_dir;
    ProcessOptions opt;
    opt.timeout = m_settings.command_timeout;
    std::string seen;
    for (const auto& argv :
         {std::vector<std::string>{postconf, "-c", dir, "-x", "-h", "smtpd_client_restrictions",
                                   "smtpd_helo_restrictions", "smtpd_sender_restrictions",
                                   "smtpd_relay_restrictions", "smtpd_recipient_restrictions",
                                   "smtpd_data_restrictions", "smtpd_end_of_data_restrictions"},
          std::vector<std::string>{postconf, "-c", dir, "-P", "-x"}}) {
        auto r = m_deps.runner->run(argv, opt);
        if (!r.success()) return "";  // cannot tell: do not cry wolf
        seen += r.out;
        seen += '\n';
    }
    // A table name is followed by a separator (space, comma, newline) in postconf's output.
    const std::string name = map.table_name();
    for (std::size_t at = seen.find(name); at != std::string::npos; at = seen.find(name, at + 1)) {
        char next = at + name.size() < seen.size() ? seen[at + name.size()] : '\n';
        if (next == ' ' || next == ',' || next == '\n' || next == '\t') {
            known_used = true;
            return "";
        }
    }
    return " (WARNING: " + name +
           " is not used in main.cf or master.cf: this has no effect until it is, "
           "see docs/mitigation.md)";
}

void Mitigator::do_login(Work& w) {
    const bool block = w.req.kind == ActionKind::BlockLogin;
    const std::string& user = w.username;
    MapEntries put;
    std::vector<std::string> erase;
    if (block)
        put[user] = m_settings.reject_text;
    else
        erase.push_back(user);
    auto u = w.dry ? m_sasl_map.preview(put, erase) : m_sasl_map.update(put, erase);
    if (!u) return w.fail(u.error().message);
    if (u->changed()) w.out.affected = {user};
    auto existing = m_deps.store->find_block("login", user);
    if (block) {
        w.fin.put_blocks.push_back(w.block("login", user));
        if (w.dry)
            return w.succeed(u->changed() ? "would block login " + user
                                          : "login " + user + " is already blocked");
        return w.succeed(
            (u->changed() ? "blocked login " + user : "login " + user + " was already blocked") +
            unused_map_warning(m_sasl_map, m_sasl_map_used));
    }
    w.fin.remove_blocks.push_back(w.block("login", user));
    if (existing && *existing) w.fin.reverted_actions.push_back((*existing)->action_id);
    if (w.dry)
        return w.succeed(u->changed() ? "would unblock login " + user
                                      : "login " + user + " is not blocked");
    w.succeed(u->changed() ? "unblocked login " + user : "login " + user + " was not blocked");
}

void Mitigator::do_ips(Work& w) {
    const bool block = w.req.kind == ActionKind::BlockIps;
    MapEntries put;
    std::vector<std::string> erase;
    for (const auto& ip : w.ips) {
        if (block)
            put[ip] = m_settings.ip_reject_text;
        else
            erase.push_back(ip);
    }
    auto u = w.dry ? m_client_map.preview(put, erase) : m_client_map.update(put, erase);
    if (!u) return w.fail(u.error().message);
    w.out.affected = block ? u->added : u->removed;
    for (const auto& ip : w.ips) {
        if (block) {
            w.fin.put_blocks.push_back(w.block("ip", ip));
        } else {
            w.fin.remove_blocks.push_back(w.block("ip", ip));
            auto existing = m_deps.store->find_block("ip", ip);
            if (existing && *existing) w.fin.reverted_actions.push_back((*existing)->action_id);
        }
    }
    std::string verb =
        block ? (w.dry ? "would block " : "blocked ") : (w.dry ? "would unblock " : "unblocked ");
    std::string text = verb + plural(w.out.affected.size(), "client IP");
    if (w.out.affected.size() < w.ips.size())
        text += " (" + std::to_string(w.ips.size() - w.out.affected.size()) +
                (block ? " already blocked)" : " not blocked)");
    if (block && !w.dry) text += unused_map_warning(m_client_map, m_client_map_used);
    w.succeed(text);
}

void Mitigator::do_mail(Work& w) {
    PostfixQueue::Match match;
    match.senders = w.senders;
    if (match.senders.empty() && w.username.find('@') != std::string::npos &&
        validate::email_address(w.username))
        match.senders.push_back(w.username);
    if (m_settings.match_sasl_login) match.sasl_login = w.username;
    if (match.senders.empty() && match.sasl_login.empty())
        return w.fail("no way to find " + w.username +
                      "'s mail: give --sender or enable match_sasl_login");

    PostfixQueue::Scope scope = PostfixQueue::Scope::Any;
    PostfixQueue::Op op = PostfixQueue::Op::Delete;
    const char* verb = "deleted";
    const char* would = "would delete";
    if (w.req.kind == ActionKind::HoldMail) {
        scope = PostfixQueue::Scope::NotHeld, op = PostfixQueue::Op::Hold, verb = "held",
        would = "would hold";
    } else if (w.req.kind == ActionKind::ReleaseMail) {
        scope = PostfixQueue::Scope::Held, op = PostfixQueue::Op::Release, verb = "released",
        would = "would release";
    }
    auto ids = m_queue.find(match, scope);
    if (!ids) return w.fail("reading the queue: " + ids.error().message);
    if (ids->size() > m_settings.max_queue_ids)
        return w.fail("refusing: " + plural(ids->size(), "message") +
                      " matched, more than max_queue_ids " +
                      std::to_string(m_settings.max_queue_ids));
    w.out.affected = *ids;
    std::string what = plural(ids->size(), "queued message") + " of " + w.username;
    if (w.req.kind == ActionKind::HoldMail) {
        if (!ids->empty()) w.fin.put_blocks.push_back(w.block("hold", w.username));
    } else {
        w.fin.remove_blocks.push_back(w.block("hold", w.username));
        auto existing = m_deps.store->find_block("hold", w.username);
        if (existing && *existing) w.fin.reverted_actions.push_back((*existing)->action_id);
    }
    if (w.dry) return w.succeed(std::string(would) + " " + what);
    if (auto r = m_queue.apply(op, *ids); !r) return w.fail(r.error().message);
    w.succeed(std::string(verb) + " " + what);
}

void Mitigator::do_account(Work& w) {
    const bool lock = w.req.kind == ActionKind::LockAccount;
    if (!m_backend)
        return w.fail("mitigation.sasl_backend is none: cannot lock or unlock accounts");
    if (w.dry) {
        auto d = m_backend->describe(w.username, lock);
        if (!d) return w.fail(d.error().message);
        return w.succeed(*d);
    }
    auto existing = m_deps.store->find_block("account", w.username);
    bool ours = existing && *existing;
    auto r = lock ? m_backend->lock(w.username) : m_backend->unlock(w.username);
    if (!r) return w.fail(r.error().message);
    if (r->changed) w.out.affected = {w.username};
    if (lock) {
        // An account someone else had locked is not ours to unlock on expiry.
        if (r->changed || ours) w.fin.put_blocks.push_back(w.block("account", w.username));
    } else {
        w.fin.remove_blocks.push_back(w.block("account", w.username));
        if (ours) w.fin.reverted_actions.push_back((*existing)->action_id);
    }
    w.succeed(r->summary);
}

std::vector<ActionOutcome> Mitigator::run_expiries() {
    std::vector<ActionOutcome> outcomes;
    // Read under the same lock as execute(): the daemon runs expiries on its own
    // thread while the worker and the Telegram bot execute actions.
    auto blocks = [&]() -> Result<std::vector<store::BlockRecord>> {
        auto lock = FileLock::acquire(m_mutex, m_settings.effective_lock_file());
        if (!lock) return lock.error();
        return m_deps.store->blocks();
    }();
    if (!blocks) {
        ActionOutcome o;
        o.error = "reading blocks: " + blocks.error().message;
        outcomes.push_back(o);
        return outcomes;
    }
    std::int64_t now = m_deps.clock();
    // IP blocks of one action are lifted together.
    std::map<std::int64_t, std::vector<std::string>> due_ips;
    for (const auto& b : *blocks) {
        if (!b.expires_at || *b.expires_at > now) continue;
        ActionRequest r;
        r.actor = "expiry";
        r.reason = "expiry of action #" + std::to_string(b.action_id);
        if (b.kind == "ip") {
            due_ips[b.action_id].push_back(b.target);
            continue;
        }
        if (b.kind == "login")
            r.kind = ActionKind::UnblockLogin;
        else if (b.kind == "account")
            r.kind = ActionKind::UnlockAccount;
        else if (b.kind == "hold")
            r.kind = ActionKind::ReleaseMail;
        else
            continue;
        r.username = b.target;
        outcomes.push_back(execute(r));
    }
    for (auto& [action_id, ips] : due_ips) {
        for (std::size_t i = 0; i < ips.size(); i += m_settings.max_block_ips) {
            ActionRequest r;
            r.kind = ActionKind::UnblockIps;
            r.actor = "expiry";
            r.reason = "expiry of action #" + std::to_string(action_id);
            r.ips.assign(ips.begin() + static_cast<std::ptrdiff_t>(i),
                         ips.begin() + static_cast<std::ptrdiff_t>(
                                           std::min(ips.size(), i + m_settings.max_block_ips)));
            outcomes.push_back(execute(r));
        }
    }
    return outcomes;
}

}  // namespace saslguard::receiver::mitigation
