// parse_update / parse_updates (receiver/src/telegram/update.cpp): what the bot
// acts on, from the Bot API's getUpdates answer. The shapes are those Telegram
// sends (core.telegram.org/bots/api#update), as the emulator relays them.
#include <catch2/catch.hpp>

#include "saslguard/receiver/telegram/update.hpp"

using namespace saslguard::receiver::telegram;

TEST_CASE("a button press names the user, the message and the token") {
    auto p = parse_update(R"({"update_id":41,"callback_query":{"id":"cq41",
        "from":{"id":1001,"is_bot":false,"first_name":"Ann","username":"ann"},
        "message":{"message_id":50,"chat":{"id":-100,"type":"group"}},"data":"tok"}})");
    REQUIRE(p.update_id == 41);
    REQUIRE(p.update.ok());
    const auto& press = std::get<ButtonPress>(p.update->what);
    CHECK(press.query_id == "cq41");
    CHECK(press.from.id == 1001);
    CHECK(press.from.display() == "@ann (1001)");
    CHECK(press.chat_id == -100);
    CHECK(press.message_id == 50);
    CHECK(press.data == "tok");
}

TEST_CASE("a command is split into words and loses its @BotName") {
    auto p = parse_update(R"({"update_id":7,"message":{"message_id":1,"from":{"id":5,
        "first_name":"Bo"},"chat":{"id":5,"type":"private"},"text":"/block@saslguard_bot  bob@x.org\n"}})");
    REQUIRE(p.update.ok());
    const auto& c = std::get<Command>(p.update->what);
    CHECK(c.name == "/block");
    CHECK(c.words == std::vector<std::string>{"/block@saslguard_bot", "bob@x.org"});
    CHECK(c.chat_id == 5);
    CHECK(c.from.display() == "Bo (5)");
    // No chat: the reply goes to the sender.
    auto q = parse_update(R"({"update_id":8,"message":{"from":{"id":6},"text":"/status"}})");
    CHECK(std::get<Command>(q.update->what).chat_id == 6);
    CHECK(std::get<Command>(q.update->what).from.display() == "user (6)");
}

TEST_CASE("what the bot does not handle is an update with nothing to do") {
    for (const char* u :
         {R"({"update_id":9,"message":{"text":"hello"}})",
          R"({"update_id":9,"edited_message":{"text":"/block x"}})", R"({"update_id":9})"}) {
        auto p = parse_update(u);
        REQUIRE(p.update.ok());
        CHECK(p.update->update_id == 9);
        CHECK(std::holds_alternative<std::monostate>(p.update->what));
    }
}

TEST_CASE("a field of the wrong type makes the update an error that still names its id") {
    for (const char* u :
         {R"({"update_id":700,"message":{"from":{"id":"x"},"text":"/block e"}})",
          R"({"update_id":700,"message":{"text":7}})",
          R"({"update_id":700,"callback_query":{"data":5}})",
          R"({"update_id":700,"callback_query":[]})",
          R"({"update_id":700,"callback_query":{"message":{"chat":{"id":"c"}}}})"}) {
        INFO(u);
        auto p = parse_update(u);
        CHECK(p.update_id == 700);
        CHECK_FALSE(p.update.ok());
    }
    for (const char* u : {"[]", "{}", R"({"update_id":"1"})", "not json", ""}) {
        INFO(u);
        auto p = parse_update(u);
        CHECK_FALSE(p.update_id);
        CHECK_FALSE(p.update.ok());
    }
}

TEST_CASE("getUpdates' result is an array of updates, each parsed on its own") {
    auto r = parse_updates(R"([{"update_id":1},{"update_id":2,"message":{"text":3}},5])");
    REQUIRE(r.ok());
    REQUIRE(r->size() == 3);
    CHECK((*r)[0].update.ok());
    CHECK((*r)[1].update_id == 2);
    CHECK_FALSE((*r)[1].update.ok());
    CHECK_FALSE((*r)[2].update_id);
    CHECK_FALSE(parse_updates(R"({"update_id":1})").ok());
    CHECK_FALSE(parse_updates("\xff\xfe").ok());
}
