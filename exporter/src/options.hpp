#pragma once
// Command-line options of saslguard-exporter. Every path and knob is a flag so the
// real binary can run against fixtures. Flags are declared once, in a table
// (options.cpp: flag_set), next to their default and help text: to add a flag,
// add a field here and one row to the table.
//
// Syntax and value rules are common/flags.hpp's, shared with saslguard-receiver
// and saslguardctl: `--name=value` or `--name value`; boolean flags take no value
// (`--log.from-start`), or `--name=true|false`. Durations are common/duration.hpp's
// (Prometheus's syntax): "250ms", "30s", "10m", "1h30m".
#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "saslguard/common/flags.hpp"
#include "saslguard/common/result.hpp"

namespace saslguard::exporter {

enum class LogSourceKind { File, Journal, Stdin };

struct Options {
    // HTTP
    std::string listen_address = "127.0.0.1:9754";
    std::string metrics_path = "/metrics";

    // Log source
    LogSourceKind log_source = LogSourceKind::File;
    std::string log_path = "/var/log/mail.log";
    bool log_from_start = false;
    std::chrono::milliseconds log_poll_interval{250};
    std::string journal_units = "postfix.service,postfix@-.service";
    std::string journal_directory;  // "" = the system journal
    std::string oneshot_path;       // non-empty: --oneshot FILE

    // Cardinality and windows
    std::size_t max_users = 10000;
    std::size_t top_k = 20;
    std::chrono::seconds window{600};
    std::size_t max_queue_ids = 65536;
    std::chrono::seconds queue_id_ttl{6 * 3600};
    std::size_t max_failure_ips = 10000;
    std::size_t max_ips_per_user = 4096;

    std::string log_level = "info";

    // Queue collector (showq): fields are added below this line by the queue side.
    std::string showq_path = "/var/spool/postfix/public/showq";  // "" disables the queue metrics
    std::chrono::milliseconds queue_refresh_interval{std::chrono::seconds(15)};
    std::chrono::milliseconds showq_timeout{std::chrono::seconds(60)};
    std::size_t queue_top_senders = 20;

    // New sources (source memory, issue #14): fields below this line belong to it.
    std::string state_path;  // "" = the source memory is not saved (lost at restart)
    std::chrono::milliseconds state_save_interval{std::chrono::minutes(5)};
    std::chrono::seconds sources_horizon{30 * 86400};
    std::chrono::seconds sources_learning_period{7 * 86400};
    std::chrono::seconds sources_new_for{86400};
    std::size_t max_networks_per_user = 32;
};

// The table of every flag, in --help order, bound to `options`.
flags::FlagSet flag_set(Options& options);

// Parses argv. `--help` yields an Error whose message is the usage text and sets
// `help_requested`. Unknown flags and bad values are errors naming the flag.
Result<Options> parse_options(int argc, const char* const* argv, bool* help_requested = nullptr);

std::string usage();

}  // namespace saslguard::exporter
