#include <catch2/catch.hpp>

#include <algorithm>
#include <span>
#include <string>

#include "common/digest.hpp"

using namespace skiff;

namespace {
const std::string kEmpty = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const std::string kAbc = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
}  // namespace

TEST_CASE("sha256 known vectors", "[digest][digest]") {
    CHECK(sha256_digest("") == kEmpty);
    CHECK(sha256_digest("abc") == kAbc);
    CHECK(sha256_digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
          "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_CASE("Sha256 streams in pieces", "[digest][digest]") {
    Sha256 h;
    h.update("a");
    h.update("");
    h.update("bc");
    CHECK(h.finish() == kAbc);

    // One million 'a's, fed in uneven chunks (FIPS 180-2 long vector).
    Sha256 m;
    std::string chunk(997, 'a');
    size_t left = 1000000;
    while (left > 0) {
        size_t n = std::min(left, chunk.size());
        m.update(std::string_view(chunk.data(), n));
        left -= n;
    }
    CHECK(m.finish() == "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");

    Sha256 bytes;
    const std::byte data[] = {std::byte{'a'}, std::byte{'b'}, std::byte{'c'}};
    bytes.update(std::span<const std::byte>(data));
    CHECK(bytes.finish() == kAbc);
}

TEST_CASE("parse_digest validates algorithm and hex", "[digest][digest]") {
    auto d = parse_digest(kAbc);
    REQUIRE(d);
    CHECK(d->algorithm == "sha256");
    CHECK(d->hex == kAbc.substr(7));
    CHECK(d->to_string() == kAbc);

    CHECK(parse_digest("sha512:" + std::string(128, 'f')));

    auto no_colon = parse_digest("sha256");
    REQUIRE(!no_colon);
    CHECK(no_colon.error().what.find("algorithm:hex") != std::string::npos);

    auto md5 = parse_digest("md5:d41d8cd98f00b204e9800998ecf8427e");
    REQUIRE(!md5);
    CHECK(md5.error().what.find("unsupported algorithm \"md5\"") != std::string::npos);

    auto short_hex = parse_digest("sha256:abc");
    REQUIRE(!short_hex);
    CHECK(short_hex.error().what.find("64 hex digits, got 3") != std::string::npos);

    CHECK(!parse_digest("sha512:" + std::string(64, 'a')));
    std::string upper = "sha256:" + std::string(64, 'A');
    auto up = parse_digest(upper);
    REQUIRE(!up);
    CHECK(up.error().what.find("lowercase") != std::string::npos);
    CHECK(!parse_digest("sha256:" + std::string(63, 'a') + "g"));
    CHECK(!parse_digest(":" + std::string(64, 'a')));
}

TEST_CASE("verify_digest names both digests on mismatch", "[digest][digest]") {
    CHECK(verify_digest("abc", kAbc));
    CHECK(verify_digest("", kEmpty));
    CHECK(verify_digest("abc",
                        "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"));

    auto bad = verify_digest("abd", kAbc);
    REQUIRE(!bad);
    CHECK(bad.error().what.find("expected " + kAbc) != std::string::npos);
    CHECK(bad.error().what.find("got sha256:") != std::string::npos);

    auto invalid = verify_digest("abc", "sha256:xyz");
    REQUIRE(!invalid);
    CHECK(invalid.error().what.find("invalid digest") != std::string::npos);
}
