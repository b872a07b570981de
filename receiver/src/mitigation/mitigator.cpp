#include "saslguard/receiver/mitigation/mitigator.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "saslguard/common/log.hpp"
#include "saslguard/common/validate.hpp"
#include "saslguard/receiver/mitigation/file_lock.hpp"

namespace saslguard::receiver::mitigation {
namespace {

constexpr std::size_t kMaxReason = 500;
constexpr std::size_t kMaxTargetEcho = 300;  // how much of a rejected name the log row keeps

std::string clip(std::string_view s, std::size_t n) {
    return std::string(s.substr(0, n));
}

std::unique_ptr<QueueSource> default_queue_source(const MitigationSettings& s,
                                                  CommandRunner& runner) {
    if (!s.showq_path.empty())
        return std::make_unique<ShowqSource>(s.showq_path, s.command_timeout);
    return std::make_unique<PostqueueSource>(runner, s.program("postqueue"), s.postfix_config_dir,
                                             s.command_timeout);
}

}  // namespace

// One request in flight.
struct Mitigator::Work {
    explicit Work(const ActionRequest& r) : req(r) {}
    const ActionRequest& req;
    bool dry = false;
    std::int64_t now = 0;
    std::optional<std::int64_t> expires_at;
    ActionTarget target;  // validated
    store::ActionFinish fin;
    ActionOutcome out;

    void fail(std::string error) {
        out.ok = false;
        out.error = std::move(error);
    }
};

Result<std::unique_ptr<Mitigator>> Mitigator::create(MitigationSettings settings,
                                                     MitigatorDeps deps) {
    if (!deps.runner || !deps.store) return make_error("mitigation: runner and store are required");
    // The loader applied the same rules; a programmatic caller meets them here.
    if (auto e = validate(settings)) return make_error("mitigation." + e->key + ": " + e->message);
    return std::unique_ptr<Mitigator>(new Mitigator(std::move(settings), std::move(deps)));
}

Mitigator::Mitigator(MitigationSettings settings, MitigatorDeps deps)
    : m_settings(std::move(settings)), m_deps(std::move(deps)) {
    if (!m_deps.clock) m_deps.clock = wall_clock_ms;
    if (!m_deps.queue_source) {
        m_own_queue_source = default_queue_source(m_settings, *m_deps.runner);
        m_deps.queue_source = m_own_queue_source.get();
    }
    MechanismDeps md{m_settings, *m_deps.runner, *m_deps.queue_source,
                     [this](std::string_view kind, const std::string& target) {
                         auto b = m_deps.store->find_block(std::string(kind), target);
                         return b && *b;
                     }};
    for (const auto& spec : catalog().mechanisms())
        m_mechanisms.emplace(std::string(spec.name), spec.make(md));
    if (auto b = make_sasl_backend(m_settings, *m_deps.runner)) m_identity = std::move(*b);
    m_never_block = std::make_unique<NeverBlock>(m_settings, *m_deps.runner);
}

std::vector<std::string> Mitigator::accounts(const std::vector<std::string>& logins) {
    if (m_identity) return m_identity->accounts(logins);
    std::vector<std::string> out;
    for (const auto& l : logins) out.push_back(validate::canonical_login(l).value_or(l));
    return out;
}

Result<std::vector<std::pair<std::string, std::string>>> Mitigator::protected_ips(
    const std::vector<std::string>& ips) {
    return m_never_block->reasons(ips);
}

Result<std::size_t> Mitigator::queued_messages(const std::string& login, std::size_t enough) {
    auto canonical = validate::canonical_login(login);
    if (!canonical) return make_error("invalid SASL username");
    PostfixQueue queue(*m_deps.runner, *m_deps.queue_source, m_settings.program("postsuper"),
                       m_settings.program("postcat"), m_settings.postfix_config_dir,
                       m_settings.command_timeout);
    return queue.count_by_login(*canonical, enough);
}

Result<QueueSample> Mitigator::queue_sample(const std::string& login, std::size_t max_messages,
                                            bool subjects) {
    auto canonical = validate::canonical_login(login);
    if (!canonical) return make_error("invalid SASL username");
    PostfixQueue queue(*m_deps.runner, *m_deps.queue_source, m_settings.program("postsuper"),
                       m_settings.program("postcat"), m_settings.postfix_config_dir,
                       m_settings.command_timeout);
    auto messages = queue.messages_of_login(*canonical, max_messages, subjects);
    if (!messages) return messages.error();
    return summarize_queue_sample(*messages);
}

std::vector<std::pair<std::string, std::string>> Mitigator::describe() const {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& spec : catalog().mechanisms())
        if (auto it = m_mechanisms.find(spec.name); it != m_mechanisms.end())
            out.emplace_back(std::string(spec.name), it->second->describe());
    return out;
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

// Checks every value of the request against `action` (null: the kind is not in
// the catalog); fills w.target and w.expires_at. Returns why it is refused, or "".
std::string Mitigator::validate_request(const ActionDescriptor* action, Work& w) {
    const ActionRequest& req = w.req;
    if (!action) return "unknown action kind";
    const bool takes_ips = action->target == TargetKind::Ips;
    const bool user_optional = takes_ips && req.username.empty();
    if (!user_optional && !validate::sasl_username(req.username)) return "invalid SASL username";
    w.target.username = validate::canonical_login(req.username).value_or("");
    if (takes_ips) {
        if (req.ips.empty()) return "no IP addresses given";
        if (req.ips.size() > m_settings.max_block_ips)
            return "too many IP addresses: " + std::to_string(req.ips.size()) +
                   " > max_block_ips " + std::to_string(m_settings.max_block_ips);
        for (const auto& ip : req.ips) {
            auto c = validate::canonical_ip(ip);
            if (!c) return "invalid IP address";
            if (std::find(w.target.ips.begin(), w.target.ips.end(), *c) == w.target.ips.end())
                w.target.ips.push_back(*c);
        }
    } else if (!req.ips.empty()) {
        return "IP addresses given to an action that takes none";
    }
    for (const auto& s : req.senders) {
        // The null sender "" is a valid address but would match every bounce: refuse it.
        if (s.empty() || !validate::email_address(s)) return "invalid envelope sender";
        w.target.senders.push_back(s);
    }
    if (req.expires_after) {
        if (!action->forward || action->destructive())
            return "an expiry only applies to block/hold/lock actions";
        if (req.expires_after->count() <= 0) return "expiry must be positive";
        w.expires_at = w.now + req.expires_after->count() * 1000;
    }
    if (action->automatic == Automatic::OptIn && req.actor == "auto" && !m_deps.allow_auto_delete)
        return std::string(to_string(req.kind)) +
               " is never automatic unless policy.allow_auto_delete is true";
    // Last, once every value is known good: addresses that are never blocked
    // (reading Postfix's mynetworks runs postconf). Lifting a block is always allowed.
    if (takes_ips && action->forward) {
        auto protected_ips = m_never_block->reasons(w.target.ips);
        if (!protected_ips) return "not blocking anything: " + protected_ips.error().message;
        if (!protected_ips->empty()) {
            std::string why = "refusing to block: ";
            for (std::size_t i = 0; i < protected_ips->size(); ++i)
                why += (i ? "; " : "") + (*protected_ips)[i].first + " is never blocked (" +
                       (*protected_ips)[i].second + ")";
            return why;
        }
    }
    return "";
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
    const ActionDescriptor* action = catalog().find(req.kind);
    // Validation: nothing below sees a value that failed here.
    const std::string invalid = validate_request(action, w);
    store::ActionRecord rec = row_of(w, invalid);
    if (!invalid.empty()) {
        rec.state = "failed";
        rec.error = invalid;
        rec.finished_at = w.now;
        auto id = record(rec);
        w.out.action_id = id ? *id : 0;
        w.fail(invalid);
        return w.out;
    }
    // In the log first, then act.
    auto id = record(rec);
    if (!id) {
        w.fail("not acting: cannot write the audit record: " + id.error().message);
        return w.out;
    }
    w.fin.action_id = *id;
    w.out.action_id = *id;
    carry_out(*action, w);
    finish(w, rec.actor);
    return w.out;
}

// The request's row of the action log (state running), as validated: a name
// that failed validation is kept log-quoted and cut.
store::ActionRecord Mitigator::row_of(const Work& w, const std::string& invalid) const {
    const ActionRequest& req = w.req;
    store::ActionRecord rec;
    rec.id = req.action_id;
    rec.incident_id = req.incident_id;
    rec.kind = std::string(to_string(req.kind));
    // A valid login in its one form (lowercase), as the maps and ActiveBlocks key it.
    rec.target = validate::sasl_username(req.username) ? *validate::canonical_login(req.username)
                 : invalid.empty() || req.username.empty()
                     ? req.username
                     : clip(log::quote(req.username), kMaxTargetEcho);
    rec.params_json = params_json(w, false);
    rec.actor = clip(req.actor.empty() ? "unknown" : req.actor, 200);
    rec.reason = clip(req.reason, kMaxReason);
    rec.dry_run = w.dry;
    rec.state = "running";
    rec.created_at = w.now;
    rec.started_at = w.now;
    rec.expires_at = w.expires_at;
    return rec;
}

// What the row keeps of the request (the validated IPs and senders, the
// expiry) and, with the outcome, what it affected or would affect.
std::string Mitigator::params_json(const Work& w, bool with_outcome) {
    nlohmann::json p = nlohmann::json::object();
    if (!w.target.ips.empty()) p["ips"] = w.target.ips;
    if (!w.target.senders.empty()) p["senders"] = w.target.senders;
    if (w.req.expires_after) p["expires_after_s"] = w.req.expires_after->count();
    if (with_outcome && !w.out.affected.empty())
        p[w.dry ? "would_affect" : "affected"] = w.out.affected;
    return p.dump();
}

// Records the outcome and the blocks with it (one transaction), then tells
// ActiveBlocks. A failure or a dry run puts nothing in force.
void Mitigator::finish(Work& w, const std::string& actor) {
    w.fin.params_json = params_json(w, true);
    w.fin.state = w.out.ok ? "applied" : "failed";
    w.fin.result = w.out.summary;
    w.fin.error = w.out.error;
    w.fin.finished_at = m_deps.clock();
    if (!w.out.ok || w.dry) {
        w.fin.put_blocks.clear();
        w.fin.remove_blocks.clear();
        w.fin.reverted_actions.clear();
    }
    if (auto f = m_deps.store->finish_action(w.fin); !f) {
        w.out.error = (w.out.ok ? "the change was made but recording it failed: "
                                : w.out.error + "; recording failed: ") +
                      f.error().message;
        w.out.ok = false;
        return;
    }
    if (!m_deps.blocks) return;
    BlockChange change;
    change.added = w.fin.put_blocks;
    change.removed = w.fin.remove_blocks;
    change.action_id = w.fin.action_id;
    change.actor = actor;
    change.incident_id = w.req.incident_id;
    for (auto& b : change.added) {
        b.actor = actor;
        b.incident_id = w.req.incident_id;
    }
    m_deps.blocks->apply(change);
}

// Runs the action's mechanism and turns its effect into the outcome and the
// block changes (put in force / lifted, with the actions they revert).
void Mitigator::carry_out(const ActionDescriptor& action, Work& w) {
    auto it = m_mechanisms.find(action.mechanism);
    if (it == m_mechanisms.end())
        return w.fail("no mechanism for " + std::string(action.mechanism));
    Mechanism& m = *it->second;
    auto effect = w.dry            ? m.dry_run(action, w.target)
                  : action.forward ? m.apply(action, w.target)
                                   : m.revert(action, w.target);
    if (!effect) return w.fail(effect.error().message);
    w.out.ok = true;
    w.out.summary = effect->summary + (w.dry ? " (dry run)" : "");
    w.out.affected = effect->affected;
    const std::string kind(action.block_kind);
    for (const auto& t : effect->in_force)
        w.fin.put_blocks.push_back({kind, t, w.fin.action_id, w.now, w.expires_at});
    for (const auto& t : effect->lifted) {
        auto existing = m_deps.store->find_block(kind, t);
        if (existing && *existing) {
            w.fin.reverted_actions.push_back((*existing)->action_id);
            w.fin.remove_blocks.push_back(**existing);  // with the action and incident it came from
        } else {
            w.fin.remove_blocks.push_back({kind, t, w.fin.action_id, w.now, std::nullopt});
        }
    }
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
    const std::int64_t now = m_deps.clock();
    // The targets of a by-IP kind are lifted together per action (in requests of
    // at most max_block_ips), the others one by one.
    std::map<std::pair<const ActionDescriptor*, std::int64_t>, std::vector<std::string>> grouped;
    for (const auto& b : *blocks) {
        if (!b.expires_at || *b.expires_at > now) continue;
        const ActionDescriptor* applier = catalog().applier_of_block(b.kind);
        if (!applier) continue;
        if (applier->target == TargetKind::Ips) {
            grouped[{applier, b.action_id}].push_back(b.target);
            continue;
        }
        ActionRequest r;
        r.kind = *applier->undo;
        r.username = b.target;
        r.actor = "expiry";
        r.reason = "expiry of action #" + std::to_string(b.action_id);
        outcomes.push_back(execute(r));
    }
    for (auto& [key, targets] : grouped) {
        const auto& [applier, action_id] = key;
        for (std::size_t i = 0; i < targets.size(); i += m_settings.max_block_ips) {
            ActionRequest r;
            r.kind = *applier->undo;
            r.actor = "expiry";
            r.reason = "expiry of action #" + std::to_string(action_id);
            r.ips.assign(targets.begin() + static_cast<std::ptrdiff_t>(i),
                         targets.begin() + static_cast<std::ptrdiff_t>(std::min(
                                               targets.size(), i + m_settings.max_block_ips)));
            outcomes.push_back(execute(r));
        }
    }
    return outcomes;
}

}  // namespace saslguard::receiver::mitigation
