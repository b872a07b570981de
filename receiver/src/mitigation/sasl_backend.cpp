#include "saslguard/receiver/mitigation/sasl_backend.hpp"

#include <pwd.h>
#include <sys/stat.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include "saslguard/common/files.hpp"
#include "saslguard/common/validate.hpp"

namespace saslguard::receiver::mitigation {
namespace {

// System accounts (root, daemons) and nobody are never locked, whatever the login says.
constexpr uid_t kMinLockableUid = 1000;
constexpr uid_t kNobodyUid = 65534;

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::optional<std::string> from_hex(std::string_view hex) {
    if (hex.size() % 2) return std::nullopt;
    std::string out;
    out.reserve(hex.size() / 2);
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        int hi = hex_value(hex[i]), lo = hex_value(hex[i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out.push_back(static_cast<char>(hi * 16 + lo));
    }
    return out;
}

// Sasldb keys are "user\0realm\0property".
std::optional<SasldbRecord> make_record(std::string_view key_hex, std::string_view value_hex) {
    auto key = from_hex(key_hex);
    if (!key || !from_hex(value_hex)) return std::nullopt;
    auto a = key->find('\0');
    if (a == std::string::npos) return std::nullopt;
    auto b = key->find('\0', a + 1);
    if (b == std::string::npos) return std::nullopt;
    return SasldbRecord{std::string(key_hex), std::string(value_hex), key->substr(0, a),
                        key->substr(a + 1, b - a - 1), key->substr(b + 1)};
}

struct SplitLogin {
    std::string local;
    std::string realm;  // "" when the login has none
};
SplitLogin split_login(const std::string& login) {
    auto at = login.rfind('@');
    if (at == std::string::npos) return {login, ""};
    return {login.substr(0, at), login.substr(at + 1)};
}

std::string lower(std::string s) {
    for (auto& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
}

// A login in its one form (validate::canonical_login), or itself when invalid
// (the caller refuses it anyway).
std::string canonical(const std::string& login) {
    return validate::canonical_login(login).value_or(login);
}

ProcessOptions options_with(std::chrono::milliseconds timeout, std::string stdin_data = {}) {
    ProcessOptions o;
    o.timeout = timeout;
    o.stdin_data = std::move(stdin_data);
    return o;
}

// --- sasldb -----------------------------------------------------------------
//
// Locking removes the user's records from the live sasldb (saslpasswd2 -d) after
// copying them, byte for byte, to a root-only quarantine file in saslguard's
// state directory (settings.sasldb_quarantine(), mode 0600). Unlocking loads
// exactly those records back with db_load. No password is generated, reset or
// needs to be known. Logins match records case-insensitively (saslguard keeps
// logins lowercase); the commands name the user and realm as stored.
// A quarantine file an older version kept beside the sasldb
// (<sasldb>.saslguard-locked) is read too, and folded into the new one at the
// next change.
class SasldbBackend final : public SaslBackend {
public:
    SasldbBackend(const MitigationSettings& s, CommandRunner& runner)
        : m_db(s.sasldb_path),
          m_quarantine(s.sasldb_quarantine()),
          m_legacy_quarantine(s.sasldb_path + ".saslguard-locked"),
          m_saslpasswd2(s.program("saslpasswd2")),
          m_db_dump(s.program("db_dump")),
          m_db_load(s.program("db_load")),
          m_runner(runner),
          m_timeout(s.command_timeout) {}

    std::vector<std::string> accounts(const std::vector<std::string>& logins) override {
        std::vector<std::string> out;
        auto records = dump(m_db);
        for (const auto& login : logins) {
            std::string account = canonical(login);
            if (records && validate::sasl_username(login)) {
                auto [local, realm] = split_login(account);
                std::set<std::string> realms;
                for (const auto& r : select(*records, local, realm)) realms.insert(lower(r.realm));
                if (realms.size() == 1) account = lower(local) + "@" + *realms.begin();
            }
            out.push_back(std::move(account));
        }
        return out;
    }

    Result<BackendChange> lock(const std::string& username) override {
        auto target = resolve(username);
        if (!target) return target.error();
        auto& [live, local, realm] = *target;
        (void)realm;
        auto quarantined = read_quarantine();
        if (!quarantined) return quarantined.error();
        if (live.empty()) {
            if (!select(*quarantined, local, realm).empty())
                return BackendChange{"account " + username + " already locked in sasldb", false};
            return make_error("no account " + username + " in sasldb " + m_db);
        }
        std::vector<SasldbRecord> all = *quarantined;
        for (const auto& r : live) {
            all.erase(std::remove_if(all.begin(), all.end(),
                                     [&](const auto& q) { return q.key_hex == r.key_hex; }),
                      all.end());
            all.push_back(r);
        }
        if (auto w = write_quarantine(all); !w) return w.error();
        // The user and realm as the sasldb stores them (matched case-insensitively).
        std::set<std::pair<std::string, std::string>> accounts;
        for (const auto& r : live) {
            if (!validate::sasl_username(r.user) || !validate::domain(r.realm))
                return make_error("sasldb record of " + username +
                                  " has a name saslguard "
                                  "will not pass to saslpasswd2");
            accounts.emplace(r.user, r.realm);
        }
        for (const auto& [user, rlm] : accounts) {
            std::vector<std::string> argv{m_saslpasswd2, "-f", m_db, "-d", "-u", rlm, user};
            auto res = m_runner.run(argv, options_with(m_timeout));
            if (!res.success()) {
                (void)write_quarantine(*quarantined);  // nothing was locked: forget the copy
                return make_error(describe_failure(argv, res));
            }
        }
        return BackendChange{"locked " + username + " in sasldb (" + std::to_string(live.size()) +
                                 " record(s) moved to " + m_quarantine + ")",
                             true};
    }

    Result<BackendChange> unlock(const std::string& username) override {
        if (!validate::sasl_username(username)) return make_error("invalid SASL username");
        auto [local, realm] = split_login(canonical(username));
        auto quarantined = read_quarantine();
        if (!quarantined) return quarantined.error();
        auto mine = select(*quarantined, local, realm);
        if (mine.empty())
            return BackendChange{"account " + username + " is not locked in sasldb", false};
        auto live = dump(m_db);
        if (!live) return live.error();
        for (const auto& r : *live)
            for (const auto& q : mine)
                if (r.key_hex == q.key_hex)
                    return make_error("account " + username +
                                      " was re-created in sasldb while locked; "
                                      "delete it or remove its records from " +
                                      m_quarantine + " by hand");
        std::string input = "VERSION=3\nformat=bytevalue\ntype=hash\nHEADER=END\n";
        for (const auto& q : mine) input += " " + q.key_hex + "\n " + q.value_hex + "\n";
        input += "DATA=END\n";
        std::vector<std::string> argv{m_db_load, "-n", m_db};
        auto res = m_runner.run(argv, options_with(m_timeout, input));
        if (!res.success()) return make_error(describe_failure(argv, res));
        std::vector<SasldbRecord> rest;
        for (const auto& q : *quarantined)
            if (std::none_of(mine.begin(), mine.end(),
                             [&](const auto& m) { return m.key_hex == q.key_hex; }))
                rest.push_back(q);
        if (auto w = write_quarantine(rest); !w)
            return make_error("unlocked, but could not update " + m_quarantine + ": " +
                              w.error().message);
        return BackendChange{"unlocked " + username + " in sasldb (" + std::to_string(mine.size()) +
                                 " record(s) restored)",
                             true};
    }

    Result<std::string> describe(const std::string& username, bool lock) override {
        if (!validate::sasl_username(username)) return make_error("invalid SASL username");
        if (!lock)
            return "would restore " + username + " from " + m_quarantine + " into " + m_db +
                   " (db_load)";
        auto target = resolve(username);
        if (!target) return target.error();
        return "would move " + std::to_string(std::get<0>(*target).size()) +
               " sasldb record(s) of " + username + " to " + m_quarantine +
               " and delete them from " + m_db + " (saslpasswd2 -d)";
    }

private:
    // `local` and `realm` canonical (lowercase); records match whatever their case.
    static std::vector<SasldbRecord> select(const std::vector<SasldbRecord>& records,
                                            const std::string& local, const std::string& realm) {
        std::vector<SasldbRecord> out;
        for (const auto& r : records)
            if (lower(r.user) == local && (realm.empty() || lower(r.realm) == realm))
                out.push_back(r);
        return out;
    }

    // The live records of `username`. A login without a realm must match exactly one realm.
    Result<std::tuple<std::vector<SasldbRecord>, std::string, std::string>> resolve(
        const std::string& username) {
        if (!validate::sasl_username(username)) return make_error("invalid SASL username");
        auto [local, realm] = split_login(canonical(username));
        auto records = dump(m_db);
        if (!records) return records.error();
        auto live = select(*records, local, realm);
        std::set<std::string> realms;
        for (const auto& r : live) realms.insert(lower(r.realm));
        if (realms.size() > 1)
            return make_error("login " + username + " exists in " + std::to_string(realms.size()) +
                              " sasldb realms; name one as user@realm");
        return std::make_tuple(std::move(live), local, realm);
    }

    Result<std::vector<SasldbRecord>> dump(const std::string& db) {
        std::vector<std::string> argv{m_db_dump, db};
        ProcessOptions o = options_with(m_timeout);
        o.max_output = 256u << 20;
        auto res = m_runner.run(argv, o);
        if (!res.success()) return make_error(describe_failure(argv, res));
        if (res.output_truncated) return make_error("db_dump " + db + ": output too large");
        return parse_db_dump(res.out);
    }

    // The records in the quarantine file, and in an older version's beside the sasldb.
    Result<std::vector<SasldbRecord>> read_quarantine() {
        std::vector<SasldbRecord> out;
        for (const auto* path : {&m_quarantine, &m_legacy_quarantine}) {
            auto part = read_quarantine_file(*path);
            if (!part) return part.error();
            for (auto& r : *part)
                if (std::none_of(out.begin(), out.end(),
                                 [&](const auto& q) { return q.key_hex == r.key_hex; }))
                    out.push_back(std::move(r));
        }
        return out;
    }

    Result<std::vector<SasldbRecord>> read_quarantine_file(const std::string& path) {
        struct stat st {};
        if (::lstat(path.c_str(), &st) != 0) {
            if (errno == ENOENT) return std::vector<SasldbRecord>{};
            return make_error("stat " + path + ": failed");
        }
        if (!S_ISREG(st.st_mode)) return make_error(path + ": not a regular file");
        auto text = files::read_all(path);
        if (!text) return text.error();
        std::vector<SasldbRecord> out;
        std::string_view s = *text;
        while (!s.empty()) {
            auto nl = s.find('\n');
            std::string_view line = s.substr(0, nl);
            s = nl == std::string_view::npos ? std::string_view{} : s.substr(nl + 1);
            if (line.empty() || line.front() == '#') continue;
            auto sp = line.find(' ');
            auto rec = sp == std::string_view::npos
                           ? std::nullopt
                           : make_record(line.substr(0, sp), line.substr(sp + 1));
            if (!rec) return make_error(path + ": malformed line");
            out.push_back(std::move(*rec));
        }
        return out;
    }

    Result<void> write_quarantine(const std::vector<SasldbRecord>& records) {
        std::string text =
            "# sasldb records of accounts locked by saslguard (key value, hex). Secret: keep "
            "0600.\n";
        for (const auto& r : records) text += r.key_hex + " " + r.value_hex + "\n";
        if (auto w = files::write_atomic(m_quarantine, text, 0600); !w) return w;
        // Everything the old file held is in the new one now.
        if (::unlink(m_legacy_quarantine.c_str()) != 0 && errno != ENOENT)
            return make_error("remove " + m_legacy_quarantine + ": " + std::strerror(errno));
        return {};
    }

    std::string m_db;
    std::string m_quarantine;
    std::string m_legacy_quarantine;
    std::string m_saslpasswd2, m_db_dump, m_db_load;
    CommandRunner& m_runner;
    std::chrono::milliseconds m_timeout;
};

// --- saslauthd with shadow/PAM ------------------------------------------------
//
// saslauthd -a shadow (or pam with pam_unix) checks the Unix account's password:
// usermod -L puts '!' in front of the hash (authentication fails) and usermod -U
// takes it away again; the hash itself is never changed.
class ShadowBackend final : public SaslBackend {
public:
    ShadowBackend(const MitigationSettings& s, CommandRunner& runner)
        : m_usermod(s.program("usermod")),
          m_passwd(s.program("passwd")),
          m_runner(runner),
          m_timeout(s.command_timeout) {}

    // saslauthd drops the realm: every login with this local part is the Unix user.
    std::vector<std::string> accounts(const std::vector<std::string>& logins) override {
        std::vector<std::string> out;
        for (const auto& login : logins) {
            std::string local = split_login(canonical(login)).local;
            out.push_back(validate::unix_user(local) ? local : canonical(login));
        }
        return out;
    }

    Result<BackendChange> lock(const std::string& username) override {
        return change(username, true);
    }
    Result<BackendChange> unlock(const std::string& username) override {
        return change(username, false);
    }
    Result<std::string> describe(const std::string& username, bool lock) override {
        auto user = unix_account(username);
        if (!user) return user.error();
        return std::string(lock ? "would lock" : "would unlock") + " Unix account " + *user +
               " (usermod " + (lock ? "-L" : "-U") + ")";
    }

private:
    // saslauthd without -r strips the realm: alice@example.com authenticates as Unix user alice.
    static Result<std::string> unix_account(const std::string& username) {
        if (!validate::sasl_username(username)) return make_error("invalid SASL username");
        std::string user = split_login(canonical(username)).local;
        if (!validate::unix_user(user)) return make_error("login is not a valid Unix account name");
        passwd pw{};
        passwd* found = nullptr;
        char buf[4096];
        if (::getpwnam_r(user.c_str(), &pw, buf, sizeof buf, &found) != 0 || !found)
            return make_error("no Unix account " + user);
        if (found->pw_uid < kMinLockableUid || found->pw_uid == kNobodyUid)
            return make_error("refusing to lock system account " + user + " (uid " +
                              std::to_string(found->pw_uid) + ")");
        return user;
    }

    Result<bool> is_locked(const std::string& user) {
        std::vector<std::string> argv{m_passwd, "-S", user};
        auto res = m_runner.run(argv, options_with(m_timeout));
        if (!res.success()) return make_error(describe_failure(argv, res));
        // "alice L 2026-11-23 0 99999 7 -1": the second field is L (locked), P or NP.
        auto sp = res.out.find(' ');
        if (sp == std::string::npos) return make_error("passwd -S " + user + ": unexpected output");
        return res.out.compare(sp + 1, 2, "L ") == 0;
    }

    Result<BackendChange> change(const std::string& username, bool lock) {
        auto user = unix_account(username);
        if (!user) return user.error();
        auto locked = is_locked(*user);
        if (!locked) return locked.error();
        if (*locked == lock)
            return BackendChange{
                "Unix account " + *user + (lock ? " already locked" : " is not locked"), false};
        std::vector<std::string> argv{m_usermod, lock ? "-L" : "-U", *user};
        auto res = m_runner.run(argv, options_with(m_timeout));
        if (!res.success()) return make_error(describe_failure(argv, res));
        return BackendChange{std::string(lock ? "locked" : "unlocked") + " Unix account " + *user,
                             true};
    }

    std::string m_usermod, m_passwd;
    CommandRunner& m_runner;
    std::chrono::milliseconds m_timeout;
};

// --- configured commands (LDAP, SQL, …) ---------------------------------------
class CommandBackend final : public SaslBackend {
public:
    CommandBackend(std::vector<std::string> lock, std::vector<std::string> unlock,
                   CommandRunner& runner, std::chrono::milliseconds timeout)
        : m_lock(std::move(lock)),
          m_unlock(std::move(unlock)),
          m_runner(runner),
          m_timeout(timeout) {}

    Result<BackendChange> lock(const std::string& username) override {
        return run(m_lock, username, "locked");
    }
    Result<BackendChange> unlock(const std::string& username) override {
        return run(m_unlock, username, "unlocked");
    }
    Result<std::string> describe(const std::string& username, bool lock) override {
        auto argv = expand_user_template(lock ? m_lock : m_unlock, username);
        if (!argv) return argv.error();
        return "would run " + (*argv)[0] + " for " + username;
    }

private:
    Result<BackendChange> run(const std::vector<std::string>& tmpl, const std::string& username,
                              const char* verb) {
        auto argv = expand_user_template(tmpl, username);
        if (!argv) return argv.error();
        auto res = m_runner.run(*argv, options_with(m_timeout));
        if (!res.success()) return make_error(describe_failure(*argv, res));
        return BackendChange{std::string(verb) + " " + username + " with " + (*argv)[0], true};
    }

    std::vector<std::string> m_lock, m_unlock;
    CommandRunner& m_runner;
    std::chrono::milliseconds m_timeout;
};

}  // namespace

std::vector<std::string> SaslBackend::accounts(const std::vector<std::string>& logins) {
    std::vector<std::string> out;
    for (const auto& l : logins) out.push_back(canonical(l));
    return out;
}

std::vector<SasldbRecord> parse_db_dump(std::string_view text) {
    std::vector<SasldbRecord> out;
    bool in_data = false;
    std::string pending_key;
    bool have_key = false;
    while (!text.empty()) {
        auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        if (!in_data) {
            in_data = line == "HEADER=END";
            continue;
        }
        if (line == "DATA=END") break;
        if (line.empty() || line.front() != ' ') continue;
        line.remove_prefix(1);
        if (!have_key) {
            pending_key = std::string(line);
            have_key = true;
        } else {
            if (auto r = make_record(pending_key, line)) out.push_back(std::move(*r));
            have_key = false;
        }
    }
    return out;
}

Result<std::vector<std::string>> expand_user_template(const std::vector<std::string>& tmpl,
                                                      const std::string& user) {
    if (!validate::sasl_username(user)) return make_error("invalid SASL username");
    if (auto r = check_user_template(tmpl); !r) return r.error();
    std::vector<std::string> argv;
    for (const auto& a : tmpl) argv.push_back(a == "{user}" ? user : a);
    return argv;
}

Result<std::unique_ptr<SaslBackend>> make_sasl_backend(const MitigationSettings& s,
                                                       CommandRunner& runner) {
    switch (s.sasl_backend) {
        case SaslBackendKind::None:
            return std::unique_ptr<SaslBackend>{};
        case SaslBackendKind::Sasldb:
            return std::unique_ptr<SaslBackend>(new SasldbBackend(s, runner));
        case SaslBackendKind::SaslauthdShadow:
            return std::unique_ptr<SaslBackend>(new ShadowBackend(s, runner));
        case SaslBackendKind::Command:  // templates checked by validate(settings)
            return std::unique_ptr<SaslBackend>(
                new CommandBackend(s.lock_command, s.unlock_command, runner, s.command_timeout));
    }
    return make_error("unknown sasl_backend");
}

}  // namespace saslguard::receiver::mitigation
