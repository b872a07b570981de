#include "saslguard/receiver/doctor.hpp"

#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "saslguard/common/format.hpp"
#include "saslguard/common/log.hpp"
#include "saslguard/postfix/wiring.hpp"
#include "saslguard/receiver/telegram/bot_api.hpp"

namespace saslguard::receiver::doctor {
namespace {

using nlohmann::json;

// The alert rules without which nothing reaches the receiver (rules/).
const std::vector<std::string> kRequiredRules{"SaslUserSendingSurge", "PostfixQueueSurge"};

Check ok(std::string area, std::string what) {
    return {std::move(area), Status::Ok, what, ""};
}
Check warn(std::string area, std::string what, std::string fix) {
    return {std::move(area), Status::Warn, std::move(what), std::move(fix)};
}
Check fail(std::string area, std::string what, std::string fix) {
    return {std::move(area), Status::Fail, std::move(what), std::move(fix)};
}

// "http://host:port/path" → "host:port" (a default port made explicit), "" when not a URL.
std::string host_port(const std::string& url) {
    auto scheme = url.find("://");
    if (scheme == std::string::npos) return "";
    auto rest = url.substr(scheme + 3);
    auto hp = rest.substr(0, rest.find('/'));
    if (auto at = hp.rfind('@'); at != std::string::npos) hp = hp.substr(at + 1);
    if (hp.find(':') == std::string::npos || hp.back() == ']')
        hp += url.compare(0, 5, "https") == 0 ? ":443" : ":80";
    if (hp.rfind("localhost:", 0) == 0) hp = "127.0.0.1" + hp.substr(9);
    return hp;
}

std::string path_of(const std::string& url) {
    auto scheme = url.find("://");
    if (scheme == std::string::npos) return "";
    auto slash = url.find('/', scheme + 3);
    return slash == std::string::npos ? "/" : url.substr(slash);
}

std::string trim_slash(std::string url) {
    while (!url.empty() && url.back() == '/') url.pop_back();
    return url;
}

// ---- postfix ----

std::string postconf_out(const Config& c, const Probes& probes, const std::string& flag,
                         std::string& error) {
    const auto& m = c.mitigation;
    auto res = probes.run({m.program("postconf"), "-c", m.postfix_config_dir, flag});
    if (!res.success()) error = "postconf " + flag + ": " + res.describe();
    return res.out;
}

void check_wiring(const Config& c, const Probes& probes, std::vector<Check>& out,
                  std::vector<postfix::SmtpdService>& services) {
    const auto& m = c.mitigation;
    std::string error;
    postfix::PostconfTexts texts;
    texts.main = postconf_out(c, probes, "-n", error);
    texts.master = postconf_out(c, probes, "-M", error);
    texts.overrides = postconf_out(c, probes, "-P", error);
    if (!error.empty()) {
        out.push_back(
            fail("postfix",
                 "cannot read the Postfix configuration in " + m.postfix_config_dir + ": " + error,
                 "check mitigation.postfix_config_dir and postfix_bin_dir in " + c.source_path));
        return;
    }
    postfix::WiringExpectation expected{m.sasl_access_map, m.client_access_map, m.map_type, ""};
    auto report = postfix::analyze_wiring(texts, expected);
    if (!report) {
        out.push_back(fail("postfix", report.error().message, "run postconf -n / -M by hand"));
        return;
    }
    if (report->services.empty())
        out.push_back(fail("postfix",
                           "no smtpd service accepts SASL AUTH (smtpd_sasl_auth_enable): "
                           "there is no login to block",
                           "enable SASL on the submission services (postconf -P)"));
    for (const auto& svc : report->services)
        for (const auto& f : svc.findings) {
            std::string what = svc.label() + ": " + std::string(postfix::to_string(f.check)) + " " +
                               std::string(postfix::to_string(f.verdict)) + " — " + f.detail;
            out.push_back(f.ok() ? ok("postfix", what) : fail("postfix", what, f.fix));
        }
    for (const auto& note : report->notes)
        if (note.rfind("no smtpd service", 0) != 0)
            out.push_back(warn("postfix", note, "check by hand: postconf -n; postconf -P"));
    services = report->services;
}

std::string indexed_suffix(const std::string& map_type) {
    if (map_type == "lmdb") return ".lmdb";
    if (map_type == "cdb") return ".cdb";
    return ".db";  // hash, btree
}

void check_map(const Config& c, const std::string& path, std::vector<Check>& out) {
    const auto& m = c.mitigation;
    const std::string table = m.map_type + ":" + path;
    struct stat src {
    }, idx{};
    if (::stat(path.c_str(), &src) != 0) {
        out.push_back(fail("postfix",
                           path + " does not exist: Postfix answers 451 (temporary "
                                  "lookup failure) while smtpd names it",
                           "start saslguard-receiver once (it creates its maps), or: touch " +
                               path + " && postmap " + table));
        return;
    }
    const std::string indexed = path + indexed_suffix(m.map_type);
    if (::stat(indexed.c_str(), &idx) != 0) {
        out.push_back(fail("postfix", indexed + " does not exist (the map was never postmapped)",
                           "postmap " + table));
        return;
    }
    if (idx.st_mtime < src.st_mtime) {
        out.push_back(
            fail("postfix",
                 indexed + " is older than " + path + ": Postfix does not see the newest blocks",
                 "postmap " + table));
        return;
    }
    out.push_back(ok("postfix", table + " exists and is current"));
}

// ---- sasl ----

bool executable(const std::string& path) {
    return ::access(path.c_str(), X_OK) == 0;
}

void check_sasl(const Config& c, const std::vector<postfix::SmtpdService>& services,
                std::vector<Check>& out) {
    using mitigation::SaslBackendKind;
    const auto& m = c.mitigation;
    switch (m.sasl_backend) {
        case SaslBackendKind::None:
            out.push_back(warn("sasl", "mitigation.sasl_backend is none: accounts cannot be locked",
                               "set sasl_backend to sasldb, saslauthd_shadow or command"));
            return;
        case SaslBackendKind::Sasldb: {
            if (::access(m.sasldb_path.c_str(), R_OK | W_OK) != 0) {
                out.push_back(fail("sasl", m.sasldb_path + " cannot be read and written",
                                   "check mitigation.sasldb_path (and run doctor as the "
                                   "receiver's user)"));
                return;
            }
            out.push_back(ok("sasl", "sasldb " + m.sasldb_path + " is readable and writable"));
            for (const auto& svc : services)
                if (svc.chroot)
                    out.push_back(warn(
                        "sasl",
                        svc.label() + " runs chrooted: its smtpd reads the sasldb copy under "
                                      "the queue directory (e.g. /var/spool/postfix/etc/sasldb2)",
                        "point mitigation.sasldb_path at the copy smtpd reads, or set the "
                        "chroot column of " +
                            svc.label() + " to n"));
            return;
        }
        case SaslBackendKind::SaslauthdShadow: {
            // The path the backend runs (mitigation.programs.usermod), never PATH.
            const std::string usermod = m.program("usermod");
            if (!executable(usermod)) {
                out.push_back(fail("sasl",
                                   usermod + " is missing: the Unix account cannot be locked",
                                   "apt-get install passwd, or set mitigation.programs.usermod"));
                return;
            }
            out.push_back(ok("sasl", "saslauthd_shadow: " + usermod + " is there"));
            return;
        }
        case SaslBackendKind::Command:
            for (const auto* cmd : {&m.lock_command, &m.unlock_command}) {
                if (cmd->empty() || !executable(cmd->front())) {
                    out.push_back(fail("sasl",
                                       "the lock/unlock command " +
                                           log::quote(cmd->empty() ? "" : cmd->front()) +
                                           " is not an executable file",
                                       "set mitigation.lock_command / unlock_command to "
                                       "absolute paths of executables"));
                    return;
                }
            }
            out.push_back(ok("sasl", "lock and unlock commands are executable"));
            return;
    }
}

// ---- HTTP helpers ----

HttpResponse get(const Probes& probes, const std::string& url, const std::string& token = "") {
    HttpRequest req;
    req.url = url;
    req.bearer_token = token;
    req.timeout = std::chrono::seconds(10);
    return probes.http(req);
}

std::string describe(const HttpResponse& r) {
    if (!r.transport_ok()) return "unreachable (" + r.error + ")";
    return "HTTP " + std::to_string(r.status);
}

// ---- prometheus ----

void check_prometheus(const Config& c, const Probes& probes, std::vector<Check>& out) {
    const std::string base = trim_slash(c.prometheus.url);
    auto rules = get(probes, base + "/api/v1/rules?type=alert", c.prometheus.bearer_token);
    if (!rules.ok()) {
        out.push_back(
            fail("prometheus", "Prometheus at " + base + " " + describe(rules),
                 "check prometheus.url in " + c.source_path + " and that Prometheus runs"));
        return;
    }
    std::set<std::string> loaded;
    try {
        const json answer = json::parse(rules.body);  // named: the loop refers into it
        for (const auto& g : answer.at("data").at("groups"))
            for (const auto& r : g.at("rules")) loaded.insert(r.at("name").get<std::string>());
    } catch (const std::exception&) {
        out.push_back(fail("prometheus", "Prometheus's /api/v1/rules answer not understood",
                           "check prometheus.url points at Prometheus"));
        return;
    }
    std::vector<std::string> missing;
    for (const auto& r : kRequiredRules)
        if (!loaded.count(r)) missing.push_back(r);
    if (missing.empty())
        out.push_back(ok("prometheus", "saslguard's alert rules are loaded (" +
                                           std::to_string(loaded.size()) + " alert rules)"));
    else
        out.push_back(fail("prometheus", "alert rule " + missing.front() + " is not loaded",
                           "add /usr/share/saslguard/rules/*.yml to rule_files in prometheus.yml, "
                           "then reload Prometheus (promtool check config first)"));

    const std::string want = host_port(c.prometheus.exporter_url);
    auto targets = get(probes, base + "/api/v1/targets?state=active", c.prometheus.bearer_token);
    if (!targets.ok()) {
        out.push_back(fail("prometheus", "Prometheus targets " + describe(targets),
                           "check that Prometheus runs"));
        return;
    }
    try {
        const json answer = json::parse(targets.body);
        for (const auto& t : answer.at("data").at("activeTargets")) {
            if (host_port(t.value("scrapeUrl", "")) != want) continue;
            if (t.value("health", "") == "up") {
                out.push_back(ok("prometheus", "Prometheus scrapes the exporter at " + want));
            } else {
                out.push_back(
                    fail("prometheus",
                         "Prometheus cannot scrape the exporter at " + want + ": " +
                             t.value("lastError", t.value("health", "")),
                         "systemctl status saslguard-exporter; curl " + c.prometheus.exporter_url));
            }
            return;
        }
    } catch (const std::exception&) {
        out.push_back(fail("prometheus", "Prometheus's /api/v1/targets answer not understood",
                           "check prometheus.url points at Prometheus"));
        return;
    }
    out.push_back(fail("prometheus", "Prometheus has no scrape target at " + want,
                       "add a scrape job for " + want +
                           " to prometheus.yml (deploy/prometheus.yml has one), or set "
                           "prometheus.exporter_url to the address Prometheus scrapes"));
}

// ---- alertmanager ----

// Every receiver name a route (or a nested one) sends to.
void route_receivers(const YAML::Node& route, std::set<std::string>& names) {
    if (!route || !route.IsMap()) return;
    if (route["receiver"]) names.insert(route["receiver"].as<std::string>(""));
    if (route["routes"] && route["routes"].IsSequence())
        for (const auto& r : route["routes"]) route_receivers(r, names);
}

void check_alertmanager(const Config& c, const Probes& probes, std::vector<Check>& out) {
    const std::string base = trim_slash(c.telegram.alertmanager_url);
    if (base.empty()) {
        out.push_back(warn("alertmanager",
                           "telegram.alertmanager_url is not set: the route "
                           "cannot be checked and the bot cannot set silences",
                           "set telegram.alertmanager_url in " + c.source_path));
        return;
    }
    auto status = get(probes, base + "/api/v2/status");
    if (!status.ok()) {
        out.push_back(fail("alertmanager", "Alertmanager at " + base + " " + describe(status),
                           "check telegram.alertmanager_url and that Alertmanager runs"));
        return;
    }
    const std::string want = "127.0.0.1:" + std::to_string(c.listen_port());
    const std::string want_any = c.listen_host() + ":" + std::to_string(c.listen_port());
    std::set<std::string> ours, routed;
    try {
        auto original = json::parse(status.body).at("config").at("original").get<std::string>();
        YAML::Node am = YAML::Load(original);
        for (const auto& r : am["receivers"]) {
            for (const auto& w : r["webhook_configs"]) {
                std::string url = w["url"].as<std::string>("");
                std::string hp = host_port(url);
                // The receiver listens on one port: a URL naming it by another
                // name of this host (its hostname, a wildcard bind) counts too.
                bool port_matches =
                    !hp.empty() && hp.substr(hp.rfind(':') + 1) == std::to_string(c.listen_port());
                if ((hp == want || hp == want_any || port_matches) &&
                    path_of(url) == "/alertmanager")
                    ours.insert(r["name"].as<std::string>(""));
            }
        }
        route_receivers(am["route"], routed);
    } catch (const std::exception& e) {
        out.push_back(fail("alertmanager",
                           std::string("Alertmanager's configuration not understood: ") + e.what(),
                           "amtool check-config on Alertmanager's configuration"));
        return;
    }
    if (ours.empty()) {
        out.push_back(fail("alertmanager",
                           "no Alertmanager receiver posts to this receiver (port " +
                               std::to_string(c.listen_port()) + ", path /alertmanager)",
                           "add a webhook_configs receiver with url http://" + want_any +
                               "/alertmanager (deploy/alertmanager.yml), then reload"));
        return;
    }
    for (const auto& name : ours)
        if (routed.count(name)) {
            out.push_back(ok("alertmanager", "Alertmanager routes to receiver " + log::quote(name) +
                                                 " (this receiver)"));
            return;
        }
    out.push_back(fail("alertmanager",
                       "receiver " + log::quote(*ours.begin()) + " posts here but no route uses it",
                       "route saslguard's alerts (alertname=~\"Sasl.*|Postfix.*\") to it, as in "
                       "deploy/alertmanager.yml"));
}

// ---- telegram ----

telegram::ApiResult bot_call(const Config& c, const Probes& probes, const std::string& method,
                             const std::string& payload) {
    HttpRequest req;
    req.method = "POST";
    req.url = trim_slash(c.telegram.api_url) + "/bot" + c.telegram.bot_token + "/" + method;
    req.headers = {"Content-Type: application/json"};
    req.body = payload;
    req.timeout = std::chrono::seconds(10);
    auto r = probes.http(req);
    return telegram::classify_response(r.status, r.body, r.retry_after_s, r.error);
}

// The Bot API's error text, with the token never in it.
std::string scrub(std::string text, const std::string& token) {
    if (token.empty()) return text;
    for (auto p = text.find(token); p != std::string::npos; p = text.find(token))
        text.replace(p, token.size(), "<token>");
    return text;
}

void check_telegram(const Config& c, const Probes& probes, std::vector<Check>& out) {
    const auto& t = c.telegram;
    if (!t.enabled) {
        out.push_back(warn("telegram", "Telegram is disabled: incidents are only logged",
                           "set telegram.enabled, bot_token_file and admin_chat_ids"));
        return;
    }
    auto me = bot_call(c, probes, "getMe", "{}");
    if (!me.ok()) {
        out.push_back(fail(
            "telegram",
            "the bot token is not accepted (getMe: " + scrub(me.describe(), t.bot_token) + ")",
            "put the token @BotFather gave into " + t.bot_token_file + " (first line, mode 0600)"));
        return;
    }
    std::string name;
    try {
        name = json::parse(me.result_json).value("username", "");
    } catch (const std::exception&) {
    }
    out.push_back(ok("telegram", "the bot token answers getMe (@" + name + ")"));
    if (t.admin_chat_ids.empty())
        out.push_back(fail("telegram", "telegram.admin_chat_ids is empty: nobody gets incidents",
                           "add the admins' chat ids (docs/telegram.md says how to find them)"));
    for (auto id : t.admin_chat_ids) {
        auto chat = bot_call(c, probes, "getChat", json{{"chat_id", id}}.dump());
        const std::string sid = std::to_string(id);
        if (chat.ok())
            out.push_back(ok("telegram", "admin chat " + sid + " exists"));
        else if (chat.http_status == 400 || chat.http_status == 403)
            out.push_back(fail("telegram",
                               "admin chat " + sid + ": " + scrub(chat.describe(), t.bot_token),
                               "the admin must open the bot and press Start (for a group: add "
                               "the bot to it), and check the id in telegram.admin_chat_ids"));
        else
            out.push_back(warn("telegram",
                               "admin chat " + sid + " could not be checked (getChat: " +
                                   scrub(chat.describe(), t.bot_token) + ")",
                               "send /status to the bot from that chat"));
    }
}

}  // namespace

namespace {

// ---- store ----

// The shared store must be reachable: with PostgreSQL down the intake answers
// 5xx. The SQLite file is the receiver's own and is not opened here (doctor may
// run as another user than the receiver and would create it).
void check_store(const Config& c, const Probes& probes, std::vector<Check>& out) {
    if (c.store.engine != store::StoreSettings::Engine::Postgresql || !probes.open_store) return;
    auto version = probes.open_store(c.store_settings());
    if (!version) {
        out.push_back(fail("store", "PostgreSQL store: " + version.error().message,
                           "check that PostgreSQL runs, " + c.store.conninfo_file +
                               " (store.conninfo_file) and the grants (docs/fleet.md)"));
        return;
    }
    out.push_back(ok("store", "PostgreSQL schema " + c.store.schema +
                                  " reachable, schema version " + std::to_string(*version)));
}

}  // namespace

Probes system_probes() {
    Probes p;
    p.run = [](const std::vector<std::string>& argv) {
        ProcessOptions o;
        o.timeout = std::chrono::seconds(20);
        return run_process(argv, o);
    };
    auto client = std::make_shared<HttpClient>();
    p.http = [client](const HttpRequest& r) { return client->perform(r); };
    p.open_store = [](const store::StoreSettings& settings) -> Result<int> {
        auto s = store::StateStore::open(settings);
        if (!s) return s.error();
        return (*s)->schema_version();
    };
    return p;
}

std::vector<Check> run_checks(const Config& config, const Probes& probes) {
    std::vector<Check> out;
    std::vector<postfix::SmtpdService> services;
    check_wiring(config, probes, out, services);
    check_map(config, config.mitigation.sasl_access_map, out);
    check_map(config, config.mitigation.client_access_map, out);
    check_sasl(config, services, out);
    check_prometheus(config, probes, out);
    check_alertmanager(config, probes, out);
    check_telegram(config, probes, out);
    check_store(config, probes, out);
    return out;
}

std::string render(const std::vector<Check>& checks) {
    std::string text;
    std::size_t fails = 0, warns = 0;
    for (const auto& c : checks) {
        const char* tag = c.status == Status::Ok     ? "ok  "
                          : c.status == Status::Warn ? "WARN"
                                                     : "FAIL";
        fails += c.status == Status::Fail;
        warns += c.status == Status::Warn;
        std::string area = c.area;
        area.resize(std::max<std::size_t>(area.size(), 12), ' ');
        text += std::string(tag) + "  " + area + " " + c.what + "\n";
        if (!c.fix.empty()) text += std::string(20, ' ') + "fix: " + c.fix + "\n";
    }
    if (fails == 0)
        text += "doctor: no problem found" +
                (warns ? " (" + format::counted(warns, "warning") + ")" : std::string()) + "\n";
    else
        text += "doctor: " + format::counted(fails, "problem") + " found, " +
                format::counted(warns, "warning") +
                ": a block may not stop the spam until they are fixed\n";
    return text;
}

int exit_code(const std::vector<Check>& checks) {
    return std::any_of(checks.begin(), checks.end(),
                       [](const Check& c) { return c.status == Status::Fail; })
               ? 1
               : 0;
}

}  // namespace saslguard::receiver::doctor
