#include "saslguard/receiver/smtp_policy/block_view.hpp"

#include <utility>

#include "saslguard/common/validate.hpp"
#include "string_hash.hpp"

namespace saslguard::receiver::smtp_policy {

using Set = detail::StringSet;

void canonical_login(std::string_view login, std::string& out) {
    out.assign(login.data(), login.size());
    for (auto& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
}

std::string canonical_login(std::string_view login) {
    std::string out;
    canonical_login(login, out);
    return out;
}

struct BlockSet::Snapshot {
    Set logins;
    Set ips;
};

BlockSet::BlockSet() : m_snapshot(std::make_shared<const Snapshot>()) {}
BlockSet::~BlockSet() = default;

std::shared_ptr<const BlockSet::Snapshot> BlockSet::current() const {
    std::lock_guard lock(m_read);
    return m_snapshot;
}

void BlockSet::publish(std::shared_ptr<const Snapshot> next) {
    std::shared_ptr<const Snapshot> old;
    {
        std::lock_guard lock(m_read);
        old = std::exchange(m_snapshot, std::move(next));
    }
    // `old` is freed here, outside the readers' lock.
}

bool BlockSet::login_blocked(std::string_view login) const {
    const auto snap = current();
    return snap->logins.find(login) != snap->logins.end();
}

bool BlockSet::client_blocked(std::string_view ip) const {
    const auto snap = current();
    return snap->ips.find(ip) != snap->ips.end();
}

template <class F>
bool BlockSet::update(F&& change) {
    std::lock_guard lock(m_write);
    auto next = std::make_shared<Snapshot>(*current());
    if (!change(*next)) return false;
    publish(std::move(next));
    return true;
}

bool BlockSet::block_login(std::string_view login) {
    if (login.empty()) return false;
    return update(
        [key = canonical_login(login)](Snapshot& s) { return s.logins.insert(key).second; });
}

bool BlockSet::unblock_login(std::string_view login) {
    return update([key = canonical_login(login)](Snapshot& s) { return s.logins.erase(key) > 0; });
}

bool BlockSet::block_client(std::string_view ip) {
    auto key = validate::canonical_ip(ip);
    if (!key) return false;
    return update([&](Snapshot& s) { return s.ips.insert(*key).second; });
}

bool BlockSet::unblock_client(std::string_view ip) {
    auto key = validate::canonical_ip(ip);
    if (!key) return false;
    return update([&](Snapshot& s) { return s.ips.erase(*key) > 0; });
}

std::size_t BlockSet::replace(const std::vector<std::string>& logins,
                              const std::vector<std::string>& ips) {
    auto next = std::make_shared<Snapshot>();
    std::size_t invalid = 0;
    for (const auto& l : logins)
        if (!l.empty()) next->logins.insert(canonical_login(l));
    for (const auto& ip : ips) {
        if (auto key = validate::canonical_ip(ip))
            next->ips.insert(std::move(*key));
        else
            ++invalid;
    }
    std::lock_guard lock(m_write);
    publish(std::move(next));
    return invalid;
}

std::size_t BlockSet::login_count() const {
    return current()->logins.size();
}

std::size_t BlockSet::client_count() const {
    return current()->ips.size();
}

}  // namespace saslguard::receiver::smtp_policy
