#include "options.hpp"

namespace saslguard::exporter {
namespace {

using flags::parse_bool;
using flags::parse_positive_duration;

std::string parse_size(const std::string& v, std::size_t& out, std::size_t min_value = 1) {
    return flags::parse_count(v, out, min_value);
}

template <class Rep, class Period>
std::string parse_dur(const std::string& v, std::chrono::duration<Rep, Period>& out) {
    return parse_positive_duration(v, out);
}

// A string flag that must not be empty.
template <std::string Options::*Field>
std::string set_nonempty(Options& o, const std::string& v) {
    if (v.empty()) return "must not be empty";
    o.*Field = v;
    return {};
}

std::string set_source(Options& o, const std::string& v) {
    if (v == "file")
        o.log_source = LogSourceKind::File;
    else if (v == "journal")
        o.log_source = LogSourceKind::Journal;
    else if (v == "stdin")
        o.log_source = LogSourceKind::Stdin;
    else
        return "expected file, journal or stdin";
    return {};
}

// One row per flag: name, help, default shown, boolean?, and how the value applies.
struct Row {
    const char* name;
    const char* help;
    const char* default_text;
    bool is_bool;
    std::string (*apply)(Options&, const std::string& value);
};

const std::vector<Row>& rows() {
    static const std::vector<Row> table = {
        {"web.listen-address", "address:port to serve /metrics on", "127.0.0.1:9754", false,
         set_nonempty<&Options::listen_address>},
        {"web.telemetry-path", "HTTP path of the metrics", "/metrics", false,
         [](Options& o, const std::string& v) -> std::string {
             if (v.empty() || v[0] != '/') return "must start with /";
             o.metrics_path = v;
             return {};
         }},
        {"log.source", "where Postfix log lines come from: file|journal|stdin", "file", false,
         set_source},
        {"log.path", "log file to follow (--log.source=file)", "/var/log/mail.log", false,
         set_nonempty<&Options::log_path>},
        {"log.from-start",
         "read the log file (or the journal) from its beginning instead of its end", "false", true,
         [](Options& o, const std::string& v) { return parse_bool(v, o.log_from_start); }},
        {"log.poll-interval",
         "how often the file tailer looks for new lines, rotation and truncation", "250ms", false,
         [](Options& o, const std::string& v) { return parse_dur(v, o.log_poll_interval); }},
        {"journal.units",
         "comma-separated systemd units read with --log.source=journal (their _SYSTEMD_UNIT, "
         "which journald sets, not the sender)",
         "postfix.service,postfix@-.service", false, set_nonempty<&Options::journal_units>},
        {"journal.directory",
         "read the journal files in this directory instead of the system journal (a copied "
         "journal, tests)",
         "", false, set_nonempty<&Options::journal_directory>},
        {"oneshot", "read FILE to its end, print the metrics in text format to stdout and exit", "",
         false, set_nonempty<&Options::oneshot_path>},
        {"max-users", "SASL users tracked at once; the idlest is evicted beyond this", "10000",
         false, [](Options& o, const std::string& v) { return parse_size(v, o.max_users); }},
        {"top-k",
         "label values kept for attacker-controlled labels (client IPs); the rest is __other__",
         "20", false, [](Options& o, const std::string& v) { return parse_size(v, o.top_k); }},
        {"window",
         "sliding window of postfix_sasl_user_client_ips and postfix_sasl_failures_by_client_ip",
         "10m", false, [](Options& o, const std::string& v) { return parse_dur(v, o.window); }},
        {"log.max-queue-ids",
         "queue ids remembered to attribute qmgr/delivery lines to a SASL user", "65536", false,
         [](Options& o, const std::string& v) { return parse_size(v, o.max_queue_ids, 16); }},
        {"log.queue-id-ttl", "forget a queue id not seen for this long (log time)", "6h", false,
         [](Options& o, const std::string& v) { return parse_dur(v, o.queue_id_ttl); }},
        {"max-failure-ips",
         "client IPs with SASL failures tracked in the window; beyond: __other__", "10000", false,
         [](Options& o, const std::string& v) { return parse_size(v, o.max_failure_ips); }},
        {"max-ips-per-user", "distinct client IPs remembered per user in the window", "4096", false,
         [](Options& o, const std::string& v) { return parse_size(v, o.max_ips_per_user); }},
        {"log.level", "exporter's own log level: debug|info|warn|error", "info", false,
         [](Options& o, const std::string& v) -> std::string {
             if (v != "debug" && v != "info" && v != "warn" && v != "error")
                 return "expected debug|info|warn|error";
             o.log_level = v;
             return {};
         }},
        // Queue collector flags (showq) are added below this line.
        {"showq.path",
         "showq socket of the Postfix instance (what postqueue reads); empty disables the queue "
         "metrics",
         "/var/spool/postfix/public/showq", false,
         [](Options& o, const std::string& v) -> std::string {
             o.showq_path = v;
             return {};
         }},
        {"queue.refresh-interval",
         "pause between background showq refreshes; scrapes serve the last one", "15s", false,
         [](Options& o, const std::string& v) { return parse_dur(v, o.queue_refresh_interval); }},
        {"showq.timeout", "give up one showq refresh (connect and whole listing) after this long",
         "60s", false,
         [](Options& o, const std::string& v) { return parse_dur(v, o.showq_timeout); }},
        {"queue.top-senders",
         "envelope senders published by postfix_queue_sender_messages; the rest is __other__", "20",
         false,
         [](Options& o, const std::string& v) { return parse_size(v, o.queue_top_senders); }},
        // New sources (source memory) flags: this block is theirs.
        {"state.path",
         "file where the per-user client networks are kept across restarts (written atomically, "
         "mode 0600; its directory must exist); empty: kept in memory only",
         "", false,
         [](Options& o, const std::string& v) -> std::string {
             o.state_path = v;
             return {};
         }},
        {"state.save-interval", "how often the state file is rewritten (and at shutdown)", "5m",
         false,
         [](Options& o, const std::string& v) { return parse_dur(v, o.state_save_interval); }},
        {"sources.horizon",
         "a client network not used by a user for this long (log time) is new again", "30d", false,
         [](Options& o, const std::string& v) { return parse_dur(v, o.sources_horizon); }},
        {"sources.learning-period",
         "after the first start, networks are only learned, never called new, for this long "
         "(0: count from the first line)",
         "7d", false,
         [](Options& o, const std::string& v) -> std::string {
             if (v == "0") {
                 o.sources_learning_period = std::chrono::seconds(0);
                 return {};
             }
             return parse_dur(v, o.sources_learning_period);
         }},
        {"sources.new-for",
         "submissions from a network count as new-source messages for this long after it "
         "appears",
         "24h", false,
         [](Options& o, const std::string& v) { return parse_dur(v, o.sources_new_for); }},
        {"sources.max-networks-per-user",
         "client networks remembered per user; the least recently used is forgotten beyond it",
         "32", false,
         [](Options& o, const std::string& v) { return parse_size(v, o.max_networks_per_user); }},
    };
    return table;
}

}  // namespace

flags::FlagSet flag_set(Options& options) {
    flags::FlagSet set;
    for (const auto& r : rows())
        set.add({r.name, r.help, r.default_text, r.is_bool, "VALUE",
                 [&options, apply = r.apply](const std::string& v) { return apply(options, v); }});
    return set;
}

std::string usage() {
    Options unused;
    return "usage: saslguard-exporter [flags]\n\n" + flag_set(unused).usage();
}

Result<Options> parse_options(int argc, const char* const* argv, bool* help_requested) {
    Options options;
    if (help_requested) *help_requested = false;
    auto parsed = flag_set(options).parse(argc, argv);
    if (!parsed) return parsed.error();
    if (parsed->help) {
        if (help_requested) *help_requested = true;
        return make_error(usage());
    }
    return options;
}

}  // namespace saslguard::exporter
