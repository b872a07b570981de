#pragma once
// A log source that is a byte stream rather than a file: stdin. (The journal
// is read with sd-journal: journal_source.hpp.)
#include <atomic>
#include <string>
#include <vector>

#include "line_splitter.hpp"

namespace saslguard::exporter {

// Reads fd to EOF (or until `stop`), feeding lines to `out`; the unterminated
// last line is delivered at EOF. Returns false on a read error.
bool read_stream(int fd, LineConsumer& out, const std::atomic<bool>& stop);

}  // namespace saslguard::exporter
