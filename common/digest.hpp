// Content digests ("sha256:<hex>"): every blob the image store keeps and every layer diff id
// is named and verified by one. Hashing uses OpenSSL's EVP interface (its SHA-256 is the hardware-accelerated one).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace skiff {

struct Digest {
    std::string algorithm;  // "sha256" | "sha512"
    std::string hex;        // lowercase, 64 (sha256) or 128 (sha512) digits

    std::string to_string() const { return algorithm + ":" + hex; }
    bool operator==(const Digest&) const = default;
};

// "algorithm:hex", validated: only sha256 (64 lowercase hex) and sha512 (128) are accepted,
// as in the OCI image spec's registered algorithms. The error quotes the input.
Result<Digest> parse_digest(std::string_view text);

// Streaming SHA-256: feed a blob in pieces while it downloads or unpacks.
class Sha256 {
public:
    Sha256();
    ~Sha256();
    Sha256(Sha256&&) noexcept;
    Sha256& operator=(Sha256&&) noexcept;
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;

    void update(std::span<const std::byte> data);
    void update(std::string_view data);
    // "sha256:<hex>"; the object is spent afterwards (a further call is a logic error and
    // returns the digest of nothing appended to nothing: don't).
    std::string finish();

private:
    struct Ctx;
    std::unique_ptr<Ctx> ctx_;
};

// One-shot "sha256:<hex>" of a whole buffer.
std::string sha256_digest(std::string_view data);

// Ok when `data` hashes to `expected` (any accepted algorithm); else an error naming both
// digests, so a corrupt or substituted blob is reported with what was actually received.
Status verify_digest(std::string_view data, std::string_view expected);

// 2*bytes lowercase hex digits from getrandom(2): container, volume and network ids.
Result<std::string> random_hex(size_t bytes);

}  // namespace skiff
