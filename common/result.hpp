// Result<T>: the error type every module returns across its boundary.
// An Error carries the errno (0 when the failure is not a syscall's) and what was being
// attempted, so one line on stderr tells the user both.
#pragma once

#include <cerrno>
#include <expected>
#include <string>
#include <utility>

namespace skiff {

struct Error {
    int code = 0;          // errno, or 0 for logical errors (bad input, protocol)
    std::string what;      // "mount proc on /proc", "config.json: process.args: must be non-empty"

    // "what: strerror(code)" or just "what".
    std::string message() const;

    // Prefix context: err.context("create container foo") -> "create container foo: <what>".
    Error context(const std::string& outer) const&;
    Error context(const std::string& outer) &&;
};

template <typename T>
using Result = std::expected<T, Error>;

using Status = std::expected<void, Error>;

// Error from the current errno, captured before anything else can clobber it.
inline std::unexpected<Error> sys_error(std::string what) {
    int saved = errno;
    return std::unexpected(Error{saved, std::move(what)});
}

inline std::unexpected<Error> sys_error(int code, std::string what) {
    return std::unexpected(Error{code, std::move(what)});
}

// Logical error (no errno).
inline std::unexpected<Error> fail(std::string what) {
    return std::unexpected(Error{0, std::move(what)});
}

inline Status ok() { return {}; }

// Prefix an error with context, passing success through unchanged (libstdc++ 12 has no
// std::expected::transform_error yet).
template <typename T>
std::expected<T, Error> with_context(std::expected<T, Error> result, const std::string& outer) {
    if (!result) return std::unexpected(std::move(result).error().context(outer));
    return result;
}

}  // namespace skiff

// Propagate an error from an expression returning Result/Status, binding the value otherwise.
// Usage: SKIFF_TRY(fd, open_thing());  or  SKIFF_CHECK(do_thing());
#define SKIFF_CONCAT_INNER(a, b) a##b
#define SKIFF_CONCAT(a, b) SKIFF_CONCAT_INNER(a, b)
#define SKIFF_TRY(var, expr)                                          \
    auto SKIFF_CONCAT(skiff_try_, __LINE__) = (expr);                 \
    if (!SKIFF_CONCAT(skiff_try_, __LINE__))                          \
        return std::unexpected(std::move(SKIFF_CONCAT(skiff_try_, __LINE__)).error()); \
    auto var = std::move(*SKIFF_CONCAT(skiff_try_, __LINE__))
#define SKIFF_CHECK(expr)                                             \
    do {                                                              \
        auto skiff_check_result = (expr);                             \
        if (!skiff_check_result)                                      \
            return std::unexpected(std::move(skiff_check_result).error()); \
    } while (0)
