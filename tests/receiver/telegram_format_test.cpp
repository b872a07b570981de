#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "saslguard/receiver/telegram/format.hpp"

using namespace saslguard::receiver::telegram;

TEST_CASE("html_escape escapes the characters Telegram HTML reserves") {
    CHECK(html_escape("a&b<c>d\"e") == "a&amp;b&lt;c&gt;d&quot;e");
    CHECK(html_escape("<b>evil</b>@example.com") == "&lt;b&gt;evil&lt;/b&gt;@example.com");
    CHECK(html_escape("plain") == "plain");
    CHECK(html_escape("привет") == "привет");
}

TEST_CASE("html_escape replaces invalid UTF-8 and control bytes instead of passing them on") {
    CHECK(html_escape(std::string("a\xff"
                                  "b")) ==
          "a\xEF\xBF\xBD"
          "b");
    CHECK(html_escape(std::string("a\x01"
                                  "b")) ==
          "a\xEF\xBF\xBD"
          "b");
    CHECK(html_escape("line\nnext") == "line\nnext");
}

TEST_CASE("visible_length counts characters as Telegram does: tags 0, entities 1, astral 2") {
    CHECK(visible_length("<b>ab</b>") == 2);
    CHECK(visible_length("a&amp;b") == 3);
    CHECK(visible_length("é") == 1);
    CHECK(visible_length("🚨") == 2);
    CHECK(visible_length("<a href=\"http://x/?a=1&amp;b=2\">link</a>") == 4);
}

TEST_CASE("truncate_html leaves a message within the limit unchanged") {
    std::string s = "<b>hello</b> &amp; bye";
    CHECK(truncate_html(s, 100) == s);
    CHECK(truncate_html(s, visible_length(s)) == s);
}

TEST_CASE("truncate_html never splits an entity and closes open tags") {
    // 10 visible: "<b>abc&amp;def</b>ghij"
    std::string s = "<b>abc&amp;def</b>ghij";
    CHECK(truncate_html(s, 5) == "<b>abc&amp;…</b>");
    CHECK(truncate_html(s, 4) == "<b>abc…</b>");
    CHECK(truncate_html(s, 8) == "<b>abc&amp;def</b>…");
    CHECK(truncate_html(s, 9) == "<b>abc&amp;def</b>g…");
    for (std::size_t n = 1; n < visible_length(s); ++n) {
        std::string t = truncate_html(s, n);
        CHECK(visible_length(t) <= n);
        // An "&" in the output always starts a whole entity.
        for (std::size_t i = t.find('&'); i != std::string::npos; i = t.find('&', i + 1))
            CHECK(t.compare(i, 5, "&amp;") == 0);
    }
}

TEST_CASE("truncate_html drops a tag opened after the last character that fits") {
    CHECK(truncate_html("ab<code>cdef</code>", 3) == "ab…");
    CHECK(truncate_html("<i>ab</i><b>cd</b>", 3) == "<i>ab</i>…");
}

TEST_CASE("truncate_html does not split a multi-byte character") {
    std::string s = "ééééé🚨🚨";
    std::string t = truncate_html(s, 6);
    CHECK(t == "ééééé…");
    CHECK(truncate_html(s, 8) == "ééééé🚨…");
}

TEST_CASE("keyboard_json builds the inline_keyboard markup") {
    Keyboard kb{{{"🚫 Block login", "tok1"}, {"A&B", "tok2"}}, {}, {{"Ignore", "tok3"}}};
    auto j = nlohmann::json::parse(keyboard_json(kb));
    REQUIRE(j["inline_keyboard"].size() == 2);
    CHECK(j["inline_keyboard"][0][1]["text"] == "A&B");
    CHECK(j["inline_keyboard"][0][1]["callback_data"] == "tok2");
    CHECK(j["inline_keyboard"][1][0]["callback_data"] == "tok3");
}

namespace {
IncidentView sample_view() {
    IncidentView v;
    v.incident_id = 42;
    v.alertname = "SaslUserSendingSurge";
    v.severity = "critical";
    v.summary = "alice sends 40x her usual rate";
    v.username = "alice@example.com";
    v.window = "10m";
    v.messages = 1234;
    v.surge_share = 0.873;
    v.distinct_ips = 14;
    v.top_ips = {{"203.0.113.7", 300}, {"198.51.100.2", 120}};
    v.bounce_ratio = 0.42;
    v.queue_depth = 5321;
    v.grafana_url = "https://grafana.example.com/d/saslguard?var-user=alice&from=now-1h";
    v.alertmanager_url = "http://am.example.com:9093/#/alerts";
    v.mode = "confirm";
    return v;
}
}  // namespace

TEST_CASE("an incident message shows the evidence with links") {
    IncidentView v = sample_view();
    v.host = "mx1.example.com";
    v.usual_per_hour = 60;
    v.busiest_hour = 150;
    v.sources = {{"203.0.113.7", 300, "US", "new"}, {"198.51.100.2", 120, "", ""}};
    v.proposed = {"block_login", "hold_mail"};
    std::string m = format_incident(v);
    CHECK(m.find("🚨 <b>SaslUserSendingSurge</b> · critical · incident #42\n") == 0);
    CHECK(m.find("<b>Host:</b> mx1.example.com\n") != std::string::npos);
    CHECK(m.find("<b>User:</b> <code>alice@example.com</code>") != std::string::npos);
    // Whole numbers, now against the account's own usual volume (1234 in 10 minutes
    // is 7404 an hour, 123 times 60).
    CHECK(m.find("<b>Why:</b> 1234 messages in the last 10 minutes; usually 60 an hour — about "
                 "123 times its usual rate (busiest hour in 8 days: 150); 87% of all "
                 "authenticated mail\n") != std::string::npos);
    CHECK(m.find("<b>Client addresses:</b> 14 in the window; in the queued mail: "
                 "<code>203.0.113.7</code> (US, 300, <b>new</b>), <code>198.51.100.2</code> "
                 "(120)") != std::string::npos);
    CHECK(m.find("<b>Bounced or deferred:</b> 42% of its deliveries") != std::string::npos);
    CHECK(m.find("<b>Queue on the host:</b> 5321 messages") != std::string::npos);
    CHECK(m.find("👉 <b>Proposed:</b> block the login and hold its queued mail for "
                 "<code>alice@example.com</code>.") != std::string::npos);
    CHECK(m.find("policy.") == std::string::npos);
    CHECK(m.find("<a "
                 "href=\"https://grafana.example.com/d/"
                 "saslguard?var-user=alice&amp;from=now-1h\">Grafana</a>") != std::string::npos);
    CHECK(m.find("<a href=\"http://am.example.com:9093/#/alerts\">Alertmanager</a>") !=
          std::string::npos);
}

TEST_CASE("fractional counts are shown whole, and no link line dangles without URLs") {
    IncidentView v = sample_view();
    v.messages = 238.6;
    v.grafana_url.clear();
    v.alertmanager_url.clear();
    std::string m = format_incident(v);
    CHECK(m.find("239 messages in the last 10 minutes") != std::string::npos);
    CHECK(m.find("238.6") == std::string::npos);
    CHECK(m.find("Alertmanager") == std::string::npos);
    CHECK(m.find("Grafana") == std::string::npos);
    CHECK(m.find("its usual volume is not known yet") != std::string::npos);
}

TEST_CASE("encoded subject words are decoded for reading") {
    CHECK(decode_header_words("=?UTF-8?B?w6k=?= <b>x</b>") == "é <b>x</b>");
    CHECK(decode_header_words("=?utf-8?Q?caf=C3=A9_au?= =?utf-8?Q?_lait?=") == "café au lait");
    CHECK(decode_header_words("plain =?iso-8859-1?Q?caf=E9?=") == "plain =?iso-8859-1?Q?caf=E9?=");
    CHECK(decode_header_words("=?UTF-8?B?!!!?=") == "=?UTF-8?B?!!!?=");
    CHECK(decode_header_words("") == "");
}

TEST_CASE("an attacker's username cannot inject markup into the message") {
    IncidentView v = sample_view();
    v.username = "<a href=\"http://evil\">x</a>&amp;";
    v.summary = "</i><b>boom";
    std::string m = format_incident(v);
    CHECK(m.find("<code>&lt;a href=&quot;http://evil&quot;&gt;x&lt;/a&gt;&amp;amp;</code>") !=
          std::string::npos);
    CHECK(m.find("&lt;/i&gt;&lt;b&gt;boom") != std::string::npos);
    CHECK(m.find("http://evil\"") == std::string::npos);
}

TEST_CASE("links that are not plain http(s) URLs are dropped") {
    IncidentView v = sample_view();
    v.grafana_url = "javascript:alert(1)";
    v.alertmanager_url = "http://x\"onclick=y";
    std::string m = format_incident(v);
    CHECK(m.find("Grafana") == std::string::npos);
    CHECK(m.find("Alertmanager") == std::string::npos);
}

TEST_CASE("a huge incident message is cut to 4096 characters without breaking HTML") {
    IncidentView v = sample_view();
    v.username = std::string(255, '&');
    for (int i = 0; i < 200; ++i)
        v.log.push_back({"@admin (1)", std::string(250, '<'), i % 2 == 0});
    std::string m = format_incident(v);
    CHECK(visible_length(m) <= kMaxMessageChars);
    CHECK(visible_length(m) > 3000);
    // Every tag that was opened is closed.
    auto count = [&](std::string_view needle) {
        std::size_t n = 0;
        for (auto p = m.find(needle); p != std::string::npos; p = m.find(needle, p + 1)) ++n;
        return n;
    };
    CHECK(count("<b>") == count("</b>"));
    CHECK(count("<code>") == count("</code>"));
    CHECK(count("<i>") == count("</i>"));
}

TEST_CASE("the resolved incident message says so, with its history") {
    IncidentView v = sample_view();
    v.resolved = true;
    v.log.push_back({"auto", "blocked login alice@example.com", true});
    v.log.push_back({"@bob (7)", "hold mail: postsuper failed", false});
    std::string m = format_incident(v);
    CHECK(m.find("✅ <b>RESOLVED</b> <b>SaslUserSendingSurge</b>") == 0);
    CHECK(m.find("✅ auto: blocked login alice@example.com") != std::string::npos);
    CHECK(m.find("❌ @bob (7): hold mail: postsuper failed") != std::string::npos);
}

TEST_CASE("an incident view survives its JSON round trip") {
    IncidentView v = sample_view();
    v.offered = {"block_login", "hold_mail"};
    v.senders = {"alice@example.com"};
    v.silence_matchers = {{"alertname", "SaslUserSendingSurge"},
                          {"sasl_username", "alice@example.com"}};
    v.log.push_back({"auto", "did it", true});
    auto back = incident_view_from_json(to_json(v));
    REQUIRE(back);
    CHECK(format_incident(*back) == format_incident(v));
    CHECK(back->offered == v.offered);
    CHECK(back->senders == v.senders);
    CHECK(back->silence_matchers == v.silence_matchers);
    CHECK_FALSE(incident_view_from_json("not json"));
}
