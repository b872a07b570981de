#include "saslguard/receiver/config.hpp"

#include <unistd.h>

#include <yaml-cpp/yaml.h>

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "saslguard/common/duration.hpp"
#include "saslguard/common/files.hpp"
#include "saslguard/common/format.hpp"
#include "saslguard/common/log.hpp"
#include "saslguard/common/validate.hpp"
#include "saslguard/receiver/mitigation/catalog.hpp"

namespace saslguard::receiver {

std::string Config::listen_host() const {
    auto colon = listen_address.rfind(':');
    std::string host = listen_address.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    return host;
}

store::StoreSettings Config::store_settings() const {
    return {store.engine, state_path, store.conninfo, store.schema};
}

int Config::listen_port() const {
    auto colon = listen_address.rfind(':');
    return std::atoi(listen_address.c_str() + colon + 1);
}

namespace {

// The webhook token guards every mitigation: 16 characters at least (the
// documented way makes ~43 from 32 random bytes).
constexpr std::size_t kMinWebhookTokenLength = 16;

// Reads one YAML document into Config, remembering the first error with its line.
class Loader {
public:
    explicit Loader(std::string name) : m_name(std::move(name)) {}

    bool failed() const { return m_error.has_value(); }
    Error error() const { return *m_error; }

    void fail(const YAML::Node& at, const std::string& what) {
        if (m_error) return;
        int line = at.IsDefined() ? at.Mark().line + 1 : 0;
        if (line <= 0) line = m_section_line;
        m_error = make_error(m_name + ":" + std::to_string(line) + ": " + what);
    }

    // Checks that `node` is a mapping whose keys are all in `keys`; returns false otherwise.
    bool mapping(const YAML::Node& node, const std::string& ctx,
                 std::initializer_list<std::string_view> keys) {
        if (!node.IsDefined() || node.IsNull()) return false;
        if (!node.IsMap()) {
            fail(node, ctx + ": expected a mapping");
            return false;
        }
        m_section_line = node.Mark().line + 1;
        for (auto it = node.begin(); it != node.end(); ++it) {
            auto key = it->first.as<std::string>();
            bool known = false;
            for (auto k : keys) known = known || key == k;
            if (!known) fail(it->first, "unknown key " + qualify(ctx, key));
        }
        return true;
    }

    void str(const YAML::Node& parent, const std::string& ctx, const char* key, std::string& out) {
        YAML::Node n = parent[key];
        if (!n.IsDefined() || n.IsNull()) return;
        if (!n.IsScalar()) return fail(n, qualify(ctx, key) + ": expected a string");
        out = n.Scalar();
    }

    void boolean(const YAML::Node& parent, const std::string& ctx, const char* key, bool& out) {
        YAML::Node n = parent[key];
        if (!n.IsDefined() || n.IsNull()) return;
        const std::string v = n.IsScalar() ? n.Scalar() : "";
        if (v == "true")
            out = true;
        else if (v == "false")
            out = false;
        else
            fail(n, qualify(ctx, key) + ": expected true or false, got '" + v + "'");
    }

    template <class Int>
    void integer(const YAML::Node& parent, const std::string& ctx, const char* key, Int& out,
                 long long min, long long max) {
        YAML::Node n = parent[key];
        if (!n.IsDefined() || n.IsNull()) return;
        auto v = parse_int(n);
        if (!v || *v < min || *v > max)
            return fail(n, qualify(ctx, key) + ": expected an integer in [" + std::to_string(min) +
                               ", " + std::to_string(max) + "], got '" +
                               (n.IsScalar() ? n.Scalar() : "?") + "'");
        out = static_cast<Int>(*v);
    }

    void number(const YAML::Node& parent, const std::string& ctx, const char* key, double& out,
                double min, double max) {
        YAML::Node n = parent[key];
        if (!n.IsDefined() || n.IsNull()) return;
        double v = 0;
        bool ok = n.IsScalar();
        if (ok) {
            const std::string& s = n.Scalar();
            auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
            ok = ec == std::errc() && p == s.data() + s.size();
        }
        if (!ok || v < min || v > max)
            return fail(n, qualify(ctx, key) + ": expected a number in [" + format::shortest(min) +
                               ", " + format::shortest(max) + "], got '" +
                               (n.IsScalar() ? n.Scalar() : "?") + "'");
        out = v;
    }

    template <class Dur>
    void duration(const YAML::Node& parent, const std::string& ctx, const char* key, Dur& out,
                  bool allow_zero = false) {
        YAML::Node n = parent[key];
        if (!n.IsDefined() || n.IsNull()) return;
        auto d = n.IsScalar() ? parse_duration(n.Scalar())
                              : Result<std::chrono::milliseconds>(make_error("not a scalar"));
        if (!d)
            return fail(n, qualify(ctx, key) + ": expected a duration like 30s, 5m, 1h, got '" +
                               (n.IsScalar() ? n.Scalar() : "?") + "'");
        if (d->count() == 0 && !allow_zero)
            return fail(n, qualify(ctx, key) + ": must be above zero");
        auto converted = std::chrono::duration_cast<Dur>(*d);
        if (std::chrono::duration_cast<std::chrono::milliseconds>(converted) != *d)
            return fail(n, qualify(ctx, key) + ": too fine-grained for this key");
        out = converted;
    }

    void strings(const YAML::Node& parent, const std::string& ctx, const char* key,
                 std::vector<std::string>& out) {
        YAML::Node n = parent[key];
        if (!n.IsDefined() || n.IsNull()) return;
        if (!n.IsSequence()) return fail(n, qualify(ctx, key) + ": expected a list");
        out.clear();
        for (const auto& item : n) {
            if (!item.IsScalar())
                return fail(item, qualify(ctx, key) + ": expected a list of strings");
            out.push_back(item.Scalar());
        }
    }

    void ids(const YAML::Node& parent, const std::string& ctx, const char* key,
             std::vector<std::int64_t>& out) {
        YAML::Node n = parent[key];
        if (!n.IsDefined() || n.IsNull()) return;
        if (!n.IsSequence()) return fail(n, qualify(ctx, key) + ": expected a list");
        out.clear();
        for (const auto& item : n) {
            auto v = parse_int(item);
            if (!v) return fail(item, qualify(ctx, key) + ": expected a list of integer ids");
            out.push_back(*v);
        }
    }

    // Reads the secret named by a *_file key; `required` makes a missing key an error.
    // A file other users may read or write is refused (docs/SECURITY.md): the
    // owner's group may read it (Alertmanager's, for the webhook token).
    // `min_length` > 0 also refuses short secrets and the shipped examples.
    void secret(const YAML::Node& parent, const std::string& ctx, const char* key,
                std::string& file, std::string& out, bool required, std::size_t min_length = 0) {
        YAML::Node n = parent[key];
        const YAML::Node& at = n.IsDefined() ? n : parent;
        if (file.empty()) {
            if (required) fail(at, qualify(ctx, key) + ": required");
            return;
        }
        auto s = files::read_secret(file);
        if (!s) return fail(at, qualify(ctx, key) + ": " + s.error().message);
        struct stat st {};
        if (::stat(file.c_str(), &st) == 0 && (st.st_mode & (S_IROTH | S_IWOTH)) != 0)
            return fail(at, qualify(ctx, key) + ": " + file + " is readable or writable by " +
                                "every user (mode " + octal_mode(st.st_mode) +
                                "); chmod o-rwx it and use a new secret");
        if (auto weak = weak_secret(*s, min_length))
            return fail(at, qualify(ctx, key) + ": the secret in " + file + " " + *weak);
        out = *s;
    }

    static std::string octal_mode(mode_t mode) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
        return buf;
    }

    // Why `secret` must not be used, if it must not: the placeholders of
    // deploy/secrets/*.example, or fewer than `min_length` characters.
    static std::optional<std::string> weak_secret(const std::string& secret,
                                                  std::size_t min_length) {
        if (secret.find("replace-with-") != std::string::npos)
            return "is the shipped example; generate one (deploy/secrets/README.md)";
        if (secret.size() < min_length)
            return "has " + std::to_string(secret.size()) + " characters, fewer than " +
                   std::to_string(min_length) + "; generate one (deploy/secrets/README.md)";
        return std::nullopt;
    }

    void url(const YAML::Node& parent, const std::string& ctx, const char* key,
             const std::string& value, bool allow_empty = false) {
        if (value.empty() && allow_empty) return;
        if (value.rfind("http://", 0) != 0 && value.rfind("https://", 0) != 0)
            fail(parent[key],
                 qualify(ctx, key) + ": expected an http:// or https:// URL, got '" + value + "'");
    }

    void load(const YAML::Node& root, Config& c) {
        if (!root.IsDefined() || root.IsNull())
            return;  // empty file: defaults (then required keys fail)
        if (!mapping(
                root, "",
                {"listen_address", "state_path", "log_level", "webhook", "prometheus", "policy",
                 "mitigation", "telegram", "smtp_policy", "fleet", "owner_notice", "store"}))
            return;
        str(root, "", "listen_address", c.listen_address);
        str(root, "", "state_path", c.state_path);
        str(root, "", "log_level", c.log_level);
        check_top(root, c);
        // The mitigation lock and the sasldb quarantine live beside the state.
        if (!c.state_path.empty())
            c.mitigation.state_dir =
                std::filesystem::absolute(c.state_path).lexically_normal().parent_path().string();
        load_webhook(root["webhook"], c.webhook, root);
        load_prometheus(root["prometheus"], c.prometheus);
        load_policy(root["policy"], c.policy);
        load_mitigation(root["mitigation"], c.mitigation);
        load_telegram(root["telegram"], c.telegram);
        load_smtp_policy(root["smtp_policy"], c.smtp_policy);
        load_fleet(root["fleet"], c.fleet);
        load_owner_notice(root["owner_notice"], c.owner_notice, c.mitigation);
        load_store(root["store"], c);
        // The host messages name: the configured one, the fleet's, else this machine's.
        if (c.telegram.host_name.empty()) c.telegram.host_name = c.fleet.host_name;
        if (c.telegram.host_name.empty()) {
            char buf[256] = {};
            if (::gethostname(buf, sizeof buf - 1) == 0) c.telegram.host_name = buf;
        }
    }

private:
    static bool valid_host_name(const std::string& name) {
        auto host_char = [](char ch) {
            return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.';
        };
        return name.size() <= 253 && std::all_of(name.begin(), name.end(), host_char);
    }

    static std::string qualify(const std::string& ctx, std::string_view key) {
        return ctx.empty() ? std::string(key) : ctx + "." + std::string(key);
    }
    static std::optional<long long> parse_int(const YAML::Node& n) {
        if (!n.IsScalar()) return std::nullopt;
        const std::string& s = n.Scalar();
        long long v = 0;
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
        return v;
    }

    void check_top(const YAML::Node& root, Config& c) {
        auto colon = c.listen_address.rfind(':');
        int port = colon == std::string::npos ? 0 : std::atoi(c.listen_address.c_str() + colon + 1);
        if (colon == std::string::npos || colon == 0 || port <= 0 || port > 65535 ||
            c.listen_address.substr(colon + 1) != std::to_string(port))
            fail(root["listen_address"],
                 "listen_address: expected host:port, got '" + c.listen_address + "'");
        if (c.state_path.empty()) fail(root["state_path"], "state_path: must not be empty");
        if (c.log_level != "debug" && c.log_level != "info" && c.log_level != "warn" &&
            c.log_level != "error")
            fail(root["log_level"],
                 "log_level: expected debug, info, warn or error, got '" + c.log_level + "'");
    }

    void load_webhook(const YAML::Node& n, WebhookConfig& w, const YAML::Node& root) {
        const std::string ctx = "webhook";
        if (mapping(n, ctx, {"bearer_token_file", "max_body_bytes"})) {
            str(n, ctx, "bearer_token_file", w.bearer_token_file);
            integer(n, ctx, "max_body_bytes", w.max_body_bytes, 1024, 64LL << 20);
        }
        // The webhook is the door to mitigation: no token, no start.
        secret(n.IsDefined() && n.IsMap() ? n : root, ctx, "bearer_token_file", w.bearer_token_file,
               w.bearer_token, true, kMinWebhookTokenLength);
    }

    void load_prometheus(const YAML::Node& n, PrometheusConfig& p) {
        const std::string ctx = "prometheus";
        if (!mapping(n, ctx, {"url", "timeout", "bearer_token_file", "exporter_url", "window"}))
            return;
        str(n, ctx, "url", p.url);
        duration(n, ctx, "timeout", p.timeout);
        str(n, ctx, "bearer_token_file", p.bearer_token_file);
        str(n, ctx, "exporter_url", p.exporter_url);
        duration(n, ctx, "window", p.window);
        url(n, ctx, "url", p.url);
        url(n, ctx, "exporter_url", p.exporter_url, true);
        secret(n, ctx, "bearer_token_file", p.bearer_token_file, p.bearer_token, false);
    }

    void load_policy(const YAML::Node& n, PolicyConfig& p) {
        const std::string ctx = "policy";
        if (!mapping(n, ctx,
                     {"modes", "auto_from_label", "allowlist_users", "allowlist_domains",
                      "max_auto_actions_per_hour", "min_share", "min_messages",
                      "min_queued_messages", "auto_actions", "allow_auto_delete", "action_expiry"}))
            return;
        YAML::Node modes = n["modes"];
        if (modes.IsDefined() && !modes.IsNull()) {
            if (!modes.IsMap()) {
                fail(modes,
                     "policy.modes: expected a mapping of alert name to notify|confirm|auto");
            } else {
                for (auto it = modes.begin(); it != modes.end(); ++it) {
                    auto name = it->first.as<std::string>();
                    auto mode = it->second.IsScalar() ? mode_from_string(it->second.Scalar())
                                                      : std::nullopt;
                    if (!mode) {
                        fail(it->second,
                             "policy.modes." + name + ": expected notify, confirm or auto");
                        continue;
                    }
                    p.modes[name] = *mode;
                }
            }
        }
        strings(n, ctx, "auto_from_label", p.auto_from_label);
        strings(n, ctx, "allowlist_users", p.allowlist_users);
        for (const auto& u : p.allowlist_users)
            if (!validate::sasl_username(u))
                fail(n["allowlist_users"], "policy.allowlist_users: not a SASL login: '" + u + "'");
        strings(n, ctx, "allowlist_domains", p.allowlist_domains);
        for (const auto& d : p.allowlist_domains)
            if (!validate::domain(d))
                fail(n["allowlist_domains"], "policy.allowlist_domains: not a domain: '" + d + "'");
        integer(n, ctx, "max_auto_actions_per_hour", p.max_auto_actions_per_hour, 0, 100000);
        number(n, ctx, "min_share", p.min_share, 0.0, 1.0);
        number(n, ctx, "min_messages", p.min_messages, 0.0, 1e12);
        number(n, ctx, "min_queued_messages", p.min_queued_messages, 0.0, 1e6);
        boolean(n, ctx, "allow_auto_delete", p.allow_auto_delete);
        duration(n, ctx, "action_expiry", p.action_expiry, true);
        YAML::Node acts = n["auto_actions"];
        forward_kinds(n, ctx, "auto_actions", p.auto_actions,
                      [](const mitigation::ActionDescriptor&) { return true; });
        for (auto k : p.auto_actions) {
            const auto* action = mitigation::catalog().find(k);
            if (action && action->automatic == mitigation::Automatic::OptIn && !p.allow_auto_delete)
                fail(acts, "policy.auto_actions: " + std::string(to_string(k)) +
                               " needs policy.allow_auto_delete: true");
        }
    }

    void load_mitigation(const YAML::Node& n, mitigation::MitigationSettings& m) {
        const std::string ctx = "mitigation";
        if (!mapping(n, ctx,
                     {"dry_run", "postfix_config_dir", "sasl_access_map", "client_access_map",
                      "map_type", "showq_path", "sasl_backend", "sasldb_path", "lock_command",
                      "unlock_command", "max_block_ips", "command_timeout", "postfix_bin_dir",
                      "programs", "never_block_ips"})) {
            check_mitigation(n, m);
            return;
        }
        boolean(n, ctx, "dry_run", m.dry_run);
        str(n, ctx, "postfix_config_dir", m.postfix_config_dir);
        str(n, ctx, "sasl_access_map", m.sasl_access_map);
        str(n, ctx, "client_access_map", m.client_access_map);
        str(n, ctx, "map_type", m.map_type);
        str(n, ctx, "showq_path", m.showq_path);
        std::string backend(to_string(m.sasl_backend));
        str(n, ctx, "sasl_backend", backend);
        if (auto k = mitigation::sasl_backend_from_string(backend))
            m.sasl_backend = *k;
        else
            fail(n["sasl_backend"],
                 "mitigation.sasl_backend: expected sasldb, saslauthd_shadow, command or none, got "
                 "'" +
                     backend + "'");
        str(n, ctx, "sasldb_path", m.sasldb_path);
        strings(n, ctx, "lock_command", m.lock_command);
        strings(n, ctx, "unlock_command", m.unlock_command);
        integer(n, ctx, "max_block_ips", m.max_block_ips, 1, 100000);
        duration(n, ctx, "command_timeout", m.command_timeout);
        str(n, ctx, "postfix_bin_dir", m.postfix_bin_dir);
        YAML::Node progs = n["programs"];
        if (progs.IsDefined() && !progs.IsNull()) {
            if (!progs.IsMap()) {
                fail(progs, "mitigation.programs: expected a mapping of program name to path");
            } else {
                for (auto it = progs.begin(); it != progs.end(); ++it) {
                    if (!it->second.IsScalar()) {
                        fail(it->second, "mitigation.programs." + it->first.as<std::string>() +
                                             ": expected a path");
                        continue;
                    }
                    m.programs[it->first.as<std::string>()] = it->second.Scalar();
                }
            }
        }
        strings(n, ctx, "never_block_ips", m.never_block_ips);
        check_mitigation(n, m);
    }

    // The section's own rules, shared with Mitigator::create (settings.hpp).
    void check_mitigation(const YAML::Node& n, mitigation::MitigationSettings& m) {
        if (auto e = mitigation::validate(m)) {
            YAML::Node at = n.IsDefined() && n.IsMap() && n[e->key].IsDefined() ? n[e->key] : n;
            fail(at, "mitigation." + e->key + ": " + e->message);
        }
    }

    void load_telegram(const YAML::Node& n, TelegramConfig& t) {
        const std::string ctx = "telegram";
        if (!mapping(n, ctx,
                     {"enabled", "api_url", "bot_token_file", "admin_chat_ids", "admin_user_ids",
                      "poll_timeout", "button_ttl", "grafana_url", "alertmanager_url", "host_name",
                      "queue_sample", "queue_subjects", "geoip_database", "geoip_database_v6"}))
            return;
        str(n, ctx, "host_name", t.host_name);
        integer(n, ctx, "queue_sample", t.queue_sample, 0, 200);
        boolean(n, ctx, "queue_subjects", t.queue_subjects);
        str(n, ctx, "geoip_database", t.geoip_database);
        str(n, ctx, "geoip_database_v6", t.geoip_database_v6);
        if (!valid_host_name(t.host_name))
            fail(n["host_name"],
                 "telegram.host_name: expected a host name, got '" + t.host_name + "'");
        boolean(n, ctx, "enabled", t.enabled);
        str(n, ctx, "api_url", t.api_url);
        str(n, ctx, "bot_token_file", t.bot_token_file);
        ids(n, ctx, "admin_chat_ids", t.admin_chat_ids);
        ids(n, ctx, "admin_user_ids", t.admin_user_ids);
        duration(n, ctx, "poll_timeout", t.poll_timeout);
        duration(n, ctx, "button_ttl", t.button_ttl);
        str(n, ctx, "grafana_url", t.grafana_url);
        str(n, ctx, "alertmanager_url", t.alertmanager_url);
        url(n, ctx, "api_url", t.api_url);
        url(n, ctx, "grafana_url", t.grafana_url, true);
        url(n, ctx, "alertmanager_url", t.alertmanager_url, true);
        if (!t.enabled) return;
        secret(n, ctx, "bot_token_file", t.bot_token_file, t.bot_token, true, 1);
        if (t.admin_chat_ids.empty())
            fail(n["admin_chat_ids"].IsDefined() ? n["admin_chat_ids"] : n,
                 "telegram.admin_chat_ids: required when telegram is enabled");
        if (t.admin_user_ids.empty())
            fail(n["admin_user_ids"].IsDefined() ? n["admin_user_ids"] : n,
                 "telegram.admin_user_ids: required when telegram is enabled");
    }

    // ---- smtp_policy: the SMTP policy service (docs/policy-service.md) ----------

    // socket_mode: a permission mode in octal, as chmod takes it ("0660", "660").
    void octal_mode(const YAML::Node& parent, const std::string& ctx, const char* key,
                    mode_t& out) {
        YAML::Node n = parent[key];
        if (!n.IsDefined() || n.IsNull()) return;
        const std::string v = n.IsScalar() ? n.Scalar() : "";
        unsigned value = 0;
        auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), value, 8);
        if (v.empty() || v.size() > 4 || ec != std::errc() || p != v.data() + v.size() ||
            value > 0777)
            return fail(n,
                        qualify(ctx, key) + ": expected an octal mode like 0660, got '" + v + "'");
        out = static_cast<mode_t>(value);
    }

    void guard_limits(const YAML::Node& n, const std::string& ctx, smtp_policy::GuardLimits& out) {
        if (!mapping(n, ctx, {"max_messages", "max_recipients"})) {
            if (!n.IsDefined() || n.IsNull())
                fail(n, ctx + ": expected a mapping with max_messages and/or max_recipients");
            return;
        }
        integer(n, ctx, "max_messages", out.max_messages, 0, 10000000);
        integer(n, ctx, "max_recipients", out.max_recipients, 0, 10000000);
    }

    void load_smtp_policy(const YAML::Node& n, SmtpPolicyConfig& c) {
        const std::string ctx = "smtp_policy";
        smtp_policy::SmtpPolicySettings& s = c.service;
        if (mapping(n, ctx,
                    {"enabled", "listen", "socket_mode", "socket_group", "max_connections",
                     "request_timeout", "idle_timeout", "max_line_bytes", "max_attributes",
                     "max_request_bytes", "max_output_bytes", "block", "guard"})) {
            smtp_policy::ServerSettings& srv = s.server;
            boolean(n, ctx, "enabled", s.enabled);
            strings(n, ctx, "listen", srv.listen);
            octal_mode(n, ctx, "socket_mode", srv.socket_mode);
            str(n, ctx, "socket_group", srv.socket_group);
            integer(n, ctx, "max_connections", srv.max_connections, 1, 100000);
            duration(n, ctx, "request_timeout", srv.request_timeout);
            duration(n, ctx, "idle_timeout", srv.idle_timeout);
            integer(n, ctx, "max_line_bytes", srv.parser.max_line_bytes, 512, 1 << 20);
            integer(n, ctx, "max_attributes", srv.parser.max_attributes, 16, 100000);
            integer(n, ctx, "max_request_bytes", srv.parser.max_request_bytes, 512, 16 << 20);
            integer(n, ctx, "max_output_bytes", srv.max_output_bytes, 1024, 64 << 20);
            const YAML::Node block = n["block"];
            if (mapping(block, ctx + ".block", {"login_reject_text", "client_reject_text"})) {
                str(block, ctx + ".block", "login_reject_text", s.login_reject_text);
                str(block, ctx + ".block", "client_reject_text", s.client_reject_text);
            }
            load_guard(n["guard"], ctx + ".guard", c);
        }
        if (failed()) return;
        // The library's rules (the same validate() the service applies), at the
        // key they name: "smtp_policy.guard.message_window: must be 1s..1d".
        if (auto r = smtp_policy::validate(s); !r) {
            const std::string& msg = r.error().message;
            YAML::Node at = n;
            auto colon = msg.find(':');
            if (msg.rfind("smtp_policy.", 0) == 0 && colon != std::string::npos) {
                std::string path = msg.substr(12, colon - 12);
                for (std::size_t start = 0; start <= path.size();) {
                    auto dot = path.find('.', start);
                    std::string part = path.substr(start, dot - start);
                    if (!at.IsDefined() || !at.IsMap() || !at[part].IsDefined()) break;
                    at = at[part];
                    if (dot == std::string::npos) break;
                    start = dot + 1;
                }
            }
            fail(at, msg);
        }
    }

    void load_guard(const YAML::Node& n, const std::string& ctx, SmtpPolicyConfig& c) {
        smtp_policy::GuardSettings& g = c.service.guard;
        if (!mapping(n, ctx,
                     {"enabled", "max_messages", "message_window", "max_recipients",
                      "recipient_window", "hold_for", "max_tracked_users", "user_limits",
                      "allow_users", "allow_domains", "release_grace"}))
            return;
        boolean(n, ctx, "enabled", g.enabled);
        integer(n, ctx, "max_messages", g.limits.max_messages, 0, 10000000);
        duration(n, ctx, "message_window", g.message_window);
        integer(n, ctx, "max_recipients", g.limits.max_recipients, 0, 10000000);
        duration(n, ctx, "recipient_window", g.recipient_window);
        duration(n, ctx, "hold_for", g.hold_for, true);
        integer(n, ctx, "max_tracked_users", g.max_tracked_users, 1, 10000000);
        strings(n, ctx, "allow_users", g.allow_users);
        strings(n, ctx, "allow_domains", g.allow_domains);
        duration(n, ctx, "release_grace", c.release_grace, true);
        const YAML::Node limits = n["user_limits"];
        if (limits.IsDefined() && !limits.IsNull()) {
            if (!limits.IsMap())
                return fail(limits, ctx + ".user_limits: expected a mapping of login to limits");
            for (auto it = limits.begin(); it != limits.end(); ++it) {
                const std::string login = it->first.as<std::string>();
                // A key left out keeps the default limit.
                smtp_policy::GuardLimits l = g.limits;
                guard_limits(it->second, ctx + ".user_limits." + login, l);
                g.user_limits[login] = l;
            }
        }
    }

    // After fleet: its conninfo_file and host_name are the store's defaults.
    void load_store(const YAML::Node& n, Config& c) {
        const std::string ctx = "store";
        StoreConfig& s = c.store;
        if (!mapping(n, ctx, {"engine", "conninfo_file", "schema"})) return;
        std::string engine = "sqlite";
        str(n, ctx, "engine", engine);
        str(n, ctx, "conninfo_file", s.conninfo_file);
        str(n, ctx, "schema", s.schema);
        if (engine == "sqlite") {
            s.engine = store::StoreSettings::Engine::Sqlite;
            return;
        }
        if (engine != "postgresql")
            return fail(n["engine"],
                        "store.engine: expected sqlite or postgresql, got '" + engine + "'");
        s.engine = store::StoreSettings::Engine::Postgresql;
        if (s.conninfo_file.empty()) s.conninfo_file = c.fleet.conninfo_file;
        if (s.conninfo_file.empty())
            return fail(n,
                        "store.conninfo_file: required with store.engine postgresql "
                        "(or fleet.conninfo_file)");
        secret(n, ctx, "conninfo_file", s.conninfo_file, s.conninfo, true);
        if (s.schema.empty()) {
            std::string host = c.fleet.host_name;
            if (host.empty()) {
                char buf[256] = {};
                if (::gethostname(buf, sizeof buf - 1) == 0) host = buf;
            }
            s.schema = store::default_schema(host);
        }
        if (!store::valid_schema(s.schema))
            fail(n["schema"].IsDefined() ? n["schema"] : n,
                 "store.schema: expected 1-63 of a-z, 0-9 and _ (not starting with a digit or "
                 "pg_), got '" +
                     s.schema + "'");
    }

    void load_fleet(const YAML::Node& n, FleetConfig& f) {
        const std::string ctx = "fleet";
        if (!mapping(n, ctx, {"shared_blocks", "conninfo_file", "host_name", "coordinate"})) return;
        boolean(n, ctx, "shared_blocks", f.shared_blocks);
        boolean(n, ctx, "coordinate", f.coordinate);
        str(n, ctx, "conninfo_file", f.conninfo_file);
        str(n, ctx, "host_name", f.host_name);
        if (!valid_host_name(f.host_name))
            fail(n["host_name"],
                 "fleet.host_name: expected a host name, got '" + f.host_name + "'");
        // The host name travels in every button's callback_data (64 bytes at most:
        // host, incident number and a 22-character token).
        if (f.coordinate && f.host_name.size() > 30)
            fail(n["host_name"],
                 "fleet.host_name: at most 30 characters with fleet.coordinate "
                 "(it is part of Telegram's 64-byte callback_data)");
        if (f.shared_blocks || f.coordinate)
            secret(n, ctx, "conninfo_file", f.conninfo_file, f.conninfo, true);
    }

    // A list of mitigation kinds (policy.auto_actions, owner_notice.actions): the
    // catalog's kinds that apply a mitigation and that `fits`; anything else fails
    // naming the kinds that would.
    template <class Fits>
    void forward_kinds(const YAML::Node& parent, const std::string& ctx, const char* key,
                       std::vector<ActionKind>& out, Fits fits) {
        YAML::Node acts = parent[key];
        if (!acts.IsDefined() || acts.IsNull()) return;
        std::vector<std::string> names;
        strings(parent, ctx, key, names);
        out.clear();
        const auto& catalog = mitigation::catalog();
        std::vector<ActionKind> allowed;
        for (auto k : catalog.forward_kinds())
            if (const auto* a = catalog.find(k); a && fits(*a)) allowed.push_back(k);
        for (const auto& name : names) {
            auto kind = action_kind_from_string(name);
            if (!kind || std::find(allowed.begin(), allowed.end(), *kind) == allowed.end()) {
                fail(acts, qualify(ctx, key) + ": '" + name + "' is not one of " +
                               mitigation::kinds_text(allowed));
                continue;
            }
            out.push_back(*kind);
        }
    }

    // ---- owner_notice: telling the account owner (docs/owner-notice.md) -------

    void load_owner_notice(const YAML::Node& n, OwnerNoticeConfig& o,
                           const mitigation::MitigationSettings& m) {
        const std::string ctx = "owner_notice";
        // sendmail -C: the Postfix instance the mitigation acts on.
        if (m.postfix_config_dir != "/etc/postfix") o.postfix_config_dir = m.postfix_config_dir;
        if (!mapping(n, ctx,
                     {"enabled", "from", "contact", "default_domain", "subject", "body", "actions",
                      "sendmail", "timeout"}))
            return;
        boolean(n, ctx, "enabled", o.enabled);
        str(n, ctx, "from", o.from);
        str(n, ctx, "contact", o.contact);
        str(n, ctx, "default_domain", o.default_domain);
        str(n, ctx, "subject", o.subject);
        str(n, ctx, "body", o.body);
        str(n, ctx, "sendmail", o.sendmail);
        duration(n, ctx, "timeout", o.timeout);
        // Only what acts on the account: blocking its addresses says nothing to the owner.
        forward_kinds(n, ctx, "actions", o.actions, [](const mitigation::ActionDescriptor& a) {
            return a.target == mitigation::TargetKind::Login;
        });
        if (!o.from.empty() && (!validate::email_address(o.from) || o.from.front() == '-'))
            fail(n["from"],
                 "owner_notice.from: expected an address like postmaster@example.org, "
                 "got '" +
                     o.from + "'");
        if (o.contact.find_first_of("\r\n") != std::string::npos || o.contact.size() > 200)
            fail(n["contact"], "owner_notice.contact: expected one line");
        if (!o.default_domain.empty() && !validate::domain(o.default_domain))
            fail(n["default_domain"],
                 "owner_notice.default_domain: expected a domain, got '" + o.default_domain + "'");
        if (o.subject.find_first_of("\r\n") != std::string::npos)
            fail(n["subject"], "owner_notice.subject: expected one line");
        if (auto e = check_owner_template(o.subject))
            fail(n["subject"], "owner_notice.subject: " + *e);
        if (auto e = check_owner_template(o.body)) fail(n["body"], "owner_notice.body: " + *e);
        if (o.sendmail.empty() || o.sendmail.front() != '/')
            fail(n["sendmail"], "owner_notice.sendmail: expected an absolute path");
        if (o.enabled && o.from.empty())
            fail(n, "owner_notice.from: required when owner_notice is enabled");
    }

    std::string m_name;
    std::optional<Error> m_error;
    int m_section_line = 1;
};

}  // namespace

Result<Config> parse_config(const std::string& yaml_text, const std::string& name) {
    Config c;
    c.source_path = name;
    YAML::Node root;
    try {
        root = YAML::Load(yaml_text);
    } catch (const YAML::Exception& e) {
        return make_error(name + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
    }
    Loader loader(name);
    try {
        loader.load(root, c);
    } catch (const YAML::Exception& e) {
        return make_error(name + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
    }
    if (loader.failed()) return loader.error();
    return c;
}

Result<Config> load_config(const std::string& path) {
    auto text = files::read_all(path, 1 << 20);
    if (!text) return make_error(path + ": " + text.error().message);
    return parse_config(*text, path);
}

}  // namespace saslguard::receiver
