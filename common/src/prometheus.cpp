#include "saslguard/common/prometheus.hpp"

#include <nlohmann/json.hpp>

#include <charconv>
#include <cmath>

namespace saslguard::prom {
namespace {

bool is_name_char(char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && c >= '0' && c <= '9');
}

// One line: name{label="value",…} value [timestamp]
std::optional<Sample> parse_sample(std::string_view line) {
    Sample s;
    std::size_t i = 0;
    while (i < line.size() && is_name_char(line[i], i == 0)) ++i;
    if (i == 0) return std::nullopt;
    s.name = std::string(line.substr(0, i));
    if (i < line.size() && line[i] == '{') {
        ++i;
        for (;;) {
            while (i < line.size() && (line[i] == ' ' || line[i] == ',')) ++i;
            if (i < line.size() && line[i] == '}') {
                ++i;
                break;
            }
            std::size_t start = i;
            while (i < line.size() && is_name_char(line[i], i == start)) ++i;
            if (i == start || i + 1 >= line.size() || line[i] != '=' || line[i + 1] != '"')
                return std::nullopt;
            std::string key(line.substr(start, i - start));
            i += 2;
            std::string value;
            for (;;) {
                if (i >= line.size()) return std::nullopt;
                char c = line[i++];
                if (c == '"') break;
                if (c == '\\') {
                    if (i >= line.size()) return std::nullopt;
                    char e = line[i++];
                    value += e == 'n' ? '\n' : e;
                } else {
                    value += c;
                }
            }
            s.labels.emplace(std::move(key), std::move(value));
        }
    }
    while (i < line.size() && line[i] == ' ') ++i;
    std::size_t end = line.find(' ', i);
    auto v = parse_value(
        line.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i));
    if (!v) return std::nullopt;
    s.value = *v;
    return s;
}

}  // namespace

std::optional<double> parse_value(std::string_view s) {
    if (s == "NaN") return std::nan("");
    if (s == "+Inf" || s == "Inf") return HUGE_VAL;
    if (s == "-Inf") return -HUGE_VAL;
    double v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
}

std::vector<Sample> parse_text(std::string_view text, std::size_t* malformed) {
    std::vector<Sample> out;
    std::size_t bad = 0;
    while (!text.empty()) {
        std::size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        while (!line.empty() && (line.front() == ' ' || line.front() == '\t'))
            line.remove_prefix(1);
        if (line.empty() || line.front() == '#') continue;
        if (auto s = parse_sample(line))
            out.push_back(std::move(*s));
        else
            ++bad;
    }
    if (malformed) *malformed = bad;
    return out;
}

std::string quote(std::string_view value) {
    std::string out = "\"";
    for (char c : value) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out + "\"";
}

Fetch fetch_with(std::shared_ptr<HttpClient> client) {
    return [client = std::move(client)](const HttpRequest& r) { return client->perform(r); };
}

Client::Client(ClientOptions options, Fetch fetch)
    : m_options(std::move(options)), m_fetch(std::move(fetch)) {
    while (!m_options.url.empty() && m_options.url.back() == '/') m_options.url.pop_back();
}

Result<std::vector<Series>> Client::query(const std::string& promql) {
    HttpRequest req;
    req.url = m_options.url + "/api/v1/query?query=" + HttpClient::url_encode(promql);
    req.timeout = m_options.timeout;
    req.bearer_token = m_options.bearer_token;
    HttpResponse res = m_fetch(req);
    if (!res.transport_ok())
        return make_error("Prometheus " + m_options.url + " unreachable: " + res.error);
    if (!res.ok())
        return make_error("Prometheus answered HTTP " + std::to_string(res.status) + ": " +
                          res.body.substr(0, 200));
    auto doc = nlohmann::json::parse(res.body, nullptr, false);
    if (doc.is_discarded() || !doc.is_object() || doc.value("status", "") != "success")
        return make_error("Prometheus answer not understood");
    const auto& data = doc["data"];
    if (!data.is_object() || data.value("resultType", "") != "vector" || !data["result"].is_array())
        return make_error("Prometheus answer is not an instant vector");
    std::vector<Series> out;
    for (const auto& item : data["result"]) {
        if (!item.is_object() || !item["value"].is_array() || item["value"].size() != 2 ||
            !item["value"][1].is_string())
            continue;
        auto v = parse_value(item["value"][1].get<std::string>());
        if (!v || std::isnan(*v)) continue;
        Series s;
        s.value = *v;
        if (item["metric"].is_object())
            for (const auto& [k, lv] : item["metric"].items())
                if (lv.is_string()) s.labels[k] = lv.get<std::string>();
        out.push_back(std::move(s));
    }
    return out;
}

Result<std::optional<double>> Client::scalar(const std::string& promql) {
    auto r = query(promql);
    if (!r) return r.error();
    if (r->empty()) return std::optional<double>{};
    return std::optional<double>(r->front().value);
}

Result<std::vector<Sample>> Client::scrape(const std::string& url) {
    HttpRequest req;
    req.url = url;
    req.timeout = m_options.timeout;
    HttpResponse res = m_fetch(req);
    if (!res.ok())
        return make_error(res.transport_ok() ? "HTTP " + std::to_string(res.status) : res.error);
    return parse_text(res.body);
}

}  // namespace saslguard::prom
