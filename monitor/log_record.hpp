// One record of a container's log, as Docker's json-file driver writes it:
//   {"log":"hello\n","stream":"stdout","time":"2026-11-27T21:00:00.123456789Z"}
//
// Header-only and free of the C++ library on purpose: the static skiff-monitor (which writes
// the log of a detached container) and the engine (attached runs, engine/container_log.cpp)
// both encode with this one function, so the two can never write different formats.
// The escaping is nlohmann::json's dump(ensure_ascii=false, error_handler=replace), what the
// engine wrote before this file existed: \b \t \n \f \r \" \\ and \u00xx (lowercase) for
// other control characters, UTF-8 copied as is, each invalid sequence replaced by U+FFFD.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>

namespace skiff::logfmt {

// A line that never ends (a progress bar) is written in pieces of at least this many bytes.
inline constexpr size_t kLinePieceBytes = 16 * 1024;

// Room encode_record needs for `len` bytes of text (every byte may become \u00xx).
inline constexpr size_t record_capacity(size_t len) { return len * 6 + 128; }

// "2026-11-27T18:44:04.748603930Z" (30 characters and a NUL) into out[32]. Civil date from
// days since the epoch (H. Hinnant's algorithm): gmtime_r would read /etc/localtime once,
// which the small monitor has no need to map.
inline size_t format_rfc3339(const struct timespec& ts, char* out) {
    long long secs = ts.tv_sec;
    long long days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    long long rem = secs - days * 86400;
    long long z = days + 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097;
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long long mp = (5 * doy + 2) / 153;
    long long day = doy - (153 * mp + 2) / 5 + 1;
    long long month = mp < 10 ? mp + 3 : mp - 9;
    long long year = yoe + era * 400 + (month <= 2 ? 1 : 0);
    long long fields[6] = {year, month, day, rem / 3600, rem / 60 % 60, rem % 60};
    const int widths[6] = {4, 2, 2, 2, 2, 2};
    const char after[6] = {'-', '-', 'T', ':', ':', '.'};
    size_t n = 0;
    for (int f = 0; f < 6; ++f) {
        for (int w = widths[f] - 1; w >= 0; --w) {
            long long v = fields[f];
            for (int k = 0; k < w; ++k) v /= 10;
            out[n++] = static_cast<char>('0' + v % 10);
        }
        out[n++] = after[f];
    }
    long nanos = ts.tv_nsec;
    for (int k = 8; k >= 0; --k) {
        out[n + static_cast<size_t>(k)] = static_cast<char>('0' + nanos % 10);
        nanos /= 10;
    }
    n += 9;
    out[n++] = 'Z';
    out[n] = '\0';
    return n;
}

namespace detail {

// Length of the valid UTF-8 sequence starting at text[0] (1-4), or 0 when the bytes there
// are not one; `bad_at` is then how many bytes to consume before retrying (at least 1):
// nlohmann re-reads the byte that broke a sequence, as it may start the next one.
inline size_t utf8_sequence(const unsigned char* text, size_t len, size_t& bad_at) {
    unsigned char b = text[0];
    bad_at = 1;
    if (b < 0x80) return 1;
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
        need = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
        need = 3;
        if (b == 0xE0) lo = 0xA0;
        if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        need = 4;
        if (b == 0xF0) lo = 0x90;
        if (b == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    for (size_t i = 1; i < need; ++i) {
        if (i >= len) {
            bad_at = len;  // cut short at the end: one replacement for the rest
            return 0;
        }
        unsigned char c = text[i];
        if (c < lo || c > hi) {
            bad_at = i;
            return 0;
        }
        lo = 0x80;
        hi = 0xBF;
    }
    return need;
}

inline size_t put(char* out, size_t n, const char* s) {
    while (*s) out[n++] = *s++;
    return n;
}

}  // namespace detail

// Writes the record (with its final newline) into out, which has record_capacity(len)
// bytes; returns its length. `stream` is "stdout" or "stderr", `time` from format_rfc3339.
inline size_t encode_record(char* out, const char* stream, const char* text, size_t len, const char* time) {
    static const char hex[] = "0123456789abcdef";
    const auto* bytes = reinterpret_cast<const unsigned char*>(text);
    size_t n = detail::put(out, 0, "{\"log\":\"");
    for (size_t i = 0; i < len;) {
        size_t bad_at = 1;
        size_t seq = detail::utf8_sequence(bytes + i, len - i, bad_at);
        if (seq == 0) {
            n = detail::put(out, n, "\xEF\xBF\xBD");
            i += bad_at;
            continue;
        }
        if (seq > 1) {
            for (size_t k = 0; k < seq; ++k) out[n++] = text[i + k];
            i += seq;
            continue;
        }
        unsigned char c = bytes[i++];
        switch (c) {
        case '\b': n = detail::put(out, n, "\\b"); break;
        case '\t': n = detail::put(out, n, "\\t"); break;
        case '\n': n = detail::put(out, n, "\\n"); break;
        case '\f': n = detail::put(out, n, "\\f"); break;
        case '\r': n = detail::put(out, n, "\\r"); break;
        case '"': n = detail::put(out, n, "\\\""); break;
        case '\\': n = detail::put(out, n, "\\\\"); break;
        default:
            if (c < 0x20) {
                n = detail::put(out, n, "\\u00");
                out[n++] = hex[c >> 4];
                out[n++] = hex[c & 15];
            } else {
                out[n++] = static_cast<char>(c);
            }
        }
    }
    n = detail::put(out, n, "\",\"stream\":\"");
    n = detail::put(out, n, stream);
    n = detail::put(out, n, "\",\"time\":\"");
    n = detail::put(out, n, time);
    n = detail::put(out, n, "\"}\n");
    return n;
}

}  // namespace skiff::logfmt
