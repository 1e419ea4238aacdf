// libnftables, opened on first use instead of at every start of skiff.
//
// libnftables brings libnftnl, libxtables, libjansson and libgmp with it, and only commands
// that connect or disconnect containers load rules; so the few nft_* functions skiff calls
// are defined here and forward to libnftables.so.1, found with dlopen the first time (as
// image/curl_lazy.cpp does for libcurl). nftables_missing() lets the caller say why
// nothing works in one line instead of a null context.
#include <dlfcn.h>
#include <nftables/libnftables.h>

#include <mutex>

namespace skiff::network {

namespace {

void* libnftables() {
    static void* handle = nullptr;
    static std::once_flag once;
    std::call_once(once, [] { handle = ::dlopen("libnftables.so.1", RTLD_NOW | RTLD_LOCAL); });
    return handle;
}

template <typename F>
F real(const char* name) {
    void* lib = libnftables();
    return lib ? reinterpret_cast<F>(::dlsym(lib, name)) : nullptr;
}

}  // namespace

bool nftables_missing() { return libnftables() == nullptr; }

}  // namespace skiff::network

#define SKIFF_NFT_REAL(type, name)                                       \
    static const auto fn = skiff::network::real<type>(#name);            \
    if (!fn)

extern "C" {

struct nft_ctx* nft_ctx_new(uint32_t flags) {
    SKIFF_NFT_REAL(struct nft_ctx* (*)(uint32_t), nft_ctx_new) return nullptr;
    return fn(flags);
}

void nft_ctx_free(struct nft_ctx* ctx) {
    SKIFF_NFT_REAL(void (*)(struct nft_ctx*), nft_ctx_free) return;
    fn(ctx);
}

int nft_ctx_buffer_output(struct nft_ctx* ctx) {
    SKIFF_NFT_REAL(int (*)(struct nft_ctx*), nft_ctx_buffer_output) return -1;
    return fn(ctx);
}

int nft_ctx_buffer_error(struct nft_ctx* ctx) {
    SKIFF_NFT_REAL(int (*)(struct nft_ctx*), nft_ctx_buffer_error) return -1;
    return fn(ctx);
}

const char* nft_ctx_get_output_buffer(struct nft_ctx* ctx) {
    SKIFF_NFT_REAL(const char* (*)(struct nft_ctx*), nft_ctx_get_output_buffer) return "";
    return fn(ctx);
}

const char* nft_ctx_get_error_buffer(struct nft_ctx* ctx) {
    SKIFF_NFT_REAL(const char* (*)(struct nft_ctx*), nft_ctx_get_error_buffer) return "";
    return fn(ctx);
}

int nft_run_cmd_from_buffer(struct nft_ctx* nft, const char* buf) {
    SKIFF_NFT_REAL(int (*)(struct nft_ctx*, const char*), nft_run_cmd_from_buffer) return -1;
    return fn(nft, buf);
}

}  // extern "C"
