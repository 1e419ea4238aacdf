// libcurl, opened on first use instead of at every start of skiff.
//
// Linking libcurl pulls some 25 shared libraries (TLS, Kerberos, LDAP, SASL, ...) into every
// process: measured here 6.4 ms and 6.5 MiB RSS for a program that does nothing, paid twice
// by `skiff run` (it re-executes itself from a sealed copy). Only pull/push/login talk HTTP,
// so the libcurl functions the registry client calls are defined here and forward to the
// real ones, found with dlopen("libcurl.so.4") the first time one is called.
//
// curl_easy_setopt/getinfo are variadic with exactly one argument after the option: a long,
// curl_off_t, pointer or function pointer. On the 64-bit ABIs skiff builds for (x86-64,
// aarch64) these all travel in one general-purpose register, so the argument is forwarded
// as a void*.
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <dlfcn.h>

#include <cstdarg>
#include <mutex>

namespace {

void* libcurl() {
    static void* handle = nullptr;
    static std::once_flag once;
    std::call_once(once, [] { handle = ::dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL); });
    return handle;
}

template <typename F>
F real(const char* name) {
    void* lib = libcurl();
    return lib ? reinterpret_cast<F>(::dlsym(lib, name)) : nullptr;
}

#define SKIFF_CURL_REAL(type, name)               \
    static const auto fn = real<type>(#name);      \
    if (!fn)

}  // namespace

extern "C" {

CURLcode curl_global_init(long flags) {
    SKIFF_CURL_REAL(CURLcode (*)(long), curl_global_init) return CURLE_FAILED_INIT;
    return fn(flags);
}

CURL* curl_easy_init(void) {
    SKIFF_CURL_REAL(CURL* (*)(void), curl_easy_init) return nullptr;
    return fn();
}

void curl_easy_cleanup(CURL* handle) {
    SKIFF_CURL_REAL(void (*)(CURL*), curl_easy_cleanup) return;
    fn(handle);
}

void curl_easy_reset(CURL* handle) {
    SKIFF_CURL_REAL(void (*)(CURL*), curl_easy_reset) return;
    fn(handle);
}

CURLcode curl_easy_setopt(CURL* handle, CURLoption option, ...) {
    va_list ap;
    va_start(ap, option);
    void* value = va_arg(ap, void*);
    va_end(ap);
    SKIFF_CURL_REAL(CURLcode (*)(CURL*, CURLoption, ...), curl_easy_setopt) return CURLE_FAILED_INIT;
    return fn(handle, option, value);
}

CURLcode curl_easy_getinfo(CURL* handle, CURLINFO info, ...) {
    va_list ap;
    va_start(ap, info);
    void* out = va_arg(ap, void*);
    va_end(ap);
    SKIFF_CURL_REAL(CURLcode (*)(CURL*, CURLINFO, ...), curl_easy_getinfo) return CURLE_FAILED_INIT;
    return fn(handle, info, out);
}

CURLcode curl_easy_perform(CURL* handle) {
    SKIFF_CURL_REAL(CURLcode (*)(CURL*), curl_easy_perform) return CURLE_FAILED_INIT;
    return fn(handle);
}

const char* curl_easy_strerror(CURLcode code) {
    SKIFF_CURL_REAL(const char* (*)(CURLcode), curl_easy_strerror) return "libcurl.so.4 could not be loaded";
    return fn(code);
}

struct curl_slist* curl_slist_append(struct curl_slist* list, const char* text) {
    SKIFF_CURL_REAL(struct curl_slist* (*)(struct curl_slist*, const char*), curl_slist_append) return nullptr;
    return fn(list, text);
}

void curl_slist_free_all(struct curl_slist* list) {
    SKIFF_CURL_REAL(void (*)(struct curl_slist*), curl_slist_free_all) return;
    fn(list);
}

void curl_free(void* p) {
    SKIFF_CURL_REAL(void (*)(void*), curl_free) return;
    fn(p);
}

CURLU* curl_url(void) {
    SKIFF_CURL_REAL(CURLU* (*)(void), curl_url) return nullptr;
    return fn();
}

void curl_url_cleanup(CURLU* handle) {
    SKIFF_CURL_REAL(void (*)(CURLU*), curl_url_cleanup) return;
    fn(handle);
}

CURLUcode curl_url_set(CURLU* handle, CURLUPart what, const char* part, unsigned int flags) {
    SKIFF_CURL_REAL(CURLUcode (*)(CURLU*, CURLUPart, const char*, unsigned int), curl_url_set) return CURLUE_OUT_OF_MEMORY;
    return fn(handle, what, part, flags);
}

CURLUcode curl_url_get(CURLU* handle, CURLUPart what, char** part, unsigned int flags) {
    SKIFF_CURL_REAL(CURLUcode (*)(CURLU*, CURLUPart, char**, unsigned int), curl_url_get) return CURLUE_OUT_OF_MEMORY;
    return fn(handle, what, part, flags);
}

}  // extern "C"
