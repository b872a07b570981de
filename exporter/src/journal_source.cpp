#include "journal_source.hpp"

#include <systemd/sd-journal.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "saslguard/common/log.hpp"

namespace saslguard::exporter {
namespace {

// The value of FIELD in the current entry ("" when absent).
std::string field(sd_journal* j, const char* name) {
    const void* data = nullptr;
    std::size_t len = 0;
    if (sd_journal_get_data(j, name, &data, &len) < 0) return "";
    std::string_view kv(static_cast<const char*>(data), len);
    auto eq = kv.find('=');
    return eq == std::string_view::npos ? std::string() : std::string(kv.substr(eq + 1));
}

struct Closer {
    sd_journal* j = nullptr;
    ~Closer() {
        if (j) sd_journal_close(j);
    }
};

}  // namespace

std::vector<std::string> split_units(const std::string& units) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= units.size()) {
        auto comma = units.find(',', start);
        auto unit =
            units.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!unit.empty()) out.push_back(unit);
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return out;
}

std::optional<std::string> journal_line(const JournalEntry& e) {
    if (e.identifier.rfind("postfix", 0) != 0 || e.message.empty()) return std::nullopt;
    std::time_t secs = static_cast<std::time_t>(e.realtime_us / 1000000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char stamp[96];  // room for any int the compiler imagines in tm
    std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%06u+00:00",
                  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<unsigned>(e.realtime_us % 1000000));
    std::string line = stamp;
    line += ' ';
    line += e.hostname.empty() ? "localhost" : e.hostname;
    line += ' ';
    line += e.identifier;
    if (!e.pid.empty()) line += "[" + e.pid + "]";
    line += ": ";
    for (char c : e.message) line += (c == '\n' || c == '\r') ? ' ' : c;
    return line;
}

std::string follow_journal(const JournalOptions& options, LineConsumer& out,
                           const std::atomic<bool>& stop) {
    Closer c;
    int r = options.directory.empty()
                ? sd_journal_open(&c.j, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM)
                : sd_journal_open_directory(&c.j, options.directory.c_str(), 0);
    if (r < 0)
        return "cannot open the journal" +
               (options.directory.empty() ? std::string() : " in " + options.directory) + ": " +
               std::strerror(-r);
    // _SYSTEMD_UNIT=a OR _SYSTEMD_UNIT=b: journald's own field, not the sender's.
    for (const auto& unit : options.units) {
        std::string match = "_SYSTEMD_UNIT=" + unit;
        if ((r = sd_journal_add_match(c.j, match.data(), match.size())) < 0)
            return "journal match " + match + ": " + std::strerror(-r);
    }
    if (options.from_start) {
        sd_journal_seek_head(c.j);
    } else {
        // After the last entry: position on it, so the next one read is new.
        sd_journal_seek_tail(c.j);
        sd_journal_previous(c.j);
    }
    log::info(
        "reading the journal",
        {{"units",
          [&] {
              std::string u;
              for (const auto& x : options.units) u += (u.empty() ? "" : ",") + x;
              return u;
          }()},
         {"directory", options.directory.empty() ? std::string("system") : options.directory}});
    while (!stop.load()) {
        r = sd_journal_next(c.j);
        if (r < 0) {
            log::warn("journal read failed; retrying", {{"error", std::strerror(-r)}});
            sd_journal_wait(c.j, 1000000);
            continue;
        }
        if (r == 0) {
            sd_journal_wait(c.j, 200000);  // µs: wake up now and then to see `stop`
            continue;
        }
        JournalEntry e;
        sd_journal_get_realtime_usec(c.j, &e.realtime_us);
        e.hostname = field(c.j, "_HOSTNAME");
        e.identifier = field(c.j, "SYSLOG_IDENTIFIER");
        e.pid = field(c.j, "_PID");
        if (e.pid.empty()) e.pid = field(c.j, "SYSLOG_PID");
        e.message = field(c.j, "MESSAGE");
        if (auto line = journal_line(e)) out.line(*line);
    }
    return "";
}

}  // namespace saslguard::exporter
