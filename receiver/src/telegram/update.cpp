#include "saslguard/receiver/telegram/update.hpp"

#include <nlohmann/json.hpp>

namespace saslguard::receiver::telegram {
namespace {

using nlohmann::json;

// Reads `key` of `obj` into `out` when present; false when it has another type.
bool get(const json& obj, const char* key, std::int64_t& out) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return true;
    if (!it->is_number_integer()) return false;
    out = it->get<std::int64_t>();
    return true;
}
bool get(const json& obj, const char* key, std::string& out) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return true;
    if (!it->is_string()) return false;
    out = it->get<std::string>();
    return true;
}
// `key` of `obj` as an object (absent: an empty one); nullptr when it is not one.
const json* object(const json& obj, const char* key) {
    static const json kEmpty = json::object();
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return &kEmpty;
    return it->is_object() ? &*it : nullptr;
}

Result<TelegramUser> user(const json& parent) {
    const json* from = object(parent, "from");
    if (!from) return make_error("from: expected an object");
    TelegramUser u;
    u.first_name = "user";
    if (!get(*from, "id", u.id) || !get(*from, "username", u.username) ||
        !get(*from, "first_name", u.first_name))
        return make_error("from: a field has the wrong type");
    return u;
}

Result<Update> press(std::int64_t update_id, const json& cq) {
    auto from = user(cq);
    if (!from) return from.error();
    ButtonPress p;
    p.from = std::move(*from);
    if (!get(cq, "id", p.query_id) || !get(cq, "data", p.data))
        return make_error("callback_query: a field has the wrong type");
    const json* m = object(cq, "message");
    const json* chat = m ? object(*m, "chat") : nullptr;
    if (!m || !chat || !get(*m, "message_id", p.message_id) || !get(*chat, "id", p.chat_id))
        return make_error("callback_query.message: a field has the wrong type");
    return Update{update_id, std::move(p)};
}

std::vector<std::string> words_of(const std::string& text) {
    std::vector<std::string> words;
    for (std::size_t i = 0; i < text.size();) {
        while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n')) ++i;
        std::size_t j = i;
        while (j < text.size() && text[j] != ' ' && text[j] != '\t' && text[j] != '\n') ++j;
        if (j > i) words.push_back(text.substr(i, j - i));
        i = j;
    }
    return words;
}

Result<Update> message(std::int64_t update_id, const json& m) {
    std::string text;
    if (!get(m, "text", text)) return make_error("message.text: expected a string");
    if (text.rfind('/', 0) != 0) return Update{update_id, std::monostate{}};  // not a command
    auto from = user(m);
    if (!from) return from.error();
    Command c;
    c.from = std::move(*from);
    c.chat_id = c.from.id;
    const json* chat = object(m, "chat");
    if (!chat || !get(*chat, "id", c.chat_id))
        return make_error("message.chat: a field has the wrong type");
    c.words = words_of(text);
    c.name = c.words.empty() ? "" : c.words[0];
    if (auto at = c.name.find('@'); at != std::string::npos) c.name.resize(at);  // "/status@MyBot"
    return Update{update_id, std::move(c)};
}

ParsedUpdate parse(const json& u) {
    ParsedUpdate out;
    if (!u.is_object()) {
        out.update = make_error("an update is not an object");
        return out;
    }
    auto id = u.find("update_id");
    if (id == u.end() || !id->is_number_integer()) {
        out.update = make_error("update without update_id");
        return out;
    }
    out.update_id = id->get<std::int64_t>();
    if (const json* cq = object(u, "callback_query"); !cq)
        out.update = make_error("callback_query: expected an object");
    else if (!cq->empty())
        out.update = press(*out.update_id, *cq);
    else if (const json* m = object(u, "message"); !m)
        out.update = make_error("message: expected an object");
    else if (!m->empty())
        out.update = message(*out.update_id, *m);
    else
        out.update = Update{*out.update_id, std::monostate{}};
    return out;
}

}  // namespace

std::string TelegramUser::display() const {
    const std::string id_text = " (" + std::to_string(id) + ")";
    return username.empty() ? first_name + id_text : "@" + username + id_text;
}

ParsedUpdate parse_update(std::string_view text) {
    try {
        return parse(json::parse(text, nullptr, false));
    } catch (const std::exception& e) {  // not expected: every access above is checked
        ParsedUpdate out;
        out.update = make_error(std::string("malformed update: ") + e.what());
        return out;
    }
}

Result<std::vector<ParsedUpdate>> parse_updates(std::string_view result_json) {
    try {
        auto doc = json::parse(result_json, nullptr, false);
        if (!doc.is_array()) return make_error("result is not an array");
        std::vector<ParsedUpdate> out;
        out.reserve(doc.size());
        for (const auto& u : doc) out.push_back(parse(u));
        return out;
    } catch (const std::exception& e) {
        return make_error(std::string("malformed updates: ") + e.what());
    }
}

}  // namespace saslguard::receiver::telegram
