// libarchive, opened on first use instead of at every start of skiff.
//
// Linked normally, libarchive brings libxml2 and ICU (for formats skiff never reads) into
// every process: 2.3 ms and 3.6 MiB for a program that does nothing, paid twice by
// `skiff run`. Only pull, load, import, save, commit and export handle tars, so the libarchive
// functions skiff calls are defined here and forward to libarchive.so.13, found with dlopen
// the first time one is called. (Generated from archive.h/archive_entry.h for the functions
// the code uses; a function added to the code must be added here too, or the link fails.)
#include <archive.h>
#include <archive_entry.h>
#include <dlfcn.h>

#include <cstdarg>
#include <cstdio>
#include <mutex>

namespace {

void* libarchive() {
    static void* handle = nullptr;
    static std::once_flag once;
    std::call_once(once, [] {
        handle = ::dlopen("libarchive.so.13", RTLD_NOW | RTLD_LOCAL);
        if (!handle) std::fprintf(stderr, "skiff: cannot load libarchive.so.13: %s\n", ::dlerror());
    });
    return handle;
}

template <typename F>
F real(const char* name) {
    void* lib = libarchive();
    return lib ? reinterpret_cast<F>(::dlsym(lib, name)) : nullptr;
}

#define SKIFF_ARCHIVE_REAL(type, name)             \
    static const auto fn = real<type>(#name);      \
    if (!fn)

}  // namespace

extern "C" {

// Variadic: formatted here, handed on as one string.
void archive_set_error(struct archive* a, int code, const char* format, ...) {
    char message[1024];
    va_list ap;
    va_start(ap, format);
    std::vsnprintf(message, sizeof message, format, ap);
    va_end(ap);
    SKIFF_ARCHIVE_REAL(void (*)(struct archive*, int, const char*, ...), archive_set_error) return;
    fn(a, code, "%s", message);
}

time_t archive_entry_atime(struct archive_entry * a0) {
    SKIFF_ARCHIVE_REAL(time_t (*)(struct archive_entry *), archive_entry_atime) return 0;
    return fn(a0);
}

int archive_entry_atime_is_set(struct archive_entry * a0) {
    SKIFF_ARCHIVE_REAL(int (*)(struct archive_entry *), archive_entry_atime_is_set) return ARCHIVE_FATAL;
    return fn(a0);
}

long archive_entry_atime_nsec(struct archive_entry * a0) {
    SKIFF_ARCHIVE_REAL(long (*)(struct archive_entry *), archive_entry_atime_nsec) return 0;
    return fn(a0);
}

__LA_MODE_T archive_entry_filetype(struct archive_entry * a0) {
    SKIFF_ARCHIVE_REAL(__LA_MODE_T (*)(struct archive_entry *), archive_entry_filetype) return 0;
    return fn(a0);
}

void archive_entry_free(struct archive_entry * a0) {
    SKIFF_ARCHIVE_REAL(void (*)(struct archive_entry *), archive_entry_free) return;
    fn(a0);
}

la_int64_t archive_entry_gid(struct archive_entry * a0) {
    SKIFF_ARCHIVE_REAL(la_int64_t (*)(struct archive_entry *), archive_entry_gid) return 0;
    return fn(a0);
}

const char * archive_entry_hardlink(struct archive_entry * a0) {
    SKIFF_ARCHIVE_REAL(const char * (*)(struct archive_entry *), archive_entry_hardlink) return nullptr;
    return fn(a0);
}

time_t archive_entry_mtime(struct archive_entry * a0) {
    SKIFF_ARCHIVE_REAL(time_t (*)(struct archive_entry *), archive_entry_mtime) return 0;
    return fn(a0);
}

long archive_entry_mtime_nsec(struct archive_entry * a0) {
    SKIFF_ARCHIVE_REAL(long (*)(struct archive_entry *), archive_entry_mtime_nsec) return 0;
    return fn(a0);
}

struct archive_entry * archive_entry_new(void) {
    SKIFF_ARCHIVE_REAL(struct archive_entry * (*)(), archive_entry_new) return nullptr;
    return fn();
}

const char * archive_entry_pathname(struct archive_entry * a0) {
    SKIFF_ARCHIVE_REAL(const char * (*)(struct archive_entry *), archive_entry_pathname) return nullptr;
    return fn(a0);
}

__LA_MODE_T archive_entry_perm(struct archive_entry * a0) {
    SKIFF_ARCHIVE_REAL(__LA_MODE_T (*)(struct archive_entry *), archive_entry_perm) return 0;
    return fn(a0);
}

dev_t archive_entry_rdev(struct archive_entry * a0) {
    SKIFF_ARCHIVE_REAL(dev_t (*)(struct archive_entry *), archive_entry_rdev) return 0;
    return fn(a0);
}

void archive_entry_set_filetype(struct archive_entry * a0, unsigned int a1) {
    SKIFF_ARCHIVE_REAL(void (*)(struct archive_entry *, unsigned int), archive_entry_set_filetype) return;
    fn(a0, a1);
}

void archive_entry_set_gid(struct archive_entry * a0, la_int64_t a1) {
    SKIFF_ARCHIVE_REAL(void (*)(struct archive_entry *, la_int64_t), archive_entry_set_gid) return;
    fn(a0, a1);
}

void archive_entry_set_hardlink(struct archive_entry * a0, const char * a1) {
    SKIFF_ARCHIVE_REAL(void (*)(struct archive_entry *, const char *), archive_entry_set_hardlink) return;
    fn(a0, a1);
}

void archive_entry_set_mtime(struct archive_entry * a0, time_t a1, long a2) {
    SKIFF_ARCHIVE_REAL(void (*)(struct archive_entry *, time_t, long), archive_entry_set_mtime) return;
    fn(a0, a1, a2);
}

void archive_entry_set_pathname(struct archive_entry * a0, const char * a1) {
    SKIFF_ARCHIVE_REAL(void (*)(struct archive_entry *, const char *), archive_entry_set_pathname) return;
    fn(a0, a1);
}

void archive_entry_set_perm(struct archive_entry * a0, __LA_MODE_T a1) {
    SKIFF_ARCHIVE_REAL(void (*)(struct archive_entry *, __LA_MODE_T), archive_entry_set_perm) return;
    fn(a0, a1);
}

void archive_entry_set_rdev(struct archive_entry * a0, dev_t a1) {
    SKIFF_ARCHIVE_REAL(void (*)(struct archive_entry *, dev_t), archive_entry_set_rdev) return;
    fn(a0, a1);
}

void archive_entry_set_size(struct archive_entry * a0, la_int64_t a1) {
    SKIFF_ARCHIVE_REAL(void (*)(struct archive_entry *, la_int64_t), archive_entry_set_size) return;
    fn(a0, a1);
}

void archive_entry_set_symlink(struct archive_entry * a0, const char * a1) {
    SKIFF_ARCHIVE_REAL(void (*)(struct archive_entry *, const char *), archive_entry_set_symlink) return;
    fn(a0, a1);
}

void archive_entry_set_uid(struct archive_entry * a0, la_int64_t a1) {
    SKIFF_ARCHIVE_REAL(void (*)(struct archive_entry *, la_int64_t), archive_entry_set_uid) return;
    fn(a0, a1);
}

la_int64_t archive_entry_size(struct archive_entry * a0) {
    SKIFF_ARCHIVE_REAL(la_int64_t (*)(struct archive_entry *), archive_entry_size) return 0;
    return fn(a0);
}

const char * archive_entry_symlink(struct archive_entry * a0) {
    SKIFF_ARCHIVE_REAL(const char * (*)(struct archive_entry *), archive_entry_symlink) return nullptr;
    return fn(a0);
}

la_int64_t archive_entry_uid(struct archive_entry * a0) {
    SKIFF_ARCHIVE_REAL(la_int64_t (*)(struct archive_entry *), archive_entry_uid) return 0;
    return fn(a0);
}

void archive_entry_xattr_add_entry(struct archive_entry * a0, const char * a1, const void * a2, size_t a3) {
    SKIFF_ARCHIVE_REAL(void (*)(struct archive_entry *, const char *, const void *, size_t), archive_entry_xattr_add_entry) return;
    fn(a0, a1, a2, a3);
}

int archive_entry_xattr_count(struct archive_entry * a0) {
    SKIFF_ARCHIVE_REAL(int (*)(struct archive_entry *), archive_entry_xattr_count) return ARCHIVE_FATAL;
    return fn(a0);
}

int archive_entry_xattr_next(struct archive_entry * a0, const char ** a1, const void ** a2, size_t * a3) {
    SKIFF_ARCHIVE_REAL(int (*)(struct archive_entry *, const char **, const void **, size_t *), archive_entry_xattr_next) return ARCHIVE_FATAL;
    return fn(a0, a1, a2, a3);
}

int archive_entry_xattr_reset(struct archive_entry * a0) {
    SKIFF_ARCHIVE_REAL(int (*)(struct archive_entry *), archive_entry_xattr_reset) return ARCHIVE_FATAL;
    return fn(a0);
}

const char * archive_error_string(struct archive * a0) {
    SKIFF_ARCHIVE_REAL(const char * (*)(struct archive *), archive_error_string) return nullptr;
    return fn(a0);
}

la_ssize_t archive_read_data(struct archive * a0, void * a1, size_t a2) {
    SKIFF_ARCHIVE_REAL(la_ssize_t (*)(struct archive *, void *, size_t), archive_read_data) return -1;
    return fn(a0, a1, a2);
}

int archive_read_data_block(struct archive * a0, const void ** a1, size_t * a2, la_int64_t * a3) {
    SKIFF_ARCHIVE_REAL(int (*)(struct archive *, const void **, size_t *, la_int64_t *), archive_read_data_block) return ARCHIVE_FATAL;
    return fn(a0, a1, a2, a3);
}

int archive_read_free(struct archive * a0) {
    SKIFF_ARCHIVE_REAL(int (*)(struct archive *), archive_read_free) return ARCHIVE_FATAL;
    return fn(a0);
}

struct archive * archive_read_new(void) {
    SKIFF_ARCHIVE_REAL(struct archive * (*)(), archive_read_new) return nullptr;
    return fn();
}

int archive_read_next_header(struct archive * a0, struct archive_entry ** a1) {
    SKIFF_ARCHIVE_REAL(int (*)(struct archive *, struct archive_entry **), archive_read_next_header) return ARCHIVE_FATAL;
    return fn(a0, a1);
}

int archive_read_open(struct archive * a0, void * a1, archive_open_callback * a2, archive_read_callback * a3, archive_close_callback * a4) {
    SKIFF_ARCHIVE_REAL(int (*)(struct archive *, void *, archive_open_callback *, archive_read_callback *, archive_close_callback *), archive_read_open) return ARCHIVE_FATAL;
    return fn(a0, a1, a2, a3, a4);
}

int archive_read_open_fd(struct archive * a0, int a1, size_t a2) {
    SKIFF_ARCHIVE_REAL(int (*)(struct archive *, int, size_t), archive_read_open_fd) return ARCHIVE_FATAL;
    return fn(a0, a1, a2);
}

int archive_read_open_memory(struct archive * a0, const void * a1, size_t a2) {
    SKIFF_ARCHIVE_REAL(int (*)(struct archive *, const void *, size_t), archive_read_open_memory) return ARCHIVE_FATAL;
    return fn(a0, a1, a2);
}

int archive_read_support_filter_bzip2(struct archive * a0) {
    SKIFF_ARCHIVE_REAL(int (*)(struct archive *), archive_read_support_filter_bzip2) return ARCHIVE_FATAL;
    return fn(a0);
}

int archive_read_support_filter_gzip(struct archive * a0) {
    SKIFF_ARCHIVE_REAL(int (*)(struct archive *), archive_read_support_filter_gzip) return ARCHIVE_FATAL;
    return fn(a0);
}

int archive_read_support_filter_xz(struct archive * a0) {
    SKIFF_ARCHIVE_REAL(int (*)(struct archive *), archive_read_support_filter_xz) return ARCHIVE_FATAL;
    return fn(a0);
}

int archive_read_support_filter_zstd(struct archive * a0) {
    SKIFF_ARCHIVE_REAL(int (*)(struct archive *), archive_read_support_filter_zstd) return ARCHIVE_FATAL;
    return fn(a0);
}

int archive_read_support_format_raw(struct archive * a0) {
    SKIFF_ARCHIVE_REAL(int (*)(struct archive *), archive_read_support_format_raw) return ARCHIVE_FATAL;
    return fn(a0);
}

int archive_read_support_format_tar(struct archive * a0) {
    SKIFF_ARCHIVE_REAL(int (*)(struct archive *), archive_read_support_format_tar) return ARCHIVE_FATAL;
    return fn(a0);
}

int archive_write_add_filter_gzip(struct archive * a0) {
    SKIFF_ARCHIVE_REAL(int (*)(struct archive *), archive_write_add_filter_gzip) return ARCHIVE_FATAL;
    return fn(a0);
}

int archive_write_add_filter_zstd(struct archive * a0) {
    SKIFF_ARCHIVE_REAL(int (*)(struct archive *), archive_write_add_filter_zstd) return ARCHIVE_FATAL;
    return fn(a0);
}

int archive_write_close(struct archive * a0) {
    SKIFF_ARCHIVE_REAL(int (*)(struct archive *), archive_write_close) return ARCHIVE_FATAL;
    return fn(a0);
}

la_ssize_t archive_write_data(struct archive * a0, const void * a1, size_t a2) {
    SKIFF_ARCHIVE_REAL(la_ssize_t (*)(struct archive *, const void *, size_t), archive_write_data) return -1;
    return fn(a0, a1, a2);
}

int archive_write_free(struct archive * a0) {
    SKIFF_ARCHIVE_REAL(int (*)(struct archive *), archive_write_free) return ARCHIVE_FATAL;
    return fn(a0);
}

int archive_write_header(struct archive * a0, struct archive_entry * a1) {
    SKIFF_ARCHIVE_REAL(int (*)(struct archive *, struct archive_entry *), archive_write_header) return ARCHIVE_FATAL;
    return fn(a0, a1);
}

struct archive * archive_write_new(void) {
    SKIFF_ARCHIVE_REAL(struct archive * (*)(), archive_write_new) return nullptr;
    return fn();
}

int archive_write_open(struct archive * a0, void * a1, archive_open_callback * a2, archive_write_callback * a3, archive_close_callback * a4) {
    SKIFF_ARCHIVE_REAL(int (*)(struct archive *, void *, archive_open_callback *, archive_write_callback *, archive_close_callback *), archive_write_open) return ARCHIVE_FATAL;
    return fn(a0, a1, a2, a3, a4);
}

int archive_write_open2(struct archive * a0, void * a1, archive_open_callback * a2, archive_write_callback * a3, archive_close_callback * a4, archive_free_callback * a5) {
    SKIFF_ARCHIVE_REAL(int (*)(struct archive *, void *, archive_open_callback *, archive_write_callback *, archive_close_callback *, archive_free_callback *), archive_write_open2) return ARCHIVE_FATAL;
    return fn(a0, a1, a2, a3, a4, a5);
}

int archive_write_open_fd(struct archive * a0, int a1) {
    SKIFF_ARCHIVE_REAL(int (*)(struct archive *, int), archive_write_open_fd) return ARCHIVE_FATAL;
    return fn(a0, a1);
}

int archive_write_set_bytes_in_last_block(struct archive * a0, int a1) {
    SKIFF_ARCHIVE_REAL(int (*)(struct archive *, int), archive_write_set_bytes_in_last_block) return ARCHIVE_FATAL;
    return fn(a0, a1);
}

int archive_write_set_bytes_per_block(struct archive * a0, int a1) {
    SKIFF_ARCHIVE_REAL(int (*)(struct archive *, int), archive_write_set_bytes_per_block) return ARCHIVE_FATAL;
    return fn(a0, a1);
}

int archive_write_set_format_option(struct archive * a0, const char * a1, const char * a2, const char * a3) {
    SKIFF_ARCHIVE_REAL(int (*)(struct archive *, const char *, const char *, const char *), archive_write_set_format_option) return ARCHIVE_FATAL;
    return fn(a0, a1, a2, a3);
}

int archive_write_set_format_pax(struct archive * a0) {
    SKIFF_ARCHIVE_REAL(int (*)(struct archive *), archive_write_set_format_pax) return ARCHIVE_FATAL;
    return fn(a0);
}

int archive_write_set_format_pax_restricted(struct archive * a0) {
    SKIFF_ARCHIVE_REAL(int (*)(struct archive *), archive_write_set_format_pax_restricted) return ARCHIVE_FATAL;
    return fn(a0);
}

int archive_write_set_format_raw(struct archive * a0) {
    SKIFF_ARCHIVE_REAL(int (*)(struct archive *), archive_write_set_format_raw) return ARCHIVE_FATAL;
    return fn(a0);
}

int archive_write_set_options(struct archive * a0, const char * a1) {
    SKIFF_ARCHIVE_REAL(int (*)(struct archive *, const char *), archive_write_set_options) return ARCHIVE_FATAL;
    return fn(a0, a1);
}
}  // extern "C"
