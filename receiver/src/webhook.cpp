#include "saslguard/receiver/webhook.hpp"

#include <nlohmann/json.hpp>

#include <cctype>

namespace saslguard::receiver {
namespace {

using nlohmann::json;

// Walks the document, stopping at the first problem with the field's path.
class Reader {
public:
    bool failed() const { return !m_error.empty(); }
    const std::string& error() const { return m_error; }

    void fail(const std::string& path, const std::string& what) {
        if (m_error.empty()) m_error = path + ": " + what;
    }

    const json* field(const json& obj, const std::string& path, const char* key) {
        auto it = obj.find(key);
        if (it == obj.end()) {
            fail(join(path, key), "missing");
            return nullptr;
        }
        return &*it;
    }

    std::string string(const json& obj, const std::string& path, const char* key) {
        const json* v = field(obj, path, key);
        if (!v) return {};
        if (!v->is_string()) {
            fail(join(path, key), std::string("expected a string, got ") + v->type_name());
            return {};
        }
        return v->get<std::string>();
    }

    std::map<std::string, std::string> kv(const json& obj, const std::string& path,
                                          const char* key) {
        std::map<std::string, std::string> out;
        const json* v = field(obj, path, key);
        if (!v) return out;
        const std::string here = join(path, key);
        if (!v->is_object()) {
            fail(here, std::string("expected an object, got ") + v->type_name());
            return out;
        }
        for (const auto& [k, val] : v->items()) {
            if (!val.is_string()) {
                fail(here + "." + k, std::string("expected a string, got ") + val.type_name());
                return out;
            }
            out.emplace(k, val.get<std::string>());
        }
        return out;
    }

    std::string status(const json& obj, const std::string& path) {
        std::string s = string(obj, path, "status");
        if (!failed() && s != "firing" && s != "resolved")
            fail(join(path, "status"), "expected firing or resolved, got '" + clip(s) + "'");
        return s;
    }

    std::string time(const json& obj, const std::string& path, const char* key) {
        std::string s = string(obj, path, key);
        if (!failed() && !is_rfc3339(s))
            fail(join(path, key), "expected an RFC 3339 time, got '" + clip(s) + "'");
        return s;
    }

    static std::string join(const std::string& path, const char* key) {
        return path.empty() ? std::string(key) : path + "." + key;
    }
    // Reasons echo input; keep them short and printable.
    static std::string clip(const std::string& s) {
        std::string out;
        for (char c : s.substr(0, 40)) out += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
        return s.size() > 40 ? out + "..." : out;
    }

private:
    std::string m_error;
};

bool is_hex_fingerprint(const std::string& s) {
    if (s.empty() || s.size() > 64) return false;
    for (char c : s)
        if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
    return true;
}

}  // namespace

bool is_rfc3339(std::string_view s) {
    auto digits = [&](std::size_t pos, std::size_t n) {
        if (pos + n > s.size()) return false;
        for (std::size_t i = pos; i < pos + n; ++i)
            if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
        return true;
    };
    auto at = [&](std::size_t pos, char c) { return pos < s.size() && s[pos] == c; };
    if (!(digits(0, 4) && at(4, '-') && digits(5, 2) && at(7, '-') && digits(8, 2) &&
          (at(10, 'T') || at(10, 't')) && digits(11, 2) && at(13, ':') && digits(14, 2) &&
          at(16, ':') && digits(17, 2)))
        return false;
    std::size_t i = 19;
    if (at(i, '.')) {
        std::size_t start = ++i;
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
        if (i == start || i - start > 9) return false;
    }
    if (at(i, 'Z') || at(i, 'z')) return i + 1 == s.size();
    if (at(i, '+') || at(i, '-'))
        return digits(i + 1, 2) && at(i + 3, ':') && digits(i + 4, 2) && i + 6 == s.size();
    return false;
}

Result<WebhookPayload> parse_webhook(std::string_view body) {
    json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) {
        // Parse again with exceptions only to get the position for the reason.
        try {
            json again = json::parse(body);
            (void)again;
        } catch (const json::parse_error& e) {
            return make_error("invalid JSON at byte " + std::to_string(e.byte));
        } catch (const json::out_of_range&) {
            // A number too large for a double is out_of_range.406, not a
            // parse_error (found by tests/fuzz/webhook_fuzz.cpp): uncaught, it
            // left the handler and the body was answered 500 (retried) not 400.
            return make_error("invalid JSON: a number out of range");
        } catch (const json::exception&) {
            return make_error("invalid JSON");
        }
        return make_error("invalid JSON");
    }
    if (!doc.is_object())
        return make_error(std::string("expected a JSON object, got ") + doc.type_name());

    Reader r;
    WebhookPayload p;
    p.version = r.string(doc, "", "version");
    if (!r.failed() && p.version != "4")
        r.fail("version",
               "unsupported webhook version '" + Reader::clip(p.version) + "' (want \"4\")");
    p.group_key = r.string(doc, "", "groupKey");
    if (const json* t = r.failed() ? nullptr : r.field(doc, "", "truncatedAlerts")) {
        if (t->is_number_unsigned())
            p.truncated_alerts = t->get<std::uint64_t>();
        else
            r.fail("truncatedAlerts",
                   std::string("expected a non-negative integer, got ") + t->type_name());
    }
    p.status = r.status(doc, "");
    p.receiver = r.string(doc, "", "receiver");
    p.group_labels = r.kv(doc, "", "groupLabels");
    p.common_labels = r.kv(doc, "", "commonLabels");
    p.common_annotations = r.kv(doc, "", "commonAnnotations");
    p.external_url = r.string(doc, "", "externalURL");
    const json* alerts = r.failed() ? nullptr : r.field(doc, "", "alerts");
    if (alerts && !alerts->is_array())
        r.fail("alerts", std::string("expected an array, got ") + alerts->type_name());
    if (alerts && alerts->is_array() && alerts->empty()) r.fail("alerts", "must not be empty");
    if (alerts && !r.failed()) {
        p.alerts.reserve(alerts->size());
        std::size_t i = 0;
        for (const auto& a : *alerts) {
            const std::string path = "alerts[" + std::to_string(i++) + "]";
            if (!a.is_object()) {
                r.fail(path, std::string("expected an object, got ") + a.type_name());
                break;
            }
            Alert alert;
            alert.status = r.status(a, path);
            alert.labels = r.kv(a, path, "labels");
            alert.annotations = r.kv(a, path, "annotations");
            alert.starts_at = r.time(a, path, "startsAt");
            alert.ends_at = r.time(a, path, "endsAt");
            alert.generator_url = r.string(a, path, "generatorURL");
            alert.fingerprint = r.string(a, path, "fingerprint");
            if (!r.failed() && !is_hex_fingerprint(alert.fingerprint))
                r.fail(path + ".fingerprint",
                       "expected 1..64 hex digits, got '" + Reader::clip(alert.fingerprint) + "'");
            if (r.failed()) break;
            p.alerts.push_back(std::move(alert));
        }
    }
    if (r.failed()) return make_error(r.error());
    return p;
}

}  // namespace saslguard::receiver
