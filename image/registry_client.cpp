#include "image/registry_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "image/manifest.hpp"

namespace skiff::image {

namespace {

using nlohmann::json;

constexpr int kMaxRedirects = 10;
// Bodies of error responses and redirects are only read for the message.
constexpr size_t kMaxErrorBody = 64u << 10;
constexpr size_t kMaxTokenBody = 1u << 20;
// Upload chunk: big enough to keep requests few, small enough to hold in memory per thread.
constexpr size_t kUploadChunk = 8u << 20;
constexpr int kMaxRetryDelayMs = 10'000;

std::once_flag g_curl_once;
CURLcode g_curl_init = CURLE_FAILED_INIT;

struct CurlDeleter {
    void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
using CurlHandle = std::unique_ptr<CURL, CurlDeleter>;

struct SlistDeleter {
    void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

struct UrlDeleter {
    void operator()(CURLU* url) const { curl_url_cleanup(url); }
};
using CurlUrl = std::unique_ptr<CURLU, UrlDeleter>;

Result<CurlHandle> new_handle() {
    std::call_once(g_curl_once, [] { g_curl_init = curl_global_init(CURL_GLOBAL_DEFAULT); });
    if (g_curl_init != CURLE_OK)
        return fail(std::string("initialise libcurl: ") + curl_easy_strerror(g_curl_init));
    CurlHandle handle(curl_easy_init());
    if (!handle) return fail("initialise libcurl: curl_easy_init failed");
    return handle;
}

std::string lowercase(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
        s.remove_suffix(1);
    return s;
}

// Errors are one line: whatever a server says is flattened and bounded.
std::string one_line(std::string_view s, size_t max = 300) {
    std::string out;
    for (char c : s.substr(0, max)) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
    if (s.size() > max) out += "...";
    return std::string(trim(out));
}

std::string percent_encode(std::string_view s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            out += c;
        } else {
            out += '%';
            out += kHex[u >> 4];
            out += kHex[u & 15];
        }
    }
    return out;
}

std::string_view reason_phrase(long status) {
    switch (status) {
        case 200: return "OK";
        case 201: return "Created";
        case 202: return "Accepted";
        case 204: return "No Content";
        case 206: return "Partial Content";
        case 301: return "Moved Permanently";
        case 302: return "Found";
        case 303: return "See Other";
        case 307: return "Temporary Redirect";
        case 308: return "Permanent Redirect";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 409: return "Conflict";
        case 412: return "Precondition Failed";
        case 413: return "Payload Too Large";
        case 416: return "Range Not Satisfiable";
        case 429: return "Too Many Requests";
        case 500: return "Internal Server Error";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        case 504: return "Gateway Timeout";
        default: return "";
    }
}

// `location` (absolute or relative) resolved against `base`.
Result<std::string> resolve_url(const std::string& base, const std::string& location) {
    CurlUrl url(curl_url());
    if (!url) return fail("out of memory");
    if (curl_url_set(url.get(), CURLUPART_URL, base.c_str(), 0) != CURLUE_OK ||
        curl_url_set(url.get(), CURLUPART_URL, location.c_str(), 0) != CURLUE_OK)
        return fail("invalid Location \"" + one_line(location) + "\" from " + base);
    char* out = nullptr;
    if (curl_url_get(url.get(), CURLUPART_URL, &out, 0) != CURLUE_OK)
        return fail("invalid Location \"" + one_line(location) + "\" from " + base);
    std::string result(out);
    curl_free(out);
    return result;
}

// "scheme://host:port" with the default port filled in: credentials go only where this matches.
std::string origin_of(const std::string& text) {
    CurlUrl url(curl_url());
    if (!url || curl_url_set(url.get(), CURLUPART_URL, text.c_str(), 0) != CURLUE_OK) return "";
    std::string out;
    for (CURLUPart part : {CURLUPART_SCHEME, CURLUPART_HOST, CURLUPART_PORT}) {
        char* value = nullptr;
        if (curl_url_get(url.get(), part, &value, CURLU_DEFAULT_PORT) != CURLUE_OK) return "";
        out += lowercase(value);
        out += part == CURLUPART_SCHEME ? "://" : part == CURLUPART_HOST ? ":" : "";
        curl_free(value);
    }
    return out;
}

std::string with_query(const std::string& url, std::string_view param) {
    return url + (url.find('?') == std::string::npos ? "?" : "&") + std::string(param);
}

struct Response {
    long status = 0;
    std::string reason;
    std::vector<std::pair<std::string, std::string>> headers;  // names lowercase
    std::string body;
    std::string url;  // after redirects

    std::string header(std::string_view name) const {
        for (const auto& [key, value] : headers)
            if (key == name) return value;
        return "";
    }
    // Every value of a repeated header, as one comma-separated list (RFC 7230 3.2.2).
    std::string header_all(std::string_view name) const {
        std::string out;
        for (const auto& [key, value] : headers) {
            if (key != name) continue;
            if (!out.empty()) out += ", ";
            out += value;
        }
        return out;
    }
};

struct Request {
    std::string method = "GET";
    std::string url;
    std::vector<std::string> headers;
    std::string_view body;                 // PUT, PATCH and POST
    std::vector<std::string> scopes;       // token scopes for this request
    bool registry_auth = true;             // false: token requests (fixed_auth only)
    std::string fixed_auth;                // Authorization for a token request
    size_t max_body = kMaxErrorBody;       // 2xx body read into Response::body
    // stream_blob: a 2xx body goes to `sink`, from byte `offset` of the blob.
    const BlobSink* sink = nullptr;
    int64_t offset = 0;
    int64_t delivered = 0;                 // bytes the sink has taken, across attempts
};

// One curl transfer's state, shared with the callbacks.
struct Transfer {
    Request* request = nullptr;
    Response response;
    std::optional<Error> abort;  // we stopped the transfer: never retried
    bool body_started = false;
    int64_t skip = 0;            // leading bytes of a 200 to drop (server ignored Range)
    size_t read_pos = 0;         // upload position in request->body
};

std::unexpected<Error> too_large(const Request& request, size_t max) {
    return fail(request.method + " " + request.url + ": response larger than " +
                std::to_string(max) + " bytes");
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    size_t len = size * count;
    std::string_view line = trim(std::string_view(data, len));
    Response& r = t->response;
    if (line.starts_with("HTTP/")) {
        // A new response (after 100 Continue, say) replaces what came before.
        r.headers.clear();
        r.reason.clear();
        size_t sp = line.find(' ');
        if (sp != std::string_view::npos) {
            std::string_view rest = line.substr(sp + 1);
            r.status = std::strtol(std::string(rest.substr(0, 3)).c_str(), nullptr, 10);
            if (rest.size() > 4) r.reason = one_line(rest.substr(4), 100);
        }
    } else if (line.empty()) {
        const Request& q = *t->request;
        if (r.status >= 200 && r.status < 300 && q.method != "HEAD" && !q.sink) {
            std::string length = r.header("content-length");
            if (!length.empty() && std::strtoull(length.c_str(), nullptr, 10) > q.max_body) {
                t->abort = too_large(q, q.max_body).error();
                return 0;
            }
        }
    } else if (size_t colon = line.find(':'); colon != std::string_view::npos) {
        r.headers.emplace_back(lowercase(trim(line.substr(0, colon))),
                               std::string(trim(line.substr(colon + 1))));
    }
    return len;
}

// First bytes of a 2xx stream: check it starts where we asked.
std::optional<Error> start_stream(Transfer& t) {
    Request& q = *t.request;
    const Response& r = t.response;
    const int64_t position = q.offset + q.delivered;
    if (r.status == 206) {
        std::string range = r.header("content-range");
        int64_t start = -1;
        if (range.starts_with("bytes ")) start = std::strtoll(range.c_str() + 6, nullptr, 10);
        if (start != position)
            return Error{0, q.method + " " + q.url + ": asked for bytes from " +
                                std::to_string(position) + ", got Content-Range \"" +
                                one_line(range) + "\""};
        return std::nullopt;
    }
    if (position == 0) return std::nullopt;
    if (q.delivered > 0)
        return Error{0, q.method + " " + q.url + ": connection dropped after " +
                            std::to_string(q.delivered) +
                            " bytes and the server does not resume (no range support)"};
    // The caller asked for an offset and the server sent the whole blob: skip to it.
    t.skip = q.offset;
    return std::nullopt;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    size_t len = size * count;
    Request& q = *t->request;
    Response& r = t->response;
    bool success = r.status >= 200 && r.status < 300;
    if (success && q.sink) {
        if (!t->body_started) {
            t->body_started = true;
            if (auto e = start_stream(*t)) {
                t->abort = std::move(*e);
                return 0;
            }
        }
        size_t skipped = static_cast<size_t>(std::min<int64_t>(t->skip, static_cast<int64_t>(len)));
        t->skip -= static_cast<int64_t>(skipped);
        if (len > skipped) {
            if (auto st = (*q.sink)(data + skipped, len - skipped); !st) {
                t->abort = std::move(st).error();
                return 0;
            }
            q.delivered += static_cast<int64_t>(len - skipped);
        }
        return len;
    }
    if (success) {
        if (r.body.size() + len > q.max_body) {
            t->abort = too_large(q, q.max_body).error();
            return 0;
        }
        r.body.append(data, len);
    } else if (r.body.size() < kMaxErrorBody) {
        r.body.append(data, std::min(len, kMaxErrorBody - r.body.size()));
    }
    return len;
}

size_t on_read(char* buffer, size_t size, size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    std::string_view body = t->request->body;
    size_t n = std::min(size * count, body.size() - t->read_pos);
    if (n == 0) return 0;
    std::memcpy(buffer, body.data() + t->read_pos, n);
    t->read_pos += n;
    return n;
}

// curl rewinds the body when it resends a request on a reused connection that died.
int on_seek(void* user, curl_off_t offset, int origin) {
    auto* t = static_cast<Transfer*>(user);
    if (origin != SEEK_SET || offset < 0 || static_cast<size_t>(offset) > t->request->body.size())
        return CURL_SEEKFUNC_CANTSEEK;
    t->read_pos = static_cast<size_t>(offset);
    return CURL_SEEKFUNC_OK;
}

struct Outcome {
    CURLcode code = CURLE_OK;
    std::string curl_error;
    std::optional<Error> abort;
    Response response;
};

bool retryable(CURLcode code) {
    switch (code) {
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_OUT_OF_MEMORY:
        case CURLE_BAD_FUNCTION_ARGUMENT:
        case CURLE_NOT_BUILT_IN:
        case CURLE_FAILED_INIT:
        case CURLE_READ_ERROR:
        case CURLE_WRITE_ERROR:
        case CURLE_ABORTED_BY_CALLBACK:
        case CURLE_TOO_MANY_REDIRECTS:
            return false;
        default:
            return true;
    }
}

bool is_redirect(long status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// "CODE: message" for each entry of a registry's {"errors": [...]} body.
std::string registry_error_detail(const Response& response) {
    json doc = json::parse(response.body, nullptr, false);
    std::string out;
    if (!doc.is_discarded() && doc.is_object()) {
        auto errors = doc.find("errors");
        if (errors != doc.end() && errors->is_array()) {
            for (const json& e : *errors) {
                if (!e.is_object()) continue;
                std::string code = e.contains("code") && e["code"].is_string() ? e["code"].get<std::string>() : "";
                std::string message = e.contains("message") && e["message"].is_string()
                                          ? e["message"].get<std::string>()
                                          : "";
                std::string item = code.empty() ? message : message.empty() ? code : code + ": " + message;
                if (item.empty()) continue;
                if (!out.empty()) out += "; ";
                out += item;
            }
        }
        // Token servers answer {"details": "..."} or {"error": "..."}.
        for (const char* key : {"details", "error_description", "error"}) {
            if (!out.empty()) break;
            if (auto it = doc.find(key); it != doc.end() && it->is_string()) out = it->get<std::string>();
        }
        return one_line(out);
    }
    if (lowercase(response.header("content-type")).starts_with("text/plain")) {
        std::string_view body = response.body;
        return one_line(body.substr(0, body.find('\n')));
    }
    return "";
}

std::unexpected<Error> http_error(const Request& request, const Response& response) {
    std::string reason(reason_phrase(response.status));
    if (reason.empty()) reason = response.reason;
    std::string message = request.method + " " + request.url + ": " + std::to_string(response.status);
    if (!reason.empty()) message += " " + reason;
    if (std::string detail = registry_error_detail(response); !detail.empty()) message += ": " + detail;
    return fail(message);
}

// Retry-After in seconds, or -1 (HTTP dates are not worth parsing here: backoff applies).
int retry_after_ms(const Response& response) {
    std::string value = response.header("retry-after");
    if (value.empty() || !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return -1;
    if (value.size() > 6) return kMaxRetryDelayMs;
    return std::min(std::stoi(value) * 1000, kMaxRetryDelayMs);
}

}  // namespace

struct RegistryClient::Impl {
    Endpoint endpoint;
    ClientOptions options;
    std::string base;    // "http://127.0.0.1:5000"
    std::string origin;  // base with the default port, for comparisons

    std::mutex mutex;                            // guards the two below
    std::map<std::string, std::string> tokens;   // scopes -> "Bearer ..."
    std::string basic;                           // "Basic ..." once a registry asked for it
    std::atomic<long> last_status{0};

    std::string repo_url(std::string_view kind, std::string_view tail) const {
        return base + "/v2/" + endpoint.repository + "/" + std::string(kind) + "/" + std::string(tail);
    }
    std::string scope(bool push) const {
        return "repository:" + endpoint.repository + (push ? ":pull,push" : ":pull");
    }
    std::string basic_value() const {
        return "Basic " + base64_encode(options.credentials->username + ":" + options.credentials->password);
    }
    static std::string scope_key(const std::vector<std::string>& scopes) {
        std::string key;
        for (const auto& s : scopes) key += s + " ";
        return key;
    }
    std::string cached_auth(const std::vector<std::string>& scopes) {
        std::lock_guard lock(mutex);
        if (!basic.empty()) return basic;
        auto it = tokens.find(scope_key(scopes));
        return it == tokens.end() ? "" : it->second;
    }

    Outcome perform(CURL* h, Request& request, const std::string& url, const std::string& auth);
    Result<Outcome> attempt(CURL* h, Request& request);
    Result<Response> execute(CURL* h, Request& request);
    Status authenticate(CURL* h, const Request& request, const Response& response,
                        const std::string& sent_auth);
    Result<std::string> fetch_token(CURL* h, const std::string& realm, const std::string& service,
                                    const std::vector<std::string>& scopes);
    Result<std::string> start_upload(CURL* h);
};

Outcome RegistryClient::Impl::perform(CURL* h, Request& request, const std::string& url,
                                      const std::string& auth) {
    curl_easy_reset(h);
    Transfer transfer;
    transfer.request = &request;
    char error_buffer[CURL_ERROR_SIZE] = {};

    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);  // we follow, deciding where auth goes
    curl_easy_setopt(h, CURLOPT_USERAGENT, options.user_agent.c_str());
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, static_cast<long>(options.connect_timeout_seconds));
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options.stall_timeout_seconds));
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &transfer);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &transfer);
    if (!options.tls_verify) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }

    curl_slist* raw = nullptr;
    auto add = [&raw](const std::string& header) {
        if (curl_slist* next = curl_slist_append(raw, header.c_str())) raw = next;
    };
    for (const auto& header : request.headers) add(header);
    if (!auth.empty()) add("Authorization: " + auth);
    if (request.sink && request.offset + request.delivered > 0)
        add("Range: bytes=" + std::to_string(request.offset + request.delivered) + "-");
    add("Expect:");  // no 100-continue round trip before bodies
    Slist headers(raw);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());

    static const char kEmpty[] = "";
    const std::string& method = request.method;
    if (method == "HEAD") {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (method == "POST") {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.empty() ? kEmpty : request.body.data());
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    } else if (method == "PUT" || method == "PATCH") {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, &transfer);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, &transfer);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
        if (method == "PATCH") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PATCH");
    } else if (method != "GET") {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
    }

    Outcome out;
    out.code = curl_easy_perform(h);
    if (out.code != CURLE_OK)
        out.curl_error = error_buffer[0] ? one_line(error_buffer) : curl_easy_strerror(out.code);
    if (transfer.response.status == 0) {
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        transfer.response.status = status;
    }
    transfer.response.url = url;
    last_status = out.code == CURLE_OK ? transfer.response.status : 0;
    out.abort = std::move(transfer.abort);
    out.response = std::move(transfer.response);
    return out;
}

// One attempt: the request, plus the authentication round and redirects it leads to.
Result<Outcome> RegistryClient::Impl::attempt(CURL* h, Request& request) {
    const std::string first_origin = origin_of(request.url);
    std::string url = request.url;
    bool authenticated = false;
    for (int hop = 0; hop <= kMaxRedirects; ++hop) {
        bool same_origin = origin_of(url) == first_origin;
        std::string auth;
        if (same_origin) auth = request.registry_auth ? cached_auth(request.scopes) : request.fixed_auth;
        Outcome out = perform(h, request, url, auth);
        if (out.code != CURLE_OK || out.abort) return out;
        long status = out.response.status;
        if (status == 401 && same_origin && request.registry_auth && !authenticated) {
            authenticated = true;
            SKIFF_CHECK(authenticate(h, request, out.response, auth));
            continue;
        }
        if (is_redirect(status) && (request.method == "GET" || request.method == "HEAD")) {
            std::string location = out.response.header("location");
            if (location.empty()) return out;
            SKIFF_TRY(next, resolve_url(url, location));
            url = std::move(next);
            continue;
        }
        return out;
    }
    return fail(request.method + " " + request.url + ": more than " + std::to_string(kMaxRedirects) +
                " redirects");
}

Result<Response> RegistryClient::Impl::execute(CURL* h, Request& request) {
    int failures = 0;
    for (;;) {
        const int64_t delivered_before = request.delivered;
        SKIFF_TRY(out, attempt(h, request));
        if (out.abort) {
            last_status = out.response.status;
            return std::unexpected(std::move(*out.abort));
        }
        int delay_ms = -1;
        if (out.code != CURLE_OK) {
            last_status = 0;
            if (!retryable(out.code)) return fail(request.method + " " + request.url + ": " + out.curl_error);
        } else {
            last_status = out.response.status;
            if (out.response.status < 500 && out.response.status != 429) return std::move(out.response);
            delay_ms = retry_after_ms(out.response);
        }
        // A download that moved forward before dropping is not a failed attempt: it resumes.
        if (request.delivered == delivered_before) ++failures;
        if (failures > options.retries) {
            if (out.code == CURLE_OK) return std::move(out.response);
            std::string message = request.method + " " + request.url + ": " + out.curl_error;
            if (failures > 1) message += " (gave up after " + std::to_string(failures) + " attempts)";
            return fail(message);
        }
        if (delay_ms < 0) {
            int64_t backoff = int64_t(std::max(options.initial_backoff_ms, 0)) << std::min(std::max(failures - 1, 0), 20);
            delay_ms = static_cast<int>(std::min<int64_t>(backoff, kMaxRetryDelayMs));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    }
}

Status RegistryClient::Impl::authenticate(CURL* h, const Request& request, const Response& response,
                                          const std::string& sent_auth) {
    std::string header = response.header_all("www-authenticate");
    if (header.empty()) return http_error(request, response);
    auto parsed = parse_www_authenticate(header);
    if (!parsed) return fail(request.method + " " + request.url + ": 401 Unauthorized: " + parsed.error().what);
    const AuthChallenge* bearer = nullptr;
    const AuthChallenge* basic_challenge = nullptr;
    for (const auto& c : *parsed) {
        if (c.scheme == "bearer" && !bearer) bearer = &c;
        if (c.scheme == "basic" && !basic_challenge) basic_challenge = &c;
    }
    if (bearer) {
        auto realm = bearer->params.find("realm");
        if (realm == bearer->params.end() || realm->second.empty())
            return fail(request.method + " " + request.url + ": 401 Unauthorized: Bearer challenge without realm");
        auto service = bearer->params.find("service");
        std::vector<std::string> scopes = request.scopes;
        // ping has no scope of its own: ask for whatever the registry named, if anything.
        if (auto scope = bearer->params.find("scope"); scopes.empty() && scope != bearer->params.end())
            scopes.push_back(scope->second);
        SKIFF_TRY(token, fetch_token(h, realm->second,
                                     service == bearer->params.end() ? "" : service->second, scopes));
        std::lock_guard lock(mutex);
        tokens[scope_key(request.scopes)] = "Bearer " + token;
        return ok();
    }
    if (basic_challenge) {
        if (!options.credentials)
            return fail(request.method + " " + request.url + ": 401 Unauthorized: authentication required");
        std::string value = basic_value();
        if (sent_auth == value) return http_error(request, response);  // wrong credentials
        std::lock_guard lock(mutex);
        basic = value;
        return ok();
    }
    return fail(request.method + " " + request.url + ": 401 Unauthorized: unsupported authentication scheme \"" +
                one_line(parsed->front().scheme) + "\"");
}

Result<std::string> RegistryClient::Impl::fetch_token(CURL* h, const std::string& realm,
                                                      const std::string& service,
                                                      const std::vector<std::string>& scopes) {
    std::string url = realm;
    if (!service.empty()) url = with_query(url, "service=" + percent_encode(service));
    for (const auto& s : scopes) url = with_query(url, "scope=" + percent_encode(s));
    if (!url.starts_with("http://") && !url.starts_with("https://"))
        return fail("token realm \"" + one_line(realm) + "\" is not an http(s) URL");
    Request request;
    request.url = url;
    request.registry_auth = false;
    request.max_body = kMaxTokenBody;
    if (options.credentials) request.fixed_auth = basic_value();
    SKIFF_TRY(response, execute(h, request));
    if (response.status != 200) return http_error(request, response);
    json doc = json::parse(response.body, nullptr, false);
    if (!doc.is_discarded() && doc.is_object()) {
        for (const char* key : {"token", "access_token"}) {
            if (auto it = doc.find(key); it != doc.end() && it->is_string() && !it->get<std::string>().empty())
                return it->get<std::string>();
        }
    }
    return fail("GET " + url + ": no token in the response");
}

Result<std::string> RegistryClient::Impl::start_upload(CURL* h) {
    Request request;
    request.method = "POST";
    request.url = base + "/v2/" + endpoint.repository + "/blobs/uploads/";
    request.scopes = {scope(true)};
    SKIFF_TRY(response, execute(h, request));
    if (response.status != 202) return http_error(request, response);
    std::string location = response.header("location");
    if (location.empty()) return fail("POST " + request.url + ": 202 Accepted without a Location");
    return resolve_url(response.url, location);
}

RegistryClient::RegistryClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RegistryClient::~RegistryClient() = default;
RegistryClient::RegistryClient(RegistryClient&&) noexcept = default;
RegistryClient& RegistryClient::operator=(RegistryClient&&) noexcept = default;

Result<RegistryClient> RegistryClient::create(const Endpoint& endpoint, ClientOptions options) {
    if (endpoint.host.empty()) return fail("registry client: empty registry host");
    SKIFF_TRY(probe, new_handle());  // fails early when libcurl cannot start
    (void)probe;
    auto impl = std::make_unique<Impl>();
    impl->endpoint = endpoint;
    impl->options = std::move(options);
    impl->base = (endpoint.insecure ? "http://" : "https://") + endpoint.host;
    impl->origin = origin_of(impl->base);
    if (impl->origin.empty()) return fail("registry client: invalid registry host \"" + endpoint.host + "\"");
    return RegistryClient(std::move(impl));
}

Status RegistryClient::ping() {
    SKIFF_TRY(h, new_handle());
    Request request;
    request.url = impl_->base + "/v2/";
    SKIFF_TRY(response, impl_->execute(h.get(), request));
    if (response.status / 100 != 2) return http_error(request, response);
    return ok();
}

Result<Fetched> RegistryClient::get_manifest(std::string_view reference, size_t max_bytes) {
    SKIFF_TRY(h, new_handle());
    Request request;
    request.url = impl_->repo_url("manifests", reference);
    request.scopes = {impl_->scope(false)};
    request.max_body = max_bytes;
    request.headers.push_back("Accept: " + std::string(kOciIndex) + ", " + std::string(kOciManifest) + ", " +
                              std::string(kDockerManifestList) + ", " + std::string(kDockerManifest));
    SKIFF_TRY(response, impl_->execute(h.get(), request));
    if (response.status != 200) return http_error(request, response);
    Fetched fetched;
    fetched.body = std::move(response.body);
    std::string type = response.header("content-type");
    fetched.content_type = std::string(trim(std::string_view(type).substr(0, type.find(';'))));
    fetched.docker_content_digest = response.header("docker-content-digest");
    return fetched;
}

Result<std::string> RegistryClient::get_blob(std::string_view digest, size_t max_bytes) {
    SKIFF_TRY(h, new_handle());
    Request request;
    request.url = impl_->repo_url("blobs", digest);
    request.scopes = {impl_->scope(false)};
    request.max_body = max_bytes;
    SKIFF_TRY(response, impl_->execute(h.get(), request));
    if (response.status != 200) return http_error(request, response);
    return std::move(response.body);
}

Status RegistryClient::stream_blob(std::string_view digest, const BlobSink& sink, int64_t offset) {
    if (offset < 0) return fail("stream blob " + std::string(digest) + ": negative offset");
    SKIFF_TRY(h, new_handle());
    Request request;
    request.url = impl_->repo_url("blobs", digest);
    request.scopes = {impl_->scope(false)};
    request.sink = &sink;
    request.offset = offset;
    SKIFF_TRY(response, impl_->execute(h.get(), request));
    if (response.status != 200 && response.status != 206) return http_error(request, response);
    return ok();
}

Result<bool> RegistryClient::blob_exists(std::string_view digest) {
    SKIFF_TRY(h, new_handle());
    Request request;
    request.method = "HEAD";
    request.url = impl_->repo_url("blobs", digest);
    request.scopes = {impl_->scope(false)};
    SKIFF_TRY(response, impl_->execute(h.get(), request));
    if (response.status == 200) return true;
    if (response.status == 404) return false;
    return http_error(request, response);
}

Result<bool> RegistryClient::mount_blob(std::string_view digest, std::string_view from_repository) {
    SKIFF_TRY(h, new_handle());
    Request request;
    request.method = "POST";
    request.url = impl_->base + "/v2/" + impl_->endpoint.repository + "/blobs/uploads/?mount=" +
                  percent_encode(digest) + "&from=" + percent_encode(from_repository);
    // Docker asks for both repositories in one token.
    request.scopes = {impl_->scope(true), "repository:" + std::string(from_repository) + ":pull"};
    SKIFF_TRY(response, impl_->execute(h.get(), request));
    if (response.status == 201) return true;
    if (response.status != 202) return http_error(request, response);
    // The registry started an ordinary upload instead: cancel it, best effort.
    if (std::string location = response.header("location"); !location.empty()) {
        if (auto url = resolve_url(response.url, location)) {
            Request cancel;
            cancel.method = "DELETE";
            cancel.url = *url;
            cancel.scopes = request.scopes;
            (void)impl_->execute(h.get(), cancel);
        }
    }
    return false;
}

Status RegistryClient::upload_blob(std::string_view digest, int64_t size, const BlobSource& source) {
    if (size < 0) return fail("upload blob " + std::string(digest) + ": negative size");
    SKIFF_TRY(h, new_handle());
    SKIFF_TRY(location, impl_->start_upload(h.get()));

    std::string chunk(static_cast<size_t>(std::min<int64_t>(size, kUploadChunk)), '\0');
    int64_t sent = 0;
    while (sent < size) {
        size_t want = static_cast<size_t>(std::min<int64_t>(size - sent, static_cast<int64_t>(chunk.size())));
        size_t filled = 0;
        while (filled < want) {
            SKIFF_TRY(n, source(chunk.data() + filled, want - filled));
            if (n == 0)
                return fail("upload blob " + std::string(digest) + ": data ended after " +
                            std::to_string(sent + static_cast<int64_t>(filled)) + " of " +
                            std::to_string(size) + " bytes");
            filled += std::min(n, want - filled);
        }
        Request patch;
        patch.method = "PATCH";
        patch.url = location;
        patch.scopes = {impl_->scope(true)};
        patch.body = std::string_view(chunk.data(), filled);
        patch.headers = {"Content-Type: application/octet-stream",
                         "Content-Range: " + std::to_string(sent) + "-" +
                             std::to_string(sent + static_cast<int64_t>(filled) - 1)};
        SKIFF_TRY(response, impl_->execute(h.get(), patch));
        if (response.status != 202) return http_error(patch, response);
        // Each answer names where the next request goes (distribution keeps state in it).
        if (std::string next = response.header("location"); !next.empty()) {
            SKIFF_TRY(resolved, resolve_url(response.url, next));
            location = std::move(resolved);
        }
        sent += static_cast<int64_t>(filled);
    }

    Request put;
    put.method = "PUT";
    put.url = with_query(location, "digest=" + percent_encode(digest));
    put.scopes = {impl_->scope(true)};
    put.headers = {"Content-Type: application/octet-stream"};
    SKIFF_TRY(response, impl_->execute(h.get(), put));
    if (response.status != 201 && response.status != 204) return http_error(put, response);
    return ok();
}

Status RegistryClient::put_manifest(std::string_view reference, std::string_view media_type,
                                    std::string_view body) {
    SKIFF_TRY(h, new_handle());
    Request request;
    request.method = "PUT";
    request.url = impl_->repo_url("manifests", reference);
    request.scopes = {impl_->scope(true)};
    request.headers = {"Content-Type: " + std::string(media_type)};
    request.body = body;
    SKIFF_TRY(response, impl_->execute(h.get(), request));
    if (response.status / 100 != 2) return http_error(request, response);
    return ok();
}

long RegistryClient::last_http_status() const { return impl_->last_status; }

std::string RegistryClient::base_url() const { return impl_->base; }

}  // namespace skiff::image
