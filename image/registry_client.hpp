// A client for one repository on one registry endpoint (OCI distribution API v2), on libcurl.
//
// - Scheme: https, or plain http when the endpoint is insecure (loopback by default).
//   tls_verify=false keeps https but skips certificate checks (--tls-verify=false).
// - Auth: requests go out anonymously (or with a cached token); on 401 the WWW-Authenticate
//   challenge decides: Bearer -> GET realm?service=&scope= (with basic credentials when we
//   have them) and retry with the token; Basic -> retry with the credentials. Tokens are cached
//   per scope for the client's life.
// - Retries: connection failures, dropped transfers, 5xx and 429 are retried with exponential
//   backoff (honouring Retry-After up to a bound), `retries` times. A blob download that
//   dropped after some bytes resumes with a Range request when the server allows it.
// - Redirects (blob storage behind 307s) are followed; credentials are not sent to another host.
// - Timeouts: connect timeout, and a transfer that moves fewer than 1 byte/s for
//   `stall_timeout_seconds` is abandoned (a registry that hangs), then retried.
// - Errors are one line naming the request and what the registry said:
//   "GET http://127.0.0.1:5000/v2/foo/manifests/latest: 404 Not Found: MANIFEST_UNKNOWN: manifest unknown";
//   last_http_status() tells the caller which status it was.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "image/auth.hpp"
#include "image/registries.hpp"

namespace skiff::image {

struct ClientOptions {
    std::optional<Credentials> credentials;
    bool tls_verify = true;
    int retries = 3;                       // extra attempts after the first
    int connect_timeout_seconds = 30;
    int stall_timeout_seconds = 30;
    int initial_backoff_ms = 200;          // doubles each retry
    std::string user_agent = "skiff/0.1.0";
};

struct Fetched {
    std::string body;
    std::string content_type;
    std::string docker_content_digest;  // header, "" when absent
};

// Called with each chunk of a blob as it arrives; an error aborts the transfer (no retry).
using BlobSink = std::function<Status(const char* data, size_t size)>;
// Called by uploads to fill `buffer` with up to `capacity` bytes; 0 means end of data.
using BlobSource = std::function<Result<size_t>(char* buffer, size_t capacity)>;

class RegistryClient {
public:
    // endpoint.host / endpoint.repository from registries.conf resolution.
    static Result<RegistryClient> create(const Endpoint& endpoint, ClientOptions options);
    ~RegistryClient();
    RegistryClient(RegistryClient&&) noexcept;
    RegistryClient& operator=(RegistryClient&&) noexcept;

    // GET /v2/ (authenticating when challenged): login checks credentials with this.
    Status ping();

    // GET /v2/<repo>/manifests/<reference>, Accept: every manifest/index type we parse.
    // Bodies over max_bytes are refused before they are read whole.
    Result<Fetched> get_manifest(std::string_view reference, size_t max_bytes);
    // A small blob (image config) read whole, at most max_bytes. Not verified here.
    Result<std::string> get_blob(std::string_view digest, size_t max_bytes);
    // Stream a blob to `sink` (following redirects). `offset` > 0 asks for the rest of a
    // blob from there (Range). Resumption after a dropped connection is internal.
    Status stream_blob(std::string_view digest, const BlobSink& sink, int64_t offset = 0);

    // HEAD /v2/<repo>/blobs/<digest>.
    Result<bool> blob_exists(std::string_view digest);
    // POST /v2/<repo>/blobs/uploads/?mount=<digest>&from=<repo>: true when the registry
    // mounted it (201), false when it started an ordinary upload instead (202; cancelled).
    Result<bool> mount_blob(std::string_view digest, std::string_view from_repository);
    // POST an upload session, PATCH the data in chunks from `source`, PUT ?digest= to finish.
    Status upload_blob(std::string_view digest, int64_t size, const BlobSource& source);
    // PUT /v2/<repo>/manifests/<reference> with Content-Type media_type.
    Status put_manifest(std::string_view reference, std::string_view media_type, std::string_view body);

    // HTTP status of the last response, 0 when none (connection failure).
    long last_http_status() const;
    // "http://127.0.0.1:5000" or "https://quay.io": for messages.
    std::string base_url() const;

private:
    struct Impl;
    explicit RegistryClient(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace skiff::image
