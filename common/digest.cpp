#include "common/digest.hpp"

#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>

namespace skiff {

namespace {

bool is_lower_hex(std::string_view s) {
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

std::string to_hex(const unsigned char* p, unsigned int n) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(n * 2);
    for (unsigned int i = 0; i < n; ++i) {
        out.push_back(kDigits[p[i] >> 4]);
        out.push_back(kDigits[p[i] & 0xf]);
    }
    return out;
}

// EVP failures here mean OpenSSL itself is broken (out of memory, FIPS provider refusing
// SHA-2): nothing sensible can continue, and a wrong digest must never be returned.
[[noreturn]] void evp_abort(const char* what) {
    std::fprintf(stderr, "skiff: OpenSSL %s failed\n", what);
    std::abort();
}

std::string hash_with(const EVP_MD* md, std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), out, &len, md, nullptr) != 1) evp_abort("EVP_Digest");
    return to_hex(out, len);
}

}  // namespace

Result<Digest> parse_digest(std::string_view text) {
    auto colon = text.find(':');
    if (colon == std::string_view::npos)
        return fail("invalid digest \"" + std::string(text) + "\": expected algorithm:hex");
    std::string_view algorithm = text.substr(0, colon);
    std::string_view hex = text.substr(colon + 1);
    size_t want = 0;
    if (algorithm == "sha256") want = 64;
    else if (algorithm == "sha512") want = 128;
    else
        return fail("invalid digest \"" + std::string(text) + "\": unsupported algorithm \"" +
                    std::string(algorithm) + "\"");
    if (hex.size() != want)
        return fail("invalid digest \"" + std::string(text) + "\": " + std::string(algorithm) +
                    " needs " + std::to_string(want) + " hex digits, got " + std::to_string(hex.size()));
    if (!is_lower_hex(hex))
        return fail("invalid digest \"" + std::string(text) + "\": hex must be lowercase 0-9a-f");
    return Digest{std::string(algorithm), std::string(hex)};
}

struct Sha256::Ctx {
    EVP_MD_CTX* md = nullptr;
    ~Ctx() { EVP_MD_CTX_free(md); }
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
    ctx_->md = EVP_MD_CTX_new();
    if (!ctx_->md) evp_abort("EVP_MD_CTX_new");
    if (EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr) != 1) evp_abort("EVP_DigestInit_ex");
}

Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(std::span<const std::byte> data) {
    if (data.empty()) return;
    if (EVP_DigestUpdate(ctx_->md, data.data(), data.size()) != 1) evp_abort("EVP_DigestUpdate");
}

void Sha256::update(std::string_view data) { update(std::as_bytes(std::span(data.data(), data.size()))); }

std::string Sha256::finish() {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx_->md, out, &len) != 1) evp_abort("EVP_DigestFinal_ex");
    // Re-arm so a stray second call hashes the empty input rather than touching a spent context.
    if (EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr) != 1) evp_abort("EVP_DigestInit_ex");
    return "sha256:" + to_hex(out, len);
}

std::string sha256_digest(std::string_view data) { return "sha256:" + hash_with(EVP_sha256(), data); }

Status verify_digest(std::string_view data, std::string_view expected) {
    SKIFF_TRY(want, parse_digest(expected));
    const EVP_MD* md = want.algorithm == "sha512" ? EVP_sha512() : EVP_sha256();
    std::string got = want.algorithm + ":" + hash_with(md, data);
    if (got != want.to_string())
        return fail("digest mismatch: expected " + want.to_string() + ", got " + got);
    return ok();
}

}  // namespace skiff
