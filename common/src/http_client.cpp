#include "saslguard/common/http_client.hpp"

#include <curl/curl.h>

#include <cctype>
#include <mutex>

namespace saslguard {
namespace {

std::once_flag g_curl_init;

struct Sink {
    std::string* body;
    std::size_t max;
    bool overflow = false;
};

size_t on_body(char* ptr, size_t size, size_t nmemb, void* user) {
    auto* s = static_cast<Sink*>(user);
    size_t n = size * nmemb;
    if (s->body->size() + n > s->max) {
        s->overflow = true;
        return 0;  // makes curl fail with CURLE_WRITE_ERROR
    }
    s->body->append(ptr, n);
    return n;
}

size_t on_header(char* ptr, size_t size, size_t nmemb, void* user) {
    auto* resp = static_cast<HttpResponse*>(user);
    std::string_view line(ptr, size * nmemb);
    auto colon = line.find(':');
    if (colon != std::string_view::npos) {
        std::string name(line.substr(0, colon));
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
            value.remove_prefix(1);
        while (!value.empty() &&
               (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
            value.remove_suffix(1);
        if (name == "retry-after") {
            long v = 0;
            bool digits = !value.empty();
            for (char c : value) {
                if (c < '0' || c > '9') {
                    digits = false;
                    break;
                }
                v = v * 10 + (c - '0');
                if (v > 86400) break;
            }
            if (digits) resp->retry_after_s = v;
        }
    }
    return size * nmemb;
}

}  // namespace

struct HttpClient::Impl {
    CURL* curl = nullptr;
};

HttpClient::HttpClient() : m_impl(std::make_unique<Impl>()) {
    std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    m_impl->curl = curl_easy_init();
}

HttpClient::~HttpClient() {
    if (m_impl && m_impl->curl) curl_easy_cleanup(m_impl->curl);
}

std::string HttpClient::url_encode(std::string_view s) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size() * 3);
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

HttpResponse HttpClient::perform(const HttpRequest& req) {
    HttpResponse resp;
    CURL* c = m_impl->curl;
    if (!c) {
        resp.error = "curl_easy_init failed";
        return resp;
    }
    curl_easy_reset(c);
    Sink sink{&resp.body, req.max_response};
    char errbuf[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(c, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout.count()));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(req.connect_timeout.count()));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &resp);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);

    curl_slist* headers = nullptr;
    for (const auto& h : req.headers) headers = curl_slist_append(headers, h.c_str());
    std::string auth;
    if (!req.bearer_token.empty()) {
        auth = "Authorization: Bearer " + req.bearer_token;
        headers = curl_slist_append(headers, auth.c_str());
    }
    if (req.method == "GET") {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else {
        if (req.method != "POST") curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.body.data());
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    }
    if (headers) curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);

    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp.status);
        char* ct = nullptr;
        if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
            resp.content_type = ct;
    } else {
        resp.status = 0;
        resp.body.clear();
        resp.too_large = sink.overflow;
        resp.error = sink.overflow
                         ? "response larger than " + std::to_string(req.max_response) + " bytes"
                         : std::string(curl_easy_strerror(rc)) +
                               (errbuf[0] ? std::string(": ") + errbuf : "");
    }
    curl_slist_free_all(headers);
    return resp;
}

}  // namespace saslguard
