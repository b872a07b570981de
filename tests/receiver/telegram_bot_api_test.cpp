#include <catch2/catch.hpp>

#include "saslguard/receiver/telegram/bot_api.hpp"

using namespace saslguard::receiver::telegram;

TEST_CASE("a Bot API success is ok and carries the result") {
    auto r = classify_response(200, R"({"ok":true,"result":{"message_id":7}})", std::nullopt, "");
    CHECK(r.ok());
    CHECK(r.result_json == R"({"message_id":7})");
}

TEST_CASE("429 is retryable after parameters.retry_after from the JSON body") {
    auto r = classify_response(
        429,
        R"({"ok":false,"error_code":429,"description":"Too Many Requests: retry after 5","parameters":{"retry_after":5}})",
        std::nullopt, "");
    CHECK(r.retryable());
    CHECK(r.retry_after_s == std::optional<long>(5));
    CHECK(r.error_code == 429);
    CHECK(r.describe() == "HTTP 429: Too Many Requests: retry after 5 (retry after 5s)");
}

TEST_CASE("a Retry-After header is used when the body has no retry_after") {
    auto r = classify_response(429, "", 9L, "");
    CHECK(r.retryable());
    CHECK(r.retry_after_s == std::optional<long>(9));
}

TEST_CASE("5xx and transport errors are retryable, but 400, 401, 403 are not") {
    CHECK(classify_response(500, "oops", std::nullopt, "").retryable());
    CHECK(classify_response(502, "<html>bad gateway</html>", std::nullopt, "").retryable());
    auto net = classify_response(0, "", std::nullopt, "Couldn't connect to server");
    CHECK(net.retryable());
    CHECK(net.describe() == "network: Couldn't connect to server");
    for (long code : {400L, 401L, 403L, 404L}) {
        auto r = classify_response(code,
                                   R"({"ok":false,"error_code":)" + std::to_string(code) +
                                       R"(,"description":"Unauthorized"})",
                                   std::nullopt, "");
        CHECK(r.outcome == ApiResult::Outcome::Fatal);
        CHECK(r.description == "Unauthorized");
    }
}

TEST_CASE("a 200 without ok:true is not taken for success") {
    CHECK(classify_response(200, "<html>captive portal</html>", std::nullopt, "").retryable());
    CHECK(classify_response(200, R"({"ok":false})", std::nullopt, "").retryable());
}

TEST_CASE("the bot token never appears in an error description") {
    BotApi api("http://127.0.0.1:1/", "123:SECRET", std::chrono::milliseconds(500));
    auto r = api.call("getMe", "{}");
    CHECK(r.retryable());
    CHECK(r.description.find("SECRET") == std::string::npos);
}
