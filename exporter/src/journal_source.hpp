#pragma once
// The systemd journal as a log source, read with libsystemd's sd-journal (no
// journalctl child). Only entries whose _SYSTEMD_UNIT is one of Postfix's
// units are read: journald sets that field itself from the sender's cgroup, so
// a local user's `logger -t postfix/submission/smtpd` (which lands in the
// user's session scope) is never counted — the forged-line attack of issue
// #15 does not reach the exporter through this source. Each entry becomes the
// syslog-style line the parser reads ("2026-11-30T03:40:00.123456+00:00 host
// postfix/submission/smtpd[123]: message"), timestamped by journald.
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "line_splitter.hpp"

namespace saslguard::exporter {

struct JournalOptions {
    std::vector<std::string> units;  // _SYSTEMD_UNIT values to read, e.g. postfix@-.service
    std::string directory;           // "" = the local system journal; else journal files here
    bool from_start = false;         // read what is there first (tests, replays); else new only
};

// "postfix.service,postfix@-.service" → the two names (empty parts dropped).
std::vector<std::string> split_units(const std::string& units);

// The fields of one entry the line is made of.
struct JournalEntry {
    std::uint64_t realtime_us = 0;  // __REALTIME_TIMESTAMP, set by journald
    std::string hostname;           // _HOSTNAME (journald)
    std::string identifier;         // SYSLOG_IDENTIFIER (the program's syslog tag)
    std::string pid;                // _PID (journald); SYSLOG_PID when absent
    std::string message;            // MESSAGE
};

// The syslog-style line of an entry, or nullopt for an entry that is not a
// Postfix program's (no identifier starting with "postfix") or has no message.
// Newlines inside a message become spaces (one entry, one line).
std::optional<std::string> journal_line(const JournalEntry& entry);

// Reads the journal until `stop`, feeding lines to `out`. Returns an error text
// when the journal cannot be opened ("" after a clean stop); a journal that is
// rotated or vacuumed underneath is followed by sd-journal itself.
std::string follow_journal(const JournalOptions& options, LineConsumer& out,
                           const std::atomic<bool>& stop);

}  // namespace saslguard::exporter
