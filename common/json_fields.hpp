// Checked reads of JSON fields: typed converters and member lookups whose errors name the
// JSON path that was wrong ("process.user.uid: expected integer, got string").
// Converters have the shape (const json& value, const std::string& path) -> Result<T>.
#pragma once

#include <concepts>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.hpp"

namespace skiff::json_fields {

using nlohmann::json;

// "string", "integer", "object", ... as used in error messages.
std::string json_type_name(const json& value);

// "parent.key", or just "key" at the top level.
std::string member_path(const std::string& parent, std::string_view key);

// "parent[index]".
std::string element_path(const std::string& parent, size_t index);

// "path: problem".
std::unexpected<Error> field_error(const std::string& path, const std::string& problem);

// "path: expected <expected>, got <type of got>".
std::unexpected<Error> type_error(const std::string& path, std::string_view expected,
                                  const json& got);

// Member `key` of an object, or nullptr when absent. An explicit null counts as absent, as
// Go's encoding/json (and so runc) reads it.
const json* find_member(const json& object, std::string_view key);

// ---------------------------------------------------------------------------------------
// Converters

Status expect_object(const json& value, const std::string& path);
Result<std::string> as_string(const json& value, const std::string& path);
Result<bool> as_bool(const json& value, const std::string& path);

// Integral T with a range check. JSON floats (1.0, 1e3) are rejected.
template <std::integral T>
Result<T> as_integer(const json& value, const std::string& path) {
    auto out_of_range = [&](const std::string& shown) {
        return field_error(path, shown + " is out of range [" +
                                     std::to_string(std::numeric_limits<T>::min()) + ", " +
                                     std::to_string(std::numeric_limits<T>::max()) + "]");
    };
    // nlohmann stores non-negative literals as unsigned and negative ones as signed.
    if (value.is_number_unsigned()) {
        auto number = value.template get<uint64_t>();
        if (!std::in_range<T>(number)) return out_of_range(std::to_string(number));
        return static_cast<T>(number);
    }
    if (value.is_number_integer()) {
        auto number = value.template get<int64_t>();
        if (!std::in_range<T>(number)) return out_of_range(std::to_string(number));
        return static_cast<T>(number);
    }
    return type_error(path, "integer", value);
}

template <typename Convert>
using converted_t =
    typename std::invoke_result_t<Convert, const json&, const std::string&>::value_type;

// Converter for a JSON array whose elements go through `convert`.
template <typename Convert>
auto array_of(Convert convert) {
    return [convert](const json& value,
                     const std::string& path) -> Result<std::vector<converted_t<Convert>>> {
        if (!value.is_array()) return type_error(path, "array", value);
        std::vector<converted_t<Convert>> items;
        items.reserve(value.size());
        for (size_t i = 0; i < value.size(); ++i) {
            SKIFF_TRY(item, convert(value[i], element_path(path, i)));
            items.push_back(std::move(item));
        }
        return items;
    };
}

// ---------------------------------------------------------------------------------------
// Members

// Read an optional member into `out`; `out` keeps its default when the member is absent.
template <typename T, typename Convert>
Status read_optional(const json& object, const std::string& path, std::string_view key, T& out,
                     Convert convert) {
    const json* value = find_member(object, key);
    if (!value) return ok();
    SKIFF_TRY(converted, convert(*value, member_path(path, key)));
    out = std::move(converted);
    return ok();
}

// Read a required member. `what` describes the expected value ("a string") for the error
// given when it is missing.
template <typename Convert>
Result<converted_t<Convert>> read_required(const json& object, const std::string& path,
                                           std::string_view key, Convert convert,
                                           std::string_view what) {
    const std::string field = member_path(path, key);
    const json* value = find_member(object, key);
    if (!value) return field_error(field, "must be " + std::string(what) + ", but is missing");
    return convert(*value, field);
}

}  // namespace skiff::json_fields
