#pragma once
// Internal: a transparent string hash, so unordered containers keyed by
// std::string are looked up with a std::string_view without building a string
// (the policy thread's lookups allocate nothing).
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace saslguard::receiver::smtp_policy::detail {

struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};

using StringSet = std::unordered_set<std::string, StringHash, std::equal_to<>>;
template <class V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

}  // namespace saslguard::receiver::smtp_policy::detail
