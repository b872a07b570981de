#pragma once
// Reading Prometheus: the text exposition format (one scrape of a /metrics
// page) and instant queries over the HTTP API. Every part of saslguard that
// asks Prometheus something (the receiver's culprit resolution, the bot's /top
// and /queue) goes through this one client, with the same checks: a transport
// error, an HTTP error, an answer that is not an instant vector and NaN values
// are all handled here, once. Never throws.
//
// The namespace is `prom`, not `prometheus`, so it never shadows prometheus-cpp.
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "saslguard/common/http_client.hpp"
#include "saslguard/common/result.hpp"

namespace saslguard::prom {

using Labels = std::map<std::string, std::string>;

// One sample of the text format (0.0.4).
struct Sample {
    std::string name;
    Labels labels;
    double value = 0;
};

// Parses the text format: comments and blank lines skipped; a malformed line
// is skipped and counted in *malformed. Label values are unescaped.
std::vector<Sample> parse_text(std::string_view text, std::size_t* malformed = nullptr);

// A sample value as the text format and the API write it: a float, NaN, +Inf, -Inf.
std::optional<double> parse_value(std::string_view text);

// A PromQL string literal for `value` (double-quoted; \ " and newline escaped),
// so a hostile label value cannot change the query it is put into.
std::string quote(std::string_view value);

// Performs one HTTP request: an HttpClient in production, recorded answers in tests.
using Fetch = std::function<HttpResponse(const HttpRequest&)>;

// A Fetch over `client` (which must then be used by one thread only).
Fetch fetch_with(std::shared_ptr<HttpClient> client);

// One series of an instant vector.
struct Series {
    Labels labels;
    double value = 0;
};

struct ClientOptions {
    std::string url;  // http://127.0.0.1:9090 (no trailing /api/...)
    std::chrono::milliseconds timeout{5000};
    std::string bearer_token;  // "" = no Authorization header
};

class Client {
public:
    Client(ClientOptions options, Fetch fetch);

    // An instant query. Series whose value is NaN (no data) are left out.
    // Errors: "Prometheus URL unreachable: …", "Prometheus answered HTTP 503: …",
    // "Prometheus answer not understood", "Prometheus answer is not an instant vector".
    Result<std::vector<Series>> query(const std::string& promql);

    // The value of the first series; nullopt when the query returned none
    // (unknown, not zero); an error when the query failed.
    Result<std::optional<double>> scalar(const std::string& promql);

    // One scrape of a page in the text format (an exporter's /metrics).
    // Errors: the transport error, or "HTTP <status>".
    Result<std::vector<Sample>> scrape(const std::string& url);

    const ClientOptions& options() const { return m_options; }

private:
    ClientOptions m_options;
    Fetch m_fetch;
};

}  // namespace saslguard::prom
