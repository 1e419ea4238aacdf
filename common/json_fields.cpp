#include "common/json_fields.hpp"

namespace skiff::json_fields {

std::string json_type_name(const json& value) {
    switch (value.type()) {
        case json::value_t::null: return "null";
        case json::value_t::boolean: return "boolean";
        case json::value_t::string: return "string";
        case json::value_t::number_integer:
        case json::value_t::number_unsigned: return "integer";
        case json::value_t::number_float: return "number";
        case json::value_t::object: return "object";
        case json::value_t::array: return "array";
        case json::value_t::binary: return "binary";
        case json::value_t::discarded: break;
    }
    return "invalid value";
}

std::string member_path(const std::string& parent, std::string_view key) {
    std::string path = parent;
    if (!path.empty()) path += '.';
    path += key;
    return path;
}

std::string element_path(const std::string& parent, size_t index) {
    return parent + "[" + std::to_string(index) + "]";
}

std::unexpected<Error> field_error(const std::string& path, const std::string& problem) {
    return fail(path + ": " + problem);
}

std::unexpected<Error> type_error(const std::string& path, std::string_view expected,
                                  const json& got) {
    return field_error(path, "expected " + std::string(expected) + ", got " + json_type_name(got));
}

const json* find_member(const json& object, std::string_view key) {
    auto it = object.find(std::string(key));
    if (it == object.end() || it->is_null()) return nullptr;
    return &*it;
}

Status expect_object(const json& value, const std::string& path) {
    if (!value.is_object()) return type_error(path, "object", value);
    return ok();
}

Result<std::string> as_string(const json& value, const std::string& path) {
    if (!value.is_string()) return type_error(path, "string", value);
    return value.get<std::string>();
}

Result<bool> as_bool(const json& value, const std::string& path) {
    if (!value.is_boolean()) return type_error(path, "boolean", value);
    return value.get<bool>();
}

}  // namespace skiff::json_fields
