#include "saslguard/receiver/mitigation/queue.hpp"

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

#include "saslguard/common/validate.hpp"
#include "saslguard/postfix/showq.hpp"

namespace saslguard::receiver::mitigation {
namespace {

constexpr std::size_t kPostcatBatch = 200;  // queue ids per postcat argv

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    return out;
}

bool known_queue(std::string_view q) {
    return q == "maildrop" || q == "incoming" || q == "active" || q == "deferred" || q == "hold" ||
           q == "corrupt";
}

bool in_scope(const QueueEntry& e, PostfixQueue::Scope scope) {
    switch (scope) {
        case PostfixQueue::Scope::NotHeld:
            return e.queue_name != "hold";
        case PostfixQueue::Scope::Held:
            return e.queue_name == "hold";
        case PostfixQueue::Scope::Any:
            return true;
    }
    return false;
}

}  // namespace

std::vector<QueueEntry> parse_postqueue_json(std::string_view text) {
    std::vector<QueueEntry> out;
    while (!text.empty()) {
        auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        if (line.empty()) continue;
        auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
        if (!j.is_object()) continue;
        auto str = [&](const char* k) {
            auto it = j.find(k);
            return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
        };
        QueueEntry e{str("queue_name"), str("queue_id"), str("sender"), 0};
        if (auto t = j.find("arrival_time"); t != j.end() && t->is_number_integer())
            e.arrival_time = t->get<std::int64_t>();
        if (!known_queue(e.queue_name) || !validate::queue_id(e.queue_id)) continue;
        out.push_back(std::move(e));
    }
    return out;
}

std::map<std::string, std::string> parse_postcat_sasl_logins(std::string_view text) {
    constexpr std::string_view kRecords = "*** ENVELOPE RECORDS ";
    constexpr std::string_view kLogin = "named_attribute: sasl_username=";
    std::map<std::string, std::string> out;
    std::string current;
    while (!text.empty()) {
        auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        if (line.rfind("*** ", 0) == 0) {
            current.clear();
            if (line.rfind(kRecords, 0) == 0) {
                // "*** ENVELOPE RECORDS deferred/5/52EA8A722C4 ***"
                std::string_view rest = line.substr(kRecords.size());
                auto sp = rest.find(' ');
                rest = rest.substr(0, sp);
                auto slash = rest.rfind('/');
                std::string_view id =
                    slash == std::string_view::npos ? rest : rest.substr(slash + 1);
                if (validate::queue_id(id)) current = std::string(id);
            }
            continue;
        }
        if (!current.empty() && line.rfind(kLogin, 0) == 0)
            out[current] = std::string(line.substr(kLogin.size()));
    }
    return out;
}

std::vector<PostcatMessage> parse_postcat_messages(std::string_view text) {
    constexpr std::string_view kAttr = "named_attribute: ";
    std::vector<PostcatMessage> out;
    enum class Part { None, Envelope, Contents } part = Part::None;
    bool in_subject = false;
    auto id_of = [](std::string_view rest) {
        // "deferred/5/52EA8A722C4 ***"
        rest = rest.substr(0, rest.find(' '));
        auto slash = rest.rfind('/');
        return slash == std::string_view::npos ? rest : rest.substr(slash + 1);
    };
    while (!text.empty()) {
        auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        if (line.rfind("*** ", 0) == 0) {
            in_subject = false;
            std::string_view rest = line.substr(4);
            if (rest.rfind("ENVELOPE RECORDS ", 0) == 0) {
                std::string_view id = id_of(rest.substr(17));
                part = validate::queue_id(id) ? Part::Envelope : Part::None;
                if (part == Part::Envelope) out.push_back({std::string(id), {}, {}, {}, {}});
            } else if (rest.rfind("MESSAGE CONTENTS ", 0) == 0 && part != Part::None) {
                part = Part::Contents;
            } else {
                part = Part::None;  // HEADER EXTRACTED, MESSAGE FILE END
            }
            continue;
        }
        if (part == Part::Envelope) {
            PostcatMessage& m = out.back();
            if (line.rfind(kAttr, 0) == 0) {
                std::string_view kv = line.substr(kAttr.size());
                if (kv.rfind("sasl_username=", 0) == 0) m.sasl_login = kv.substr(14);
                if (kv.rfind("client_address=", 0) == 0) m.client_address = kv.substr(15);
            } else if (line.rfind("recipient: ", 0) == 0) {
                m.recipients.emplace_back(line.substr(11));
            }
        } else if (part == Part::Contents) {
            PostcatMessage& m = out.back();
            if (in_subject && !line.empty() && (line.front() == ' ' || line.front() == '\t')) {
                m.subject += ' ';
                auto first = line.find_first_not_of(" \t");
                m.subject += line.substr(first == std::string_view::npos ? line.size() : first);
                continue;
            }
            in_subject = false;
            if (line.size() >= 8 && m.subject.empty() && lower(line.substr(0, 8)) == "subject:") {
                std::string_view v = line.substr(8);
                while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
                m.subject = std::string(v);
                in_subject = true;
            }
        }
    }
    return out;
}

QueueSample summarize_queue_sample(const std::vector<PostcatMessage>& messages) {
    QueueSample s;
    s.messages = messages.size();
    std::set<std::string> domains;
    std::vector<std::pair<std::string, std::size_t>> clients, subjects;
    auto bump = [](std::vector<std::pair<std::string, std::size_t>>& v, const std::string& key) {
        for (auto& [k, n] : v)
            if (k == key) {
                ++n;
                return;
            }
        v.emplace_back(key, 1);
    };
    for (const auto& m : messages) {
        for (const auto& r : m.recipients) {
            auto at = r.rfind('@');
            if (at != std::string::npos && at + 1 < r.size())
                domains.insert(lower(r.substr(at + 1)));
        }
        if (!m.client_address.empty()) bump(clients, m.client_address);
        if (!m.subject.empty()) bump(subjects, m.subject);
    }
    s.recipient_domains = domains.size();
    auto by_count = [](const auto& a, const auto& b) { return a.second > b.second; };
    std::stable_sort(clients.begin(), clients.end(), by_count);
    std::stable_sort(subjects.begin(), subjects.end(), by_count);
    for (const auto& [ip, n] : clients) s.client_addresses.push_back({ip, static_cast<double>(n)});
    for (std::size_t i = 0; i < subjects.size() && i < 5; ++i)
        s.subjects.push_back(subjects[i].first);
    return s;
}

Result<std::vector<QueueEntry>> ShowqSource::list() {
    std::vector<QueueEntry> out;
    postfix::ShowqOptions opt;
    opt.keep_recipients = false;
    auto n = postfix::read_showq(
        m_socket,
        [&](const postfix::QueuedMessage& m) {
            if (validate::queue_id(m.queue_id))
                out.push_back({m.queue_name, m.queue_id, m.sender,
                               static_cast<std::int64_t>(m.arrival_time)});
        },
        m_timeout, opt);
    if (!n) return make_error("showq " + m_socket + ": " + n.error().message);
    return out;
}

Result<std::vector<QueueEntry>> PostqueueSource::list() {
    std::vector<std::string> argv{m_postqueue, "-c", m_config_dir, "-j"};
    ProcessOptions opt;
    opt.timeout = m_timeout;
    opt.max_output = 256u << 20;  // a large queue is ~300 bytes per message
    auto r = m_runner.run(argv, opt);
    if (!r.success()) return make_error(describe_failure(argv, r));
    if (r.output_truncated) return make_error("postqueue -j output too large");
    return parse_postqueue_json(r.out);
}

Result<void> PostfixQueue::postcat(const std::vector<std::string>& ids, bool headers,
                                   const std::function<void(std::string_view)>& on_output) {
    auto run_batch = [&](std::vector<std::string>::const_iterator from,
                         std::vector<std::string>::const_iterator to) -> ProcessResult {
        std::vector<std::string> argv{m_postcat, "-c", m_config_dir, "-e"};
        if (headers) argv.emplace_back("-h");
        argv.emplace_back("-q");
        argv.insert(argv.end(), from, to);
        ProcessOptions opt;
        opt.timeout = m_timeout;
        opt.max_output = 64u << 20;
        return m_runner.run(argv, opt);
    };
    for (std::size_t i = 0; i < ids.size(); i += kPostcatBatch) {
        auto from = ids.begin() + static_cast<std::ptrdiff_t>(i);
        auto to =
            ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), i + kPostcatBatch));
        auto r = run_batch(from, to);
        if (!r.started || r.timed_out) return make_error("postcat: " + r.describe());
        if (!r.success()) {
            // A message left the queue between listing and reading (postcat stops
            // at the first missing file): read this batch one id at a time.
            for (auto it = from; it != to; ++it) {
                auto one = run_batch(it, it + 1);
                if (one.success()) on_output(one.out);
            }
            continue;
        }
        on_output(r.out);
    }
    return {};
}

Result<std::map<std::string, std::string>> PostfixQueue::sasl_logins(
    const std::vector<std::string>& ids) {
    std::map<std::string, std::string> out;
    auto r = postcat(ids, false, [&](std::string_view text) {
        for (auto& [id, login] : parse_postcat_sasl_logins(text)) out[id] = login;
    });
    if (!r) return r.error();
    return out;
}

Result<std::vector<std::string>> PostfixQueue::find(const Match& match, Scope scope) {
    auto entries = m_source.list();
    if (!entries) return entries.error();
    std::vector<std::string> senders;
    for (const auto& s : match.senders) senders.push_back(lower(s));

    std::vector<std::string> candidates;
    std::map<std::string, std::string> sender_of;
    for (const auto& e : *entries) {
        if (!in_scope(e, scope) || !validate::queue_id(e.queue_id)) continue;
        candidates.push_back(e.queue_id);
        sender_of[e.queue_id] = lower(e.sender);
    }
    if (candidates.empty() || (match.sasl_login.empty() && senders.empty()))
        return std::vector<std::string>{};
    auto logins = sasl_logins(candidates);
    if (!logins) return logins.error();
    std::vector<std::string> ids;
    for (const auto& id : candidates) {
        auto it = logins->find(id);
        if (it != logins->end()) {
            // The recorded login decides, whatever the envelope sender says.
            if (!match.sasl_login.empty() && lower(it->second) == match.sasl_login)
                ids.push_back(id);
        } else if (std::find(senders.begin(), senders.end(), sender_of[id]) != senders.end()) {
            ids.push_back(id);  // no login recorded: a named sender's (sendmail, mynetworks)
        }
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    return ids;
}

Result<std::vector<QueueEntry>> PostfixQueue::reading_order(const std::string& login,
                                                            std::size_t max_read) {
    auto entries = m_source.list();
    if (!entries) return entries.error();
    const std::string address = login.find('@') != std::string::npos ? login : std::string();
    std::vector<QueueEntry> order;
    for (auto& e : *entries)
        if (validate::queue_id(e.queue_id)) order.push_back(std::move(e));
    // The login's own address as sender first (likeliest), then the newest.
    std::stable_sort(order.begin(), order.end(), [&](const QueueEntry& a, const QueueEntry& b) {
        const bool am = !address.empty() && lower(a.sender) == address;
        const bool bm = !address.empty() && lower(b.sender) == address;
        if (am != bm) return am;
        return a.arrival_time > b.arrival_time;
    });
    if (order.size() > max_read) order.resize(max_read);
    return order;
}

Result<std::size_t> PostfixQueue::count_by_login(const std::string& login, std::size_t enough,
                                                 std::size_t max_read) {
    auto order = reading_order(login, max_read);
    if (!order) return order.error();
    std::size_t found = 0;
    for (std::size_t i = 0; i < order->size() && found < enough; i += kPostcatBatch) {
        std::vector<std::string> batch;
        for (std::size_t j = i; j < order->size() && j < i + kPostcatBatch; ++j)
            batch.push_back((*order)[j].queue_id);
        auto logins = sasl_logins(batch);
        if (!logins) return logins.error();
        for (const auto& [id, l] : *logins)
            if (lower(l) == login) ++found;
    }
    return std::min(found, enough);
}

Result<std::vector<PostcatMessage>> PostfixQueue::messages_of_login(const std::string& login,
                                                                    std::size_t max_messages,
                                                                    bool headers,
                                                                    std::size_t max_read) {
    auto order = reading_order(login, max_read);
    if (!order) return order.error();
    std::vector<PostcatMessage> out;
    // Small batches: the sample is usually found in the first one.
    constexpr std::size_t kBatch = 50;
    for (std::size_t i = 0; i < order->size() && out.size() < max_messages; i += kBatch) {
        std::vector<std::string> batch;
        for (std::size_t j = i; j < order->size() && j < i + kBatch; ++j)
            batch.push_back((*order)[j].queue_id);
        auto r = postcat(batch, headers, [&](std::string_view text) {
            for (auto& m : parse_postcat_messages(text))
                if (out.size() < max_messages && lower(m.sasl_login) == login)
                    out.push_back(std::move(m));
        });
        if (!r) return r.error();
    }
    return out;
}

Result<void> PostfixQueue::apply(Op op, const std::vector<std::string>& queue_ids) {
    if (queue_ids.empty()) return {};
    std::string input;
    for (const auto& id : queue_ids) {
        // "ALL" or "-" here would make postsuper act on the whole queue.
        if (!validate::queue_id(id) || id == "ALL") return make_error("refusing invalid queue id");
        input += id;
        input += '\n';
    }
    const char* flag = op == Op::Hold ? "-h" : op == Op::Release ? "-H" : "-d";
    std::vector<std::string> argv{m_postsuper, "-c", m_config_dir, flag, "-"};
    ProcessOptions opt;
    opt.timeout = m_timeout;
    opt.stdin_data = std::move(input);
    auto r = m_runner.run(argv, opt);
    if (!r.success()) return make_error(describe_failure(argv, r));
    return {};
}

}  // namespace saslguard::receiver::mitigation
