#include "common/digest.hpp"

// The low-level SHA-2 functions, not EVP: in OpenSSL 3 the first EVP digest loads the default
// provider, which costs every skiff process 1.7 ms and 2.4 MiB (measured here); these run the
// same assembly cores directly. Deprecated in 3.0, still part of its ABI.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <sys/random.h>


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

// Init/Update/Final: OpenSSL 3's one-shot SHA256() goes through EVP_Q_digest after all.
std::string sha256_hex(std::string_view data) {
    unsigned char out[SHA256_DIGEST_LENGTH];
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, data.data(), data.size());
    SHA256_Final(out, &ctx);
    return to_hex(out, sizeof out);
}

std::string sha512_hex(std::string_view data) {
    unsigned char out[SHA512_DIGEST_LENGTH];
    SHA512_CTX ctx;
    SHA512_Init(&ctx);
    SHA512_Update(&ctx, data.data(), data.size());
    SHA512_Final(out, &ctx);
    return to_hex(out, sizeof out);
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
    SHA256_CTX sha;
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) { SHA256_Init(&ctx_->sha); }

Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(std::span<const std::byte> data) {
    if (data.empty()) return;
    SHA256_Update(&ctx_->sha, data.data(), data.size());
}

void Sha256::update(std::string_view data) { update(std::as_bytes(std::span(data.data(), data.size()))); }

std::string Sha256::finish() {
    unsigned char out[SHA256_DIGEST_LENGTH];
    SHA256_Final(out, &ctx_->sha);
    // Re-arm so a stray second call hashes the empty input rather than touching a spent context.
    SHA256_Init(&ctx_->sha);
    return "sha256:" + to_hex(out, sizeof out);
}

std::string sha256_digest(std::string_view data) { return "sha256:" + sha256_hex(data); }

Status verify_digest(std::string_view data, std::string_view expected) {
    SKIFF_TRY(want, parse_digest(expected));
    std::string got = want.algorithm + ":" + (want.algorithm == "sha512" ? sha512_hex(data) : sha256_hex(data));
    if (got != want.to_string())
        return fail("digest mismatch: expected " + want.to_string() + ", got " + got);
    return ok();
}

Result<std::string> random_hex(size_t bytes) {
    std::string raw(bytes, '\0');
    size_t got = 0;
    while (got < bytes) {
        ssize_t n = ::getrandom(raw.data() + got, bytes - got, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_error("getrandom");
        }
        got += static_cast<size_t>(n);
    }
    return to_hex(reinterpret_cast<const unsigned char*>(raw.data()), static_cast<unsigned int>(bytes));
}

}  // namespace skiff
