#pragma once
// A STUB of the Telegram Bot API, for what the telegram-test-api emulator cannot
// do: answer 429 with parameters.retry_after, 500, 401, hang a connection, and
// redeliver an update whose offset was already confirmed. Everything else is
// tested against the emulator (tests/receiver/telegram_emulator_test.cpp).
//
// A cpp-httplib server on 127.0.0.1 (random port). Each call to
// /bot<token>/<method> takes the next scripted answer for that method (or the
// default: 200 {"ok":true,"result":…}) and is recorded with its body.
#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace tgstub {

struct Answer {
    int status = 200;
    std::string body;                    // "" → {"ok":true,"result":<default_result>}
    std::chrono::milliseconds delay{0};  // hang this long before answering
};

struct Call {
    std::string method;
    std::string body;
};

class TelegramStub {
public:
    TelegramStub() {
        m_server.Post(R"(/bot([^/]+)/([A-Za-z]+))",
                      [this](const httplib::Request& req, httplib::Response& res) {
                          const std::string method = req.matches[2];
                          Answer a;
                          std::string body;
                          {
                              std::lock_guard<std::mutex> lock(m_mutex);
                              m_calls.push_back({method, req.body});
                              auto& q = m_script[method];
                              if (!q.empty()) {
                                  a = q.front();
                                  q.pop_front();
                              } else if (auto d = m_defaults.find(method); d != m_defaults.end()) {
                                  a = d->second;
                              }
                              body = a.body.empty() ? default_ok(method) : a.body;
                          }
                          if (a.delay.count() > 0) {
                              std::unique_lock<std::mutex> lock(m_mutex);
                              m_cv.wait_for(lock, a.delay, [&] { return m_released; });
                          }
                          res.status = a.status;
                          res.set_content(body, "application/json");
                      });
        m_port = m_server.bind_to_any_port("127.0.0.1");
        m_thread = std::thread([this] { m_server.listen_after_bind(); });
        while (!m_server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ~TelegramStub() {
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            m_released = true;
        }
        m_cv.notify_all();
        m_server.stop();
        m_thread.join();
    }

    std::string url() const { return "http://127.0.0.1:" + std::to_string(m_port); }

    // Queues answers for `method`, used in order before the default.
    void script(const std::string& method, std::vector<Answer> answers) {
        std::lock_guard<std::mutex> lock(m_mutex);
        for (auto& a : answers) m_script[method].push_back(std::move(a));
    }
    // The answer used once the script for `method` is exhausted.
    void set_default(const std::string& method, Answer a) {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_defaults[method] = std::move(a);
    }
    std::vector<Call> calls(const std::string& method) {
        std::lock_guard<std::mutex> lock(m_mutex);
        std::vector<Call> out;
        for (const auto& c : m_calls)
            if (c.method == method) out.push_back(c);
        return out;
    }

    static std::string error_json(int code, const std::string& description, int retry_after = -1) {
        std::string s = R"({"ok":false,"error_code":)" + std::to_string(code) +
                        R"(,"description":")" + description + "\"";
        if (retry_after >= 0)
            s += R"(,"parameters":{"retry_after":)" + std::to_string(retry_after) + "}";
        return s + "}";
    }

private:
    std::string default_ok(const std::string& method) {  // called with m_mutex held
        if (method == "sendMessage")
            return R"({"ok":true,"result":{"message_id":)" + std::to_string(++m_next_id) + "}}";
        if (method == "getUpdates") return R"({"ok":true,"result":[]})";
        return R"({"ok":true,"result":true})";
    }

    httplib::Server m_server;
    std::thread m_thread;
    int m_port = 0;
    std::mutex m_mutex;
    std::condition_variable m_cv;
    bool m_released = false;
    std::map<std::string, std::deque<Answer>> m_script;
    std::map<std::string, Answer> m_defaults;
    std::vector<Call> m_calls;
    int m_next_id = 100;
};

}  // namespace tgstub
