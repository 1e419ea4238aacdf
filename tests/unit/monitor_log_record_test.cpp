// The log record encoder shared by skiff-monitor and the engine (monitor/log_record.hpp) must
// write what the engine wrote with nlohmann::json before it, byte for byte: `logs` of old
// and new containers alike, and any JSON reader, take the same records.
#include <catch2/catch.hpp>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string>

#include "common/clock.hpp"
#include "monitor/log_record.hpp"

namespace {

std::string encoded(const std::string& text, const char* stream = "stdout") {
    std::string out(skiff::logfmt::record_capacity(text.size()), '\0');
    out.resize(skiff::logfmt::encode_record(out.data(), stream, text.data(), text.size(), "T"));
    return out;
}

std::string by_nlohmann(const std::string& text, const char* stream = "stdout") {
    nlohmann::json record = {{"log", text}, {"stream", stream}, {"time", "T"}};
    return record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace

TEST_CASE("log records: the same bytes as nlohmann's dump with replacement of bad UTF-8") {
    const char* cases[] = {
        "hello\n",
        "",
        "tab\there \"quoted\" back\\slash /slash\r\n",
        "\x01\x02\x1b[0m\x7f\x1f\b\f",
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbd",  // valid 2, 3, 4 byte sequences
        "\xff bad lead",
        "\x80 lone continuation",
        "\xc0\xaf overlong",
        "\xe2\x82 cut short inside",
        "\xe2\x82",  // cut short at the end
        "\xed\xa0\x80 surrogate",
        "\xf4\x90\x80\x80 above U+10FFFF",
        "\xe0\x80\x80 overlong 3",
        "\xf0\x80\x80\x80 overlong 4",
        "\xc3\xc3\xa9 lead then valid",
        "mixed \xf0\x9f\x98 then \xc3",
    };
    for (const char* c : cases) {
        std::string text = c;
        INFO("text: " << text);
        CHECK(encoded(text) == by_nlohmann(text));
        CHECK(encoded(text, "stderr") == by_nlohmann(text, "stderr"));
    }
    // Every single byte value, alone and after a valid lead.
    for (int b = 0; b < 256; ++b) {
        std::string one(1, static_cast<char>(b));
        CHECK(encoded(one) == by_nlohmann(one));
        std::string two = "\xe2" + one + "x";
        CHECK(encoded(two) == by_nlohmann(two));
    }
}

TEST_CASE("log records: times in the format of rfc3339_now") {
    struct timespec ts {0, 0};
    char out[32];
    CHECK(std::string(out, skiff::logfmt::format_rfc3339(ts, out)) == "1970-01-01T00:00:00.000000000Z");
    ts = {951782400 + 86399, 7};  // 2000-02-29 23:59:59 (a leap day)
    CHECK(std::string(out, skiff::logfmt::format_rfc3339(ts, out)) == "2000-02-29T23:59:59.000000007Z");
    ts = {4102444800, 123456789};  // 2100-01-01
    CHECK(std::string(out, skiff::logfmt::format_rfc3339(ts, out)) == "2100-01-01T00:00:00.123456789Z");
    // Against the engine's own clock: the same shape, the same second (or the next).
    ::clock_gettime(CLOCK_REALTIME, &ts);
    std::string ours(out, skiff::logfmt::format_rfc3339(ts, out));
    std::string engine = skiff::rfc3339_now();
    REQUIRE(engine.size() == ours.size());
    auto a = skiff::parse_rfc3339(ours), b = skiff::parse_rfc3339(engine);
    REQUIRE(a);
    REQUIRE(b);
    CHECK(b->seconds - a->seconds <= 1);
    CHECK(b->seconds >= a->seconds);
}
