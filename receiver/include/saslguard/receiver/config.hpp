#pragma once
// saslguard-receiver configuration (YAML). Every key, its default and meaning is
// documented once, in deploy/receiver.yml.
//
// One model, validated once: load_config() is strict — an unknown key, a wrong
// type, a bad duration (common/duration.hpp: the syntax every binary shares) or
// a broken rule of a section (e.g. mitigation::validate) fails with
// "FILE:LINE: what is wrong". The daemon and --check-config run exactly this, so
// a config that passes the check is one the daemon starts with.
// Secrets are never in the YAML: keys ending in `_file` name a file whose first
// line is the secret; load_config() reads them (so a missing secret also stops
// the start) into the matching non-file field.
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "saslguard/common/result.hpp"
#include "saslguard/receiver/actions.hpp"
#include "saslguard/receiver/incident.hpp"
#include "saslguard/receiver/mitigation/settings.hpp"
#include "saslguard/receiver/owner_notice.hpp"
#include "saslguard/receiver/smtp_policy/settings.hpp"
#include "saslguard/receiver/store/state_store.hpp"

namespace saslguard::receiver {

struct WebhookConfig {
    std::string bearer_token_file;
    std::string bearer_token;  // read from bearer_token_file
    std::size_t max_body_bytes = 1048576;
};

struct PrometheusConfig {
    std::string url = "http://127.0.0.1:9090";
    std::chrono::milliseconds timeout{5000};
    std::string bearer_token_file;  // optional
    std::string bearer_token;       // read from bearer_token_file when set
    std::string exporter_url = "http://127.0.0.1:9754/metrics";
    std::chrono::seconds window{600};
};

struct PolicyConfig {
    std::map<std::string, Mode>
        modes;  // alertname → mode; overrides the alert's `mitigation` label
    // Alert names whose own `mitigation="auto"` label is honoured; from any
    // other alert that label means confirm (policy.modes can still say auto).
    std::vector<std::string> auto_from_label{"SaslUserSendingSurge", "SaslUserVolumeAnomaly",
                                             "SaslUserNewSourceSurge"};
    std::vector<std::string> allowlist_users;
    std::vector<std::string> allowlist_domains;
    int max_auto_actions_per_hour = 10;
    double min_share = 0.5;
    double min_messages = 20;
    // Corroboration: at least this many of the user's messages (by the SASL
    // login recorded in the queue file) must be queued before an automatic
    // action; 0 trusts the log alone.
    double min_queued_messages = 5;
    std::vector<ActionKind> auto_actions{ActionKind::BlockLogin, ActionKind::HoldMail};
    bool allow_auto_delete = false;
    std::chrono::seconds action_expiry{24 * 3600};  // 0: automatic blocks never expire
};

struct TelegramConfig {
    bool enabled = false;
    std::string api_url = "https://api.telegram.org";
    std::string bot_token_file;
    std::string bot_token;  // read from bot_token_file when enabled
    std::vector<std::int64_t> admin_chat_ids;
    std::vector<std::int64_t> admin_user_ids;
    std::chrono::seconds poll_timeout{25};
    std::chrono::seconds button_ttl{3600};
    std::string grafana_url;
    std::string alertmanager_url;
    // Not a YAML key: fleet.host_name when fleet.coordinate is on (set by the
    // receiver), named in callback_data so a press runs on this host.
    std::string fleet_host;
    // The mail host as messages name it; "" = fleet.host_name, else the
    // system's host name (resolved when the configuration is loaded).
    std::string host_name;
    // How many of the culprit's queued messages are read for the incident
    // message (client addresses, recipient domains); 0: the queue is not read.
    std::size_t queue_sample = 20;
    // Privacy switch: also read and show the subjects of those messages.
    bool queue_subjects = false;
    // Countries of client addresses (Debian's geoip-database); "" = none.
    std::string geoip_database = "/usr/share/GeoIP/GeoIP.dat";
    std::string geoip_database_v6 = "/usr/share/GeoIP/GeoIPv6.dat";
};

// The `smtp_policy:` section: the SMTP policy service (docs/policy-service.md).
// Its own settings are the library's model, one YAML key per field; the
// receiver adds what it does around the service.
struct SmtpPolicyConfig {
    smtp_policy::SmtpPolicySettings service;
    // smtp_policy.guard.release_grace: after an admin releases a user's held
    // mail (Telegram button or /release), the guard leaves that user alone this
    // long, so a legitimate bulk sender is not held again at once. 0: no grace.
    std::chrono::seconds release_grace{3600};
};

// Several hosts sharing blocks through PostgreSQL (docs/fleet.md).
struct FleetConfig {
    bool shared_blocks = false;  // publish this host's blocks for every host's Postfix
    std::string conninfo_file;   // one line: a libpq connection string (may hold a password)
    std::string conninfo;        // read from conninfo_file
    std::string host_name;       // this host in the shared rows; "" = the system's hostname
    // One Telegram front, host-addressed button presses and fleet-wide
    // deduplication of webhooks through PostgreSQL (docs/fleet.md). Off: each
    // receiver is on its own (its own bot poller, every alert its own).
    bool coordinate = false;
};

// Where the receiver keeps its state (docs/receiver.md "Store", docs/fleet.md).
struct StoreConfig {
    // store.engine: sqlite (default: the file at state_path) or postgresql.
    store::StoreSettings::Engine engine = store::StoreSettings::Engine::Sqlite;
    // store.conninfo_file: one line, a libpq connection string (may hold a
    // password); "" = fleet.conninfo_file. Read at load, never from argv or YAML.
    std::string conninfo_file;
    std::string conninfo;
    // store.schema: this host's schema; "" = saslguard_<fleet.host_name or the
    // system's hostname>, lowercased, other characters as _.
    std::string schema;
};

struct Config {
    std::string source_path;                        // the file it was loaded from
    std::string listen_address = "127.0.0.1:9755";  // host:port
    std::string state_path = "/var/lib/saslguard/state.db";
    std::string log_level = "info";
    WebhookConfig webhook;
    PrometheusConfig prometheus;
    PolicyConfig policy;
    mitigation::MitigationSettings mitigation;  // one model: the Mitigator takes it as is
    TelegramConfig telegram;
    SmtpPolicyConfig smtp_policy;
    FleetConfig fleet;
    OwnerNoticeConfig owner_notice;  // docs/owner-notice.md
    StoreConfig store;

    // What StateStore::open takes: the engine, state_path, conninfo and schema.
    store::StoreSettings store_settings() const;

    // listen_address split; valid after load.
    std::string listen_host() const;
    int listen_port() const;
};

Result<Config> load_config(const std::string& path);
// Same, from text (tests); `name` is used in error messages in place of a path.
// Relative *_file paths are resolved against the current directory.
Result<Config> parse_config(const std::string& yaml_text, const std::string& name);

}  // namespace saslguard::receiver
