#pragma once
// One Postfix access(5) table that saslguard owns outright (check_sasl_access
// for logins, check_client_access for client IPs): the source file is rendered
// from saslguard's entries, written atomically, then compiled with postmap.
//
// Contract:
// - Every key and value is checked again at render time (no whitespace, control
//   or non-ASCII bytes, no leading '#' or '-'): a hostile name that slipped past
//   the caller's validation still cannot add a line or a second field.
// - update() holds the map's lock (mutex + flock on <path>.lock) across
//   read → modify → write → postmap, so the receiver and saslguardctl never lose
//   each other's entries. An update that changes nothing writes nothing and runs
//   no command (idempotent).
// - If postmap fails, the previous source file is restored and postmap run
//   again, and the error carries postmap's exit status and stderr.
// - Keys have one form (the map's KeyForm: a login lowercase, an address in
//   canonical text): entries read back, entries put and keys erased are all
//   brought to it, so a line an older version wrote as "Bob@EXAMPLE.org" is the
//   key "bob@example.org" and an unblock of either form lifts it.
// - Written as root with care: a symlinked map (or compiled .db/.lmdb/.cdb) and
//   a map directory group or others may write are refused before anything is
//   touched (files::check_safe_target); the new file is created exclusively and
//   keeps the old one's owner and mode, set on the descriptor.
// - After postmap the compiled file's mtime is made strictly newer than before:
//   smtpd notices a changed table by its mtime in whole seconds, so two changes
//   within one second would otherwise go unnoticed by a process that opened the
//   table in between (no `postfix reload` is needed for hash/btree/lmdb/cdb).
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "saslguard/common/result.hpp"
#include "saslguard/receiver/mitigation/command_runner.hpp"

namespace saslguard::receiver::mitigation {

using MapEntries = std::map<std::string, std::string>;  // key → action (e.g. "REJECT …")

// The one form of a map's keys: nullopt for a value that is not a key of this map.
using KeyForm = std::function<std::optional<std::string>(std::string_view)>;
// validate::canonical_login / validate::canonical_ip as KeyForms.
KeyForm login_keys();
KeyForm ip_keys();

// True when `s` may appear as a key or value token in a map source line.
bool safe_map_token(std::string_view s);
bool safe_map_value(std::string_view s);  // tokens separated by single spaces

// The file text for `entries` (a header comment, then "key value" lines, sorted).
Result<std::string> render_map(const MapEntries& entries);
// Parses a file render_map wrote (comments and blank lines skipped). A line
// saslguard would not have written is an error naming its line number, so a
// hand-edited map is never silently rewritten without that line.
Result<MapEntries> parse_map(std::string_view text, std::string_view path);

struct MapUpdate {
    std::vector<std::string> added;    // keys newly present (or with a new value)
    std::vector<std::string> removed;  // keys that were present and are gone
    bool changed() const { return !added.empty() || !removed.empty(); }
};

class AccessMap {
public:
    AccessMap(std::string path, std::string type, std::string config_dir,
              std::string postmap_binary, CommandRunner& runner, std::chrono::milliseconds timeout,
              KeyForm key_form);

    // The entries currently in the source file (empty when the file is missing).
    Result<MapEntries> read() const;
    // Sets `put` and erases `erase`, then postmaps if anything changed.
    Result<MapUpdate> update(const MapEntries& put, const std::vector<std::string>& erase);
    // What update() would change, without writing.
    Result<MapUpdate> preview(const MapEntries& put, const std::vector<std::string>& erase) const;

    const std::string& path() const { return m_path; }
    std::string table_name() const { return m_type + ":" + m_path; }  // as in main.cf

private:
    Result<void> postmap();
    std::string compiled_path() const;
    // The file's entries with every key in its one form.
    Result<MapEntries> canonical_entries(std::string_view text) const;
    Result<void> check_paths() const;

    std::string m_path;
    std::string m_type;
    std::string m_config_dir;
    std::string m_postmap;
    CommandRunner& m_runner;
    std::chrono::milliseconds m_timeout;
    KeyForm m_key_form;
    std::mutex m_mutex;
};

}  // namespace saslguard::receiver::mitigation
