#pragma once
// Log sources that are byte streams rather than files: stdin and the systemd
// journal (journalctl as a child process).
#include <atomic>
#include <string>
#include <vector>

#include "line_splitter.hpp"

namespace saslguard::exporter {

// Reads fd to EOF (or until `stop`), feeding lines to `out`; the unterminated
// last line is delivered at EOF. Returns false on a read error.
bool read_stream(int fd, LineConsumer& out, const std::atomic<bool>& stop);

// The argv of the journal reader: new entries of the given units (comma-separated)
// in short-iso-precise format (RFC 3339 timestamps with microseconds).
std::vector<std::string> journalctl_argv(const std::string& units);

// Runs journalctl (journalctl_argv) and feeds its output to `out` until `stop`;
// restarts it (after a 1 s pause) whenever it exits, so a journald restart does
// not stop the exporter. The child is killed on stop.
void follow_journal(const std::string& units, LineConsumer& out, const std::atomic<bool>& stop);

}  // namespace saslguard::exporter
