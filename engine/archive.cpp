#include "engine/archive.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <functional>
#include <map>
#include <memory>
#include <set>

#include <nlohmann/json.hpp>

#include "common/clock.hpp"
#include "common/digest.hpp"
#include "common/fd.hpp"
#include "common/fs.hpp"
#include "common/path.hpp"
#include "image/manifest_write.hpp"
#include "image/reference.hpp"
#include "overlay/unpack.hpp"

namespace skiff::engine {

namespace {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

constexpr std::string_view kDockerLayerTar = "application/vnd.docker.image.rootfs.diff.tar";
constexpr std::string_view kDockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
constexpr std::string_view kDockerLayerZstd = "application/vnd.docker.image.rootfs.diff.tar.zstd";
constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
constexpr std::string_view kRefNameAnnotation = "org.opencontainers.image.ref.name";
constexpr std::string_view kContainerdNameAnnotation = "io.containerd.image.name";

// An archive to load is spooled to disk first; these bound what a hostile one can make us
// create (entries) or parse (the JSON documents).
constexpr size_t kMaxArchiveEntries = 1u << 16;
constexpr size_t kMaxIndexBytes = 4u << 20;
constexpr size_t kCopyBuffer = 1u << 20;

struct ReadFree {
    void operator()(struct archive* a) const { archive_read_free(a); }
};
struct WriteFree {
    void operator()(struct archive* a) const { archive_write_free(a); }
};
using ReadArchive = std::unique_ptr<struct archive, ReadFree>;
using WriteArchive = std::unique_ptr<struct archive, WriteFree>;

std::unexpected<Error> archive_fail(struct archive* a, const std::string& what) {
    const char* msg = archive_error_string(a);
    return fail(what + ": " + (msg ? msg : "unknown libarchive error"));
}

std::string hex_of(std::string_view digest) {
    auto colon = digest.find(':');
    return std::string(colon == std::string_view::npos ? digest : digest.substr(colon + 1));
}

Result<std::string> read_fd_limited(int fd, size_t max_bytes, const std::string& what) {
    std::string out;
    char buf[64 * 1024];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_error("read " + what);
        }
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
        if (out.size() > max_bytes)
            return fail(what + " is larger than " + std::to_string(max_bytes >> 20) + " MiB");
    }
    return out;
}

// Calls sink with successive chunks of fd's content until end of file.
Status copy_fd(int fd, const std::function<Status(const char*, size_t)>& sink, const std::string& what) {
    std::unique_ptr<char[]> buf(new char[kCopyBuffer]);
    for (;;) {
        ssize_t n = ::read(fd, buf.get(), kCopyBuffer);
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_error("read " + what);
        }
        if (n == 0) return ok();
        SKIFF_CHECK(sink(buf.get(), static_cast<size_t>(n)));
    }
}

struct StreamInfo {
    std::string digest;  // of the uncompressed bytes: a layer's diff id
    int64_t size = 0;
};

// The uncompressed content of a plain, gzip or zstd stream, fed to sink (may be empty) and
// hashed. Only those two filters: a plain tar must never be mistaken for another format.
Result<StreamInfo> decompress(int fd, const std::function<Status(const char*, size_t)>& sink,
                              const std::string& what) {
    ReadArchive a(archive_read_new());
    if (!a) return fail("archive_read_new: out of memory");
    archive_read_support_filter_gzip(a.get());
    archive_read_support_filter_zstd(a.get());
    archive_read_support_format_raw(a.get());
    if (archive_read_open_fd(a.get(), fd, 64 * 1024) != ARCHIVE_OK) return archive_fail(a.get(), what);
    Sha256 hash;
    StreamInfo info;
    struct archive_entry* entry = nullptr;
    int r = archive_read_next_header(a.get(), &entry);
    if (r == ARCHIVE_EOF) {
        info.digest = hash.finish();
        return info;
    }
    if (r < ARCHIVE_WARN) return archive_fail(a.get(), what);
    std::unique_ptr<char[]> buf(new char[kCopyBuffer]);
    for (;;) {
        la_ssize_t n = archive_read_data(a.get(), buf.get(), kCopyBuffer);
        if (n < 0) return archive_fail(a.get(), what);
        if (n == 0) break;
        hash.update(std::string_view(buf.get(), static_cast<size_t>(n)));
        info.size += n;
        if (sink) SKIFF_CHECK(sink(buf.get(), static_cast<size_t>(n)));
    }
    info.digest = hash.finish();
    return info;
}

image::Compression sniff_compression(int fd) {
    unsigned char magic[4] = {};
    ssize_t n = ::pread(fd, magic, sizeof magic, 0);
    if (n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b) return image::Compression::gzip;
    if (n == 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd)
        return image::Compression::zstd;
    return image::Compression::none;
}

// ---------------------------------------------------------------------------------------
// apply_change

std::string trim(std::string_view s) {
    size_t b = 0, e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
    return std::string(s.substr(b, e - b));
}

std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

// Dockerfile word splitting: whitespace separates words, quotes group and are removed, a
// backslash escapes the next character (not inside single quotes).
Result<std::vector<std::string>> split_words(std::string_view s) {
    std::vector<std::string> words;
    std::string word;
    bool in_word = false;
    char quote = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (quote) {
            if (c == quote) {
                quote = 0;
            } else if (c == '\\' && quote == '"' && i + 1 < s.size()) {
                word += s[++i];
            } else {
                word += c;
            }
            continue;
        }
        if (std::isspace(static_cast<unsigned char>(c))) {
            if (in_word) words.push_back(std::move(word));
            word.clear();
            in_word = false;
            continue;
        }
        in_word = true;
        if (c == '"' || c == '\'') {
            quote = c;
        } else if (c == '\\' && i + 1 < s.size()) {
            word += s[++i];
        } else {
            word += c;
        }
    }
    if (quote) return fail(std::string("unterminated ") + (quote == '"' ? "double" : "single") + " quote");
    if (in_word) words.push_back(std::move(word));
    return words;
}

// The exec (JSON array) form, or nullopt when args are not one: Docker then takes the
// shell form.
std::optional<std::vector<std::string>> json_array_form(const std::string& args) {
    if (args.empty() || args.front() != '[') return std::nullopt;
    json doc = json::parse(args, nullptr, false);
    if (doc.is_discarded() || !doc.is_array()) return std::nullopt;
    std::vector<std::string> out;
    for (const auto& item : doc) {
        if (!item.is_string()) return std::nullopt;
        out.push_back(item.get<std::string>());
    }
    return out;
}

// ENV and LABEL: "k=v k2=v2" (quotes allowed), or the legacy "k value with spaces".
Result<std::vector<std::pair<std::string, std::string>>> name_values(const std::string& keyword,
                                                                     const std::string& args) {
    std::vector<std::pair<std::string, std::string>> out;
    SKIFF_TRY(words, split_words(args));
    if (words.empty()) return fail(keyword + " requires at least one argument");
    if (words[0].find('=') == std::string::npos) {
        // Legacy form: the first word is the name, the rest of the line the value.
        size_t i = 0;
        while (i < args.size() && !std::isspace(static_cast<unsigned char>(args[i]))) ++i;
        std::string value = trim(std::string_view(args).substr(i));
        if (value.empty())
            return fail(keyword + " " + words[0] + ": missing value (use " + keyword + " name=value)");
        SKIFF_TRY(name_words, split_words(args.substr(0, i)));
        if (name_words.size() != 1 || name_words[0].empty()) return fail(keyword + " names can not be blank");
        out.emplace_back(name_words[0], value);
        return out;
    }
    for (const auto& w : words) {
        auto eq = w.find('=');
        if (eq == std::string::npos)
            return fail(keyword + ": syntax error - can't find = in \"" + w + "\". Must be of the form: name=value");
        if (eq == 0) return fail(keyword + " names can not be blank");
        out.emplace_back(w.substr(0, eq), w.substr(eq + 1));
    }
    return out;
}

void insert_sorted(std::vector<std::string>& set, std::string value) {
    auto it = std::lower_bound(set.begin(), set.end(), value);
    if (it == set.end() || *it != value) set.insert(it, std::move(value));
}

Result<int> parse_port(const std::string& text) {
    if (text.empty() || text.size() > 5 ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return fail("invalid port \"" + text + "\"");
    int port = std::stoi(text);
    if (port < 1 || port > 65535) return fail("invalid port \"" + text + "\"");
    return port;
}

Status apply_expose(image::RunConfig& config, const std::string& args) {
    SKIFF_TRY(words, split_words(args));
    if (words.empty()) return fail("EXPOSE requires at least one argument");
    std::vector<std::string> ports;
    for (const auto& w : words) {
        std::string range = w, proto = "tcp";
        if (auto slash = w.find('/'); slash != std::string::npos) {
            range = w.substr(0, slash);
            proto = w.substr(slash + 1);
            for (char& c : proto) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        if (proto != "tcp" && proto != "udp" && proto != "sctp")
            return fail("EXPOSE: invalid protocol in \"" + w + "\" (tcp, udp or sctp)");
        auto dash = range.find('-');
        SKIFF_TRY(first, parse_port(range.substr(0, dash)));
        int last = first;
        if (dash != std::string::npos) {
            SKIFF_TRY(end, parse_port(range.substr(dash + 1)));
            if (end < first) return fail("EXPOSE: invalid port range \"" + w + "\"");
            last = end;
        }
        for (int p = first; p <= last; ++p) ports.push_back(std::to_string(p) + "/" + proto);
    }
    for (auto& p : ports) insert_sorted(config.exposed_ports, std::move(p));
    return ok();
}

bool valid_signal(const std::string& text) {
    if (!text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        if (text.size() > 2) return false;
        int n = std::stoi(text);
        return n >= 1 && n <= 64;
    }
    static const char* const kNames[] = {
        "ABRT", "ALRM", "BUS",  "CHLD", "CLD",  "CONT",   "FPE",  "HUP",  "ILL",  "INT",
        "IO",   "IOT",  "KILL", "PIPE", "POLL", "PROF",   "PWR",  "QUIT", "SEGV", "STKFLT",
        "STOP", "SYS",  "TERM", "TRAP", "TSTP", "TTIN",   "TTOU", "URG",  "USR1", "USR2",
        "VTALRM", "WINCH", "XCPU", "XFSZ", "UNUSED"};
    std::string name = upper(text);
    if (name.starts_with("SIG")) name = name.substr(3);
    for (const char* known : kNames)
        if (name == known) return true;
    // SIGRTMIN+n / SIGRTMAX-n
    return name.starts_with("RTMIN") || name.starts_with("RTMAX");
}

Status apply_change_impl(image::RunConfig& config, std::string_view instruction) {
    std::string line = trim(instruction);
    if (line.empty()) return fail("empty instruction");
    size_t space = 0;
    while (space < line.size() && !std::isspace(static_cast<unsigned char>(line[space]))) ++space;
    std::string keyword = upper(line.substr(0, space));
    std::string args = trim(std::string_view(line).substr(space));

    if (keyword == "CMD" || keyword == "ENTRYPOINT") {
        if (args.empty()) return fail(keyword + " requires an argument");
        auto exec = json_array_form(args);
        std::vector<std::string> argv = exec ? std::move(*exec) : std::vector<std::string>{"/bin/sh", "-c", args};
        (keyword == "CMD" ? config.cmd : config.entrypoint) = std::move(argv);
        return ok();
    }
    if (keyword == "ENV") {
        SKIFF_TRY(pairs, name_values(keyword, args));
        for (auto& [name, value] : pairs) {
            std::string entry = name + "=" + value;
            auto same = std::find_if(config.env.begin(), config.env.end(),
                                     [&](const std::string& e) { return e.starts_with(name + "="); });
            if (same != config.env.end())
                *same = std::move(entry);
            else
                config.env.push_back(std::move(entry));
        }
        return ok();
    }
    if (keyword == "LABEL") {
        SKIFF_TRY(pairs, name_values(keyword, args));
        for (auto& [name, value] : pairs) config.labels[name] = value;
        return ok();
    }
    if (keyword == "EXPOSE") return apply_expose(config, args);
    if (keyword == "USER") {
        if (args.empty()) return fail("USER requires exactly one argument");
        config.user = args;
        return ok();
    }
    if (keyword == "WORKDIR") {
        if (args.empty()) return fail("WORKDIR requires exactly one argument");
        // Relative paths continue from the previous WORKDIR, as in a Dockerfile.
        std::string base = config.working_dir.empty() ? "/" : config.working_dir;
        config.working_dir = clean_path(args.front() == '/' ? args : path_join(base, args));
        return ok();
    }
    if (keyword == "VOLUME") {
        std::vector<std::string> paths;
        if (auto exec = json_array_form(args)) {
            paths = std::move(*exec);
        } else {
            SKIFF_TRY(words, split_words(args));
            paths = std::move(words);
        }
        if (paths.empty()) return fail("VOLUME requires at least one argument");
        for (auto& p : paths) {
            if (trim(p).empty()) return fail("VOLUME specified can not be an empty string");
            insert_sorted(config.volumes, std::move(p));
        }
        return ok();
    }
    if (keyword == "STOPSIGNAL") {
        if (args.empty() || args.find_first_of(" \t") != std::string::npos)
            return fail("STOPSIGNAL requires exactly one argument");
        if (!valid_signal(args)) return fail("STOPSIGNAL: invalid signal \"" + args + "\"");
        config.stop_signal = args;
        return ok();
    }
    static const char* const kUnsupported[] = {"ADD", "ARG",   "COPY",  "FROM", "HEALTHCHECK",
                                               "MAINTAINER", "ONBUILD", "RUN", "SHELL"};
    for (const char* u : kUnsupported)
        if (keyword == u) return fail("unsupported instruction " + keyword);
    return fail("unknown instruction " + keyword);
}

// ---------------------------------------------------------------------------------------
// Writing tars (save)

class TarWriter {
public:
    Status open(int fd) {
        a_.reset(archive_write_new());
        if (!a_) return fail("archive_write_new: out of memory");
        // pax: no 8 GiB limit on a layer.tar entry.
        if (archive_write_set_format_pax_restricted(a_.get()) != ARCHIVE_OK ||
            archive_write_open_fd(a_.get(), fd) != ARCHIVE_OK)
            return archive_fail(a_.get(), "write archive");
        return ok();
    }
    Status add_dir(const std::string& name) { return header(name, AE_IFDIR, 0755, 0); }
    Status add_file(const std::string& name, std::string_view content) {
        SKIFF_CHECK(header(name, AE_IFREG, 0644, static_cast<int64_t>(content.size())));
        return write(content.data(), content.size());
    }
    Status begin_file(const std::string& name, int64_t size) { return header(name, AE_IFREG, 0644, size); }
    Status write(const char* data, size_t size) {
        while (size > 0) {
            la_ssize_t n = archive_write_data(a_.get(), data, size);
            if (n <= 0) return archive_fail(a_.get(), "write archive");
            data += n;
            size -= static_cast<size_t>(n);
        }
        return ok();
    }
    Status close() {
        if (archive_write_close(a_.get()) != ARCHIVE_OK) return archive_fail(a_.get(), "write archive");
        return ok();
    }

private:
    Status header(const std::string& name, unsigned type, unsigned mode, int64_t size) {
        std::unique_ptr<struct archive_entry, void (*)(struct archive_entry*)> e(archive_entry_new(),
                                                                                  archive_entry_free);
        archive_entry_set_pathname(e.get(), name.c_str());
        archive_entry_set_filetype(e.get(), type);
        archive_entry_set_perm(e.get(), mode);
        archive_entry_set_size(e.get(), size);
        // Fixed times: saving the same images twice gives the same bytes.
        archive_entry_set_mtime(e.get(), 0, 0);
        if (archive_write_header(a_.get(), e.get()) != ARCHIVE_OK)
            return archive_fail(a_.get(), "write archive entry " + name);
        return ok();
    }
    WriteArchive a_;
};

struct SaveItem {
    image::ImageRecord record;
    std::vector<std::string> tags;  // full references
    image::Manifest manifest;
    std::string manifest_bytes;
    std::string config_bytes;
    image::ImageConfig config;
};

bool looks_like_id(std::string_view text, const image::ImageRecord& record) {
    if (text.starts_with("sha256:")) return true;
    if (text.size() < 3 || !std::all_of(text.begin(), text.end(), [](char c) {
            return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        }))
        return false;
    return hex_of(record.id).starts_with(text);
}

Result<std::vector<SaveItem>> resolve_images(const Store& store, const std::vector<std::string>& images) {
    std::vector<SaveItem> items;
    for (const auto& text : images) {
        auto found = store.images.find(text);
        // Short names ("busybox:1") too, in case the caller did not normalise them.
        if (!found && found.error().code == ENOENT)
            if (auto ref = image::parse_reference(text); ref && ref->to_string() != text)
                if (auto by_name = store.images.find(ref->to_string())) found = std::move(by_name);
        SKIFF_TRY(record, std::move(found));
        std::string tag;
        if (!looks_like_id(text, record)) {
            if (auto ref = image::parse_reference(text); ref && ref->digest.empty()) {
                std::string full = ref->to_string();
                if (std::find(record.repo_tags.begin(), record.repo_tags.end(), full) != record.repo_tags.end())
                    tag = full;
            }
        }
        auto same = std::find_if(items.begin(), items.end(),
                                 [&](const SaveItem& i) { return i.record.id == record.id; });
        if (same == items.end()) {
            SaveItem item;
            item.record = std::move(record);
            items.push_back(std::move(item));
            same = items.end() - 1;
        }
        if (!tag.empty() && std::find(same->tags.begin(), same->tags.end(), tag) == same->tags.end())
            same->tags.push_back(tag);
    }
    for (auto& item : items) {
        const auto& r = item.record;
        SKIFF_TRY(mbytes, store.blobs.read(r.manifest_digest, image::kMaxManifestBytes));
        SKIFF_TRY(parsed, with_context(image::parse_manifest(mbytes, r.manifest_media_type),
                                       "image " + r.id + ": manifest " + r.manifest_digest));
        if (!std::holds_alternative<image::Manifest>(parsed))
            return fail("image " + r.id + ": manifest " + r.manifest_digest + " is an index");
        item.manifest = std::get<image::Manifest>(std::move(parsed));
        item.manifest_bytes = std::move(mbytes);
        SKIFF_TRY(cbytes, store.blobs.read(item.manifest.config.digest, image::kMaxConfigBytes));
        SKIFF_TRY(config, image::parse_image_config(cbytes));
        SKIFF_CHECK(image::check_diff_ids(config, item.manifest));
        item.config_bytes = std::move(cbytes);
        item.config = std::move(config);
    }
    return items;
}

// "busybox" for docker.io/library/busybox:latest: the repository as Docker prints it.
std::string familiar_name(const image::Reference& ref) {
    std::string f = ref.familiar();
    if (!ref.tag.empty() && f.ends_with(":" + ref.tag)) f.resize(f.size() - ref.tag.size() - 1);
    return f;
}

// One layer.tar: the uncompressed tar, whatever compression the blob is stored with.
Status write_layer_tar(const Store& store, TarWriter& tar, const std::string& name,
                       const image::Descriptor& layer, const std::string& diff_id) {
    SKIFF_TRY(compression, image::layer_compression(layer.media_type));
    auto sink = [&](const char* d, size_t n) { return tar.write(d, n); };
    if (compression == image::Compression::none) {
        SKIFF_TRY(fd, store.blobs.open(layer.digest));
        SKIFF_TRY(size, store.blobs.size(layer.digest));
        SKIFF_CHECK(tar.begin_file(name, size));
        return copy_fd(fd.get(), sink, "blob " + layer.digest);
    }
    // A tar header needs the size up front and out_fd may be a pipe: one pass to measure
    // (and check the diff id, so a damaged blob never reaches the archive), one to copy.
    std::string what = "decompress blob " + layer.digest;
    SKIFF_TRY(fd, store.blobs.open(layer.digest));
    SKIFF_TRY(info, decompress(fd.get(), nullptr, what));
    if (info.digest != diff_id)
        return fail("blob " + layer.digest + " decompresses to " + info.digest + ", not diff id " + diff_id);
    SKIFF_CHECK(tar.begin_file(name, info.size));
    SKIFF_TRY(fd2, store.blobs.open(layer.digest));
    SKIFF_TRY(again, decompress(fd2.get(), sink, what));
    if (again.size != info.size) return fail("blob " + layer.digest + " changed while being saved");
    return ok();
}

Status save_docker_archive(const Store& store, const std::vector<SaveItem>& items, TarWriter& tar) {
    std::set<std::string> written;
    ojson manifest = ojson::array();
    ojson repositories = ojson::object();
    for (const auto& item : items) {
        std::vector<std::string> layer_paths;
        for (size_t i = 0; i < item.manifest.layers.size(); ++i) {
            const std::string& diff_id = item.config.diff_ids[i];
            std::string dir = hex_of(diff_id);
            std::string path = dir + "/layer.tar";
            if (written.insert(path).second) {
                SKIFF_CHECK(tar.add_dir(dir + "/"));
                SKIFF_CHECK(write_layer_tar(store, tar, path, item.manifest.layers[i], diff_id));
            }
            layer_paths.push_back(path);
        }
        std::string config_name = hex_of(item.record.id) + ".json";
        if (written.insert(config_name).second) SKIFF_CHECK(tar.add_file(config_name, item.config_bytes));

        ojson entry = ojson::object();
        entry["Config"] = config_name;
        ojson repo_tags = nullptr;
        for (const auto& tag : item.tags) {
            SKIFF_TRY(ref, image::parse_reference(tag));
            // Full names, as podman writes them: podman reads "bb:1" as localhost/bb:1,
            // Docker normalises either form.
            repo_tags.push_back(ref.to_string());
            if (!layer_paths.empty()) {
                std::string name = familiar_name(ref);
                if (!repositories.contains(name)) repositories[name] = ojson::object();
                repositories[name][ref.tag] = hex_of(item.config.diff_ids.back());
            }
        }
        entry["RepoTags"] = std::move(repo_tags);
        entry["Layers"] = layer_paths;
        manifest.push_back(std::move(entry));
    }
    SKIFF_CHECK(tar.add_file("manifest.json", manifest.dump()));
    if (!repositories.empty()) SKIFF_CHECK(tar.add_file("repositories", repositories.dump()));
    return ok();
}

// Copy a stored blob into the archive, re-hashing on the way.
Status write_blob(const Store& store, TarWriter& tar, const std::string& digest) {
    SKIFF_TRY(fd, store.blobs.open(digest));
    SKIFF_TRY(size, store.blobs.size(digest));
    SKIFF_CHECK(tar.begin_file("blobs/sha256/" + hex_of(digest), size));
    Sha256 hash;
    SKIFF_CHECK(copy_fd(
        fd.get(),
        [&](const char* d, size_t n) {
            hash.update(std::string_view(d, n));
            return tar.write(d, n);
        },
        "blob " + digest));
    if (std::string got = hash.finish(); got != digest)
        return fail("blob " + digest + " in the store is damaged (hashes to " + got + ")");
    return ok();
}

Status save_oci_archive(const Store& store, const std::vector<SaveItem>& items, TarWriter& tar) {
    SKIFF_CHECK(tar.add_file("oci-layout", R"({"imageLayoutVersion":"1.0.0"})"));
    SKIFF_CHECK(tar.add_dir("blobs/"));
    SKIFF_CHECK(tar.add_dir("blobs/sha256/"));
    std::set<std::string> written;
    image::Index index;
    index.media_type = std::string(image::kOciIndex);
    for (const auto& item : items) {
        std::vector<std::string> digests;
        for (const auto& layer : item.manifest.layers) digests.push_back(layer.digest);
        digests.push_back(item.manifest.config.digest);
        digests.push_back(item.record.manifest_digest);
        for (const auto& d : digests)
            if (written.insert(d).second) SKIFF_CHECK(write_blob(store, tar, d));

        image::Descriptor desc;
        desc.media_type = item.record.manifest_media_type;
        desc.digest = item.record.manifest_digest;
        desc.size = static_cast<int64_t>(item.manifest_bytes.size());
        if (item.tags.empty()) index.manifests.push_back(desc);
        for (const auto& tag : item.tags) {
            SKIFF_TRY(ref, image::parse_reference(tag));
            image::Descriptor tagged = desc;
            // As containerd writes it: the full name, and the tag alone in ref.name.
            tagged.annotations[std::string(kContainerdNameAnnotation)] = ref.to_string();
            tagged.annotations[std::string(kRefNameAnnotation)] = ref.tag;
            index.manifests.push_back(std::move(tagged));
        }
    }
    return tar.add_file("index.json", image::index_json(index));
}

// ---------------------------------------------------------------------------------------
// Reading archives (load)

// <store root>/tmp-load-<pid>: the archive spooled to disk; removed when done either way.
class TempDir {
public:
    ~TempDir() {
        if (!path_.empty()) (void)remove_tree(path_);
    }
    Status create(const std::string& path) {
        SKIFF_CHECK(remove_tree(path));  // left by a killed load that had our pid
        if (::mkdir(path.c_str(), 0700) != 0) return sys_error("mkdir " + path);
        path_ = path;
        fd_.reset(::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!fd_) return sys_error("open " + path);
        return ok();
    }
    const std::string& path() const { return path_; }
    int fd() const { return fd_.get(); }

private:
    std::string path_;
    UniqueFd fd_;
};

// Entry name -> clean relative path; "." components dropped, ".." and absolute names refused.
Result<std::string> entry_path(const std::string& name) {
    if (name.starts_with("/")) return fail("absolute path");
    std::string out;
    size_t i = 0;
    while (i <= name.size()) {
        size_t j = name.find('/', i);
        if (j == std::string::npos) j = name.size();
        std::string part = name.substr(i, j - i);
        i = j + 1;
        if (part.empty() || part == ".") continue;
        if (part == "..") return fail("path contains ..");
        out += (out.empty() ? "" : "/") + part;
    }
    return out;
}

// Regular files, directories and symlinks only (Docker's save links duplicate layers); every
// one created through fds confined to the temp dir, so no entry can write outside it.
Status extract_archive(int in_fd, const TempDir& dir) {
    ReadArchive a(archive_read_new());
    if (!a) return fail("archive_read_new: out of memory");
    // docker load takes xz and bzip2 besides gzip and zstd.
    support_layer_compressions(a.get());
    archive_read_support_format_tar(a.get());
    if (archive_read_open_fd(a.get(), in_fd, 64 * 1024) != ARCHIVE_OK) return archive_fail(a.get(), "read archive");
    size_t entries = 0;
    std::unique_ptr<char[]> buf(new char[kCopyBuffer]);
    for (;;) {
        struct archive_entry* e = nullptr;
        int r = archive_read_next_header(a.get(), &e);
        if (r == ARCHIVE_EOF) break;
        if (r < ARCHIVE_WARN) return archive_fail(a.get(), "read archive");
        if (++entries > kMaxArchiveEntries)
            return fail("archive has more than " + std::to_string(kMaxArchiveEntries) + " entries");
        const char* raw_name = archive_entry_pathname(e);
        std::string name = raw_name ? raw_name : "";
        auto rel = entry_path(name);
        if (!rel) return fail("archive entry " + name + ": " + rel.error().what);
        if (rel->empty()) continue;
        auto context = [&](Error err) { return std::unexpected(std::move(err).context("archive entry " + name)); };
        if (archive_entry_hardlink(e)) return fail("archive entry " + name + ": hard links are not supported");
        std::string parent_rel = dirname_of(*rel);
        if (parent_rel == "." || parent_rel == *rel) parent_rel = "";
        std::string base = basename_of(*rel);
        switch (archive_entry_filetype(e)) {
        case AE_IFDIR: {
            auto d = mkdir_in_root(dir.fd(), *rel, 0700);
            if (!d) return context(d.error());
            break;
        }
        case AE_IFREG: {
            auto parent = mkdir_in_root(dir.fd(), parent_rel, 0700);
            if (!parent) return context(parent.error());
            UniqueFd out(::openat(parent->get(), base.c_str(),
                                  O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600));
            if (!out) {
                if (errno == EEXIST) return fail("archive entry " + name + ": duplicate entry");
                return context(Error{errno, "create"});
            }
            for (;;) {
                la_ssize_t n = archive_read_data(a.get(), buf.get(), kCopyBuffer);
                if (n < 0) return archive_fail(a.get(), "read archive entry " + name);
                if (n == 0) break;
                if (auto w = write_all(out.get(), buf.get(), static_cast<size_t>(n)); !w)
                    return context(w.error());
            }
            break;
        }
        case AE_IFLNK: {
            const char* target = archive_entry_symlink(e);
            if (!target) return fail("archive entry " + name + ": symlink without a target");
            auto parent = mkdir_in_root(dir.fd(), parent_rel, 0700);
            if (!parent) return context(parent.error());
            // Resolved later only through open_in_root: it cannot lead out of the temp dir.
            if (::symlinkat(target, parent->get(), base.c_str()) != 0) {
                if (errno == EEXIST) return fail("archive entry " + name + ": duplicate entry");
                return context(Error{errno, "symlink"});
            }
            break;
        }
        default:
            return fail("archive entry " + name + ": only files, directories and symlinks are allowed");
        }
    }
    if (entries == 0) return fail("empty archive");
    return ok();
}

struct Spool {
    const TempDir& dir;

    bool exists(const std::string& rel) const {
        struct stat st;
        return ::fstatat(dir.fd(), rel.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
    }
    Result<UniqueFd> open(const std::string& rel) const {
        auto clean = entry_path(rel);
        if (!clean) return fail(rel + ": " + clean.error().what);
        auto fd = open_in_root(dir.fd(), *clean, O_RDONLY | O_CLOEXEC);
        if (!fd) {
            if (fd.error().code == ENOENT) return fail(rel + ": not in the archive");
            return std::unexpected(std::move(fd).error().context(rel));
        }
        struct stat st;
        if (::fstat(fd->get(), &st) != 0) return sys_error("stat " + rel);
        if (!S_ISREG(st.st_mode)) return fail(rel + ": not a regular file");
        return fd;
    }
    Result<std::string> read(const std::string& rel, size_t max_bytes) const {
        SKIFF_TRY(fd, open(rel));
        return read_fd_limited(fd.get(), max_bytes, rel);
    }
};

// An image ready to record once everything else in the archive has loaded too.
struct PendingImage {
    std::string manifest_digest;
    std::string manifest_media_type;
    std::string config_digest;
    image::ImageConfig config;
    std::vector<std::string> tags;
};

void add_tag(std::vector<std::string>& tags, std::string tag) {
    if (std::find(tags.begin(), tags.end(), tag) == tags.end()) tags.push_back(std::move(tag));
}

// The layer's uncompressed content must hash to diff_id; unpacked unless already present.
Status unpack_layer_blob(const Store& store, const std::string& blob_digest, image::Compression compression,
                         const std::string& diff_id, const std::string& parent_chain) {
    std::string chain = chain_id(parent_chain, diff_id);
    if (store.layers.has(chain)) {
        // Present already, so the content is not needed, but a blob that does not match
        // its diff id must not be kept as this image's layer (save and push use it).
        if (compression == image::Compression::none) {
            if (blob_digest != diff_id) return fail("layer " + blob_digest + " does not match diff id " + diff_id);
            return ok();
        }
        SKIFF_TRY(fd, store.blobs.open(blob_digest));
        SKIFF_TRY(info, decompress(fd.get(), nullptr, "decompress layer " + blob_digest));
        if (info.digest != diff_id)
            return fail("layer " + blob_digest + " decompresses to " + info.digest + ", not diff id " + diff_id);
        return ok();
    }
    SKIFF_TRY(fd, store.blobs.open(blob_digest));
    SKIFF_CHECK(with_context(store.layers.unpack(fd.get(), diff_id, parent_chain), "layer " + blob_digest));
    return ok();
}

// Copy a spooled file into the blob store: under `expected` (verified), or the digest it has.
// `mismatch`, when given, is the error for content that does not hash to `expected`.
Result<std::pair<std::string, int64_t>> store_blob(const Store& store, const Spool& spool, const std::string& rel,
                                                   const std::string& expected = "", int64_t expected_size = -1,
                                                   const std::string& mismatch = "") {
    SKIFF_TRY(fd, spool.open(rel));
    SKIFF_TRY(writer, store.blobs.begin_write());
    SKIFF_CHECK(copy_fd(fd.get(), [&](const char* d, size_t n) { return writer.write(d, n); }, rel));
    int64_t size = writer.written();
    if (expected.empty()) {
        SKIFF_TRY(digest, writer.commit_computed());
        return std::make_pair(digest, size);
    }
    if (auto committed = writer.commit(expected, expected_size); !committed) {
        // The store's message repeats the digest; keep what it found ("got sha256:...").
        const std::string& what = committed.error().what;
        auto got = what.find(": got ");
        if (!mismatch.empty() && got != std::string::npos)
            return fail(mismatch + " (it hashes to " + what.substr(got + 6) + ")");
        return fail("blob " + expected + " does not match its digest" +
                    (got == std::string::npos ? ": " + what : " (" + what.substr(got + 2) + ")"));
    }
    return std::make_pair(expected, size);
}

Result<std::vector<std::string>> string_array(const json& obj, const char* key, const std::string& where,
                                              bool required) {
    std::vector<std::string> out;
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) {
        if (required) return fail(where + "." + key + ": missing");
        return out;
    }
    if (!it->is_array()) return fail(where + "." + key + ": must be an array of strings");
    for (const auto& v : *it) {
        if (!v.is_string()) return fail(where + "." + key + ": must be an array of strings");
        out.push_back(v.get<std::string>());
    }
    return out;
}

Result<std::vector<PendingImage>> load_docker_archive(const Store& store, const Spool& spool) {
    std::vector<PendingImage> pending;
    SKIFF_TRY(text, with_context(spool.read("manifest.json", kMaxIndexBytes), "manifest.json"));
    json doc = json::parse(text, nullptr, false);
    if (doc.is_discarded()) return fail("manifest.json: invalid JSON");
    if (!doc.is_array()) return fail("manifest.json: must be an array");
    if (doc.empty()) return fail("manifest.json: no images");
    for (size_t n = 0; n < doc.size(); ++n) {
        const json& entry = doc[n];
        std::string where = "manifest.json[" + std::to_string(n) + "]";
        if (!entry.is_object()) return fail(where + ": must be an object");
        auto cfg = entry.find("Config");
        if (cfg == entry.end() || !cfg->is_string() || cfg->get<std::string>().empty())
            return fail(where + ".Config: must be a file name");
        SKIFF_TRY(layer_files, string_array(entry, "Layers", where, true));
        SKIFF_TRY(repo_tags, string_array(entry, "RepoTags", where, false));

        PendingImage image;
        for (const auto& tag : repo_tags) {
            auto ref = image::parse_reference(tag);
            if (!ref) return fail(where + ".RepoTags: " + tag + ": " + ref.error().what);
            if (!ref->digest.empty()) return fail(where + ".RepoTags: " + tag + ": a tag, not a digest, expected");
            add_tag(image.tags, ref->to_string());
        }
        std::string config_file = cfg->get<std::string>();
        SKIFF_TRY(config_bytes, spool.read(config_file, image::kMaxConfigBytes));
        SKIFF_TRY(config, with_context(image::parse_image_config(config_bytes), config_file));
        if (config.diff_ids.size() != layer_files.size())
            return fail(where + ": " + std::to_string(layer_files.size()) + " layers but the config has " +
                        std::to_string(config.diff_ids.size()) + " diff ids");
        image.config_digest = sha256_digest(config_bytes);

        image::Manifest manifest;
        manifest.media_type = std::string(image::kDockerManifest);
        manifest.config = {std::string(image::kDockerConfig), image.config_digest,
                           static_cast<int64_t>(config_bytes.size()), std::nullopt, {}};
        std::string parent;
        for (size_t i = 0; i < layer_files.size(); ++i) {
            const std::string& diff_id = config.diff_ids[i];
            image::Compression compression;
            {
                SKIFF_TRY(fd, spool.open(layer_files[i]));
                compression = sniff_compression(fd.get());
            }
            // An uncompressed layer's digest is its diff id: checked before the blob is
            // stored, so a damaged layer leaves nothing behind.
            bool plain = compression == image::Compression::none;
            SKIFF_TRY(blob, store_blob(store, spool, layer_files[i], plain ? diff_id : "", -1,
                                       "layer " + layer_files[i] + " does not match diff id " + diff_id));
            auto& [digest, size] = blob;
            auto unpacked = unpack_layer_blob(store, digest, compression, diff_id, parent);
            if (!unpacked) return std::unexpected(std::move(unpacked).error().context("layer " + layer_files[i]));
            std::string_view media_type = compression == image::Compression::gzip   ? kDockerLayerGzip
                                          : compression == image::Compression::zstd ? kDockerLayerZstd
                                                                                    : kDockerLayerTar;
            manifest.layers.push_back({std::string(media_type), digest, size, std::nullopt, {}});
            parent = chain_id(parent, diff_id);
        }
        SKIFF_CHECK(store.blobs.put(config_bytes, image.config_digest));
        SKIFF_TRY(manifest_digest, store.blobs.put_computed(image::manifest_json(manifest)));
        image.manifest_digest = std::move(manifest_digest);
        image.manifest_media_type = manifest.media_type;
        image.config = std::move(config);
        pending.push_back(std::move(image));
    }
    return pending;
}

Result<std::string> oci_blob_path(std::string_view digest) {
    SKIFF_TRY(d, parse_digest(digest));
    if (d.algorithm != "sha256") return fail("blob " + std::string(digest) + ": only sha256 digests are supported");
    return "blobs/sha256/" + d.hex;
}

// A small document blob from the layout, checked against its digest before it is parsed.
Result<std::string> read_oci_blob(const Spool& spool, const image::Descriptor& desc, size_t max_bytes) {
    SKIFF_TRY(path, oci_blob_path(desc.digest));
    SKIFF_TRY(bytes, spool.read(path, max_bytes));
    if (sha256_digest(bytes) != desc.digest) return fail("blob " + desc.digest + " does not match its digest");
    if (static_cast<int64_t>(bytes.size()) != desc.size)
        return fail("blob " + desc.digest + " is " + std::to_string(bytes.size()) + " bytes, descriptor says " +
                    std::to_string(desc.size));
    return bytes;
}

// Tags of one index.json entry (see the header comment for the rules).
Result<std::vector<std::string>> oci_tags(const image::Descriptor& desc, const std::string& where) {
    std::vector<std::string> tags;
    auto get = [&](std::string_view key) {
        auto it = desc.annotations.find(std::string(key));
        return it == desc.annotations.end() ? std::string() : it->second;
    };
    std::string ref_name = get(kRefNameAnnotation), image_name = get(kContainerdNameAnnotation);
    auto parse = [&](const std::string& text) -> Result<image::Reference> {
        auto ref = image::parse_reference(text);
        if (!ref) return fail(where + ": annotation " + text + ": " + ref.error().what);
        return ref;
    };
    bool ref_is_name = ref_name.find_first_of("/:@") != std::string::npos;
    if (!ref_name.empty() && ref_is_name) {
        SKIFF_TRY(ref, parse(ref_name));
        tags.push_back(ref.to_string());
    } else if (!image_name.empty()) {
        SKIFF_TRY(ref, parse(image_name));
        if (!ref_name.empty()) {
            ref.tag = ref_name;
            ref.digest.clear();
            SKIFF_TRY(combined, parse(ref.to_string()));
            ref = std::move(combined);
        }
        if (ref.digest.empty()) tags.push_back(ref.to_string());
    }
    return tags;
}

Result<std::vector<PendingImage>> load_oci_archive(const Store& store, const Spool& spool) {
    SKIFF_TRY(layout_text, with_context(spool.read("oci-layout", 64 * 1024), "oci-layout"));
    json layout = json::parse(layout_text, nullptr, false);
    if (layout.is_discarded() || !layout.is_object() || !layout.contains("imageLayoutVersion") ||
        !layout["imageLayoutVersion"].is_string())
        return fail("oci-layout: must be a JSON object with imageLayoutVersion");
    SKIFF_TRY(index_text, with_context(spool.read("index.json", kMaxIndexBytes), "index.json"));
    SKIFF_TRY(parsed_index, with_context(image::parse_manifest(index_text, image::kOciIndex), "index.json"));
    if (!std::holds_alternative<image::Index>(parsed_index)) return fail("index.json: is not an image index");
    const auto& index = std::get<image::Index>(parsed_index);
    if (index.manifests.empty()) return fail("index.json: no images");

    std::vector<PendingImage> pending;
    std::map<std::string, size_t> by_manifest;  // one image per manifest, tags merged
    for (size_t n = 0; n < index.manifests.size(); ++n) {
        std::string where = "index.json: manifests[" + std::to_string(n) + "]";
        image::Descriptor desc = index.manifests[n];
        SKIFF_TRY(tags, oci_tags(desc, where));
        SKIFF_TRY(bytes, read_oci_blob(spool, desc, image::kMaxManifestBytes));
        SKIFF_TRY(parsed, with_context(image::parse_manifest(bytes, desc.media_type), "manifest " + desc.digest));
        if (std::holds_alternative<image::Index>(parsed)) {
            SKIFF_TRY(chosen, with_context(image::choose_platform(std::get<image::Index>(parsed),
                                                                  image::host_platform()),
                                           "index " + desc.digest));
            desc = std::move(chosen);
            SKIFF_TRY(inner, read_oci_blob(spool, desc, image::kMaxManifestBytes));
            SKIFF_TRY(inner_parsed,
                      with_context(image::parse_manifest(inner, desc.media_type), "manifest " + desc.digest));
            if (!std::holds_alternative<image::Manifest>(inner_parsed))
                return fail("manifest " + desc.digest + ": nested index");
            bytes = std::move(inner);
            parsed = std::move(inner_parsed);
        }
        if (auto seen = by_manifest.find(desc.digest); seen != by_manifest.end()) {
            for (auto& t : tags) add_tag(pending[seen->second].tags, std::move(t));
            continue;
        }
        const auto& manifest = std::get<image::Manifest>(parsed);
        SKIFF_TRY(config_bytes, read_oci_blob(spool, manifest.config, image::kMaxConfigBytes));
        SKIFF_TRY(config, with_context(image::parse_image_config(config_bytes), "config " + manifest.config.digest));
        SKIFF_CHECK(with_context(image::check_diff_ids(config, manifest), "manifest " + desc.digest));
        std::string parent;
        for (size_t i = 0; i < manifest.layers.size(); ++i) {
            const auto& layer = manifest.layers[i];
            SKIFF_TRY(compression, image::layer_compression(layer.media_type));
            SKIFF_TRY(path, oci_blob_path(layer.digest));
            SKIFF_CHECK(store_blob(store, spool, path, layer.digest, layer.size));
            SKIFF_CHECK(unpack_layer_blob(store, layer.digest, compression, config.diff_ids[i], parent));
            parent = chain_id(parent, config.diff_ids[i]);
        }
        SKIFF_CHECK(store.blobs.put(config_bytes, manifest.config.digest));
        SKIFF_CHECK(store.blobs.put(bytes, desc.digest));
        PendingImage image;
        image.manifest_digest = desc.digest;
        image.manifest_media_type = manifest.media_type;
        image.config_digest = manifest.config.digest;
        image.config = std::move(config);
        image.tags = std::move(tags);
        by_manifest[desc.digest] = pending.size();
        pending.push_back(std::move(image));
    }
    return pending;
}

Result<std::vector<LoadedImage>> load_impl(const Store& store, int in_fd) {
    SKIFF_CHECK(store.prepare());
    TempDir dir;
    SKIFF_CHECK(dir.create(path_join(store.options.root, "tmp-load-" + std::to_string(::getpid()))));
    SKIFF_CHECK(extract_archive(in_fd, dir));
    Spool spool{dir};

    SKIFF_TRY(lock, store.lock_for_adding());
    std::vector<PendingImage> pending;
    // Docker 25+ writes an OCI layout and manifest.json side by side; manifest.json's paths
    // point into blobs/ and carry the tags, so it wins.
    if (spool.exists("manifest.json")) {
        SKIFF_TRY(p, load_docker_archive(store, spool));
        pending = std::move(p);
    } else if (spool.exists("index.json") && spool.exists("oci-layout")) {
        SKIFF_TRY(p, load_oci_archive(store, spool));
        pending = std::move(p);
    } else {
        return fail("archive has neither manifest.json (docker-archive) nor index.json and oci-layout (OCI)");
    }

    std::vector<LoadedImage> loaded;
    for (const auto& p : pending) {
        SKIFF_TRY(record, record_image(store, p.manifest_digest, p.manifest_media_type, p.config_digest, p.config,
                                       p.tags, {}));
        auto same = std::find_if(loaded.begin(), loaded.end(), [&](const LoadedImage& l) { return l.id == record.id; });
        if (same == loaded.end()) {
            loaded.push_back({record.id, p.tags});
        } else {
            for (const auto& t : p.tags) add_tag(same->repo_tags, t);
        }
    }
    return loaded;
}

// ---------------------------------------------------------------------------------------
// import

la_ssize_t blob_writer_cb(struct archive* a, void* client, const void* buffer, size_t length) {
    auto* writer = static_cast<image::BlobStore::Writer*>(client);
    if (auto w = writer->write(buffer, length); !w) {
        archive_set_error(a, w.error().code ? w.error().code : EIO, "%s", w.error().message().c_str());
        return -1;
    }
    return static_cast<la_ssize_t>(length);
}

struct ImportedLayer {
    std::string blob_digest;
    int64_t blob_size = 0;
    std::string diff_id;
};

// Read the tarball once: decompress whatever it came as, hash that (the diff id) and
// gzip it into a new blob.
Result<ImportedLayer> import_blob(const Store& store, int in_fd) {
    ReadArchive in(archive_read_new());
    if (!in) return fail("archive_read_new: out of memory");
    support_layer_compressions(in.get());
    archive_read_support_format_raw(in.get());
    if (archive_read_open_fd(in.get(), in_fd, 64 * 1024) != ARCHIVE_OK) return archive_fail(in.get(), "read input");
    struct archive_entry* entry = nullptr;
    int r = archive_read_next_header(in.get(), &entry);
    if (r == ARCHIVE_EOF) return fail("empty input");
    if (r < ARCHIVE_WARN) return archive_fail(in.get(), "read input");

    SKIFF_TRY(writer, store.blobs.begin_write());
    WriteArchive out(archive_write_new());
    if (!out) return fail("archive_write_new: out of memory");
    // Unblocked output (no zero padding after the gzip stream) and no timestamp in the gzip
    // header, so the same tarball gives the same blob.
    if (archive_write_add_filter_gzip(out.get()) != ARCHIVE_OK ||
        archive_write_set_format_raw(out.get()) != ARCHIVE_OK ||
        archive_write_set_bytes_per_block(out.get(), 0) != ARCHIVE_OK ||
        archive_write_set_options(out.get(), "gzip:!timestamp") != ARCHIVE_OK ||
        archive_write_open2(out.get(), &writer, nullptr, blob_writer_cb, nullptr, nullptr) != ARCHIVE_OK)
        return archive_fail(out.get(), "compress layer");
    std::unique_ptr<struct archive_entry, void (*)(struct archive_entry*)> e(archive_entry_new(), archive_entry_free);
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_pathname(e.get(), "layer.tar");
    if (archive_write_header(out.get(), e.get()) != ARCHIVE_OK) return archive_fail(out.get(), "compress layer");

    Sha256 hash;
    int64_t total = 0;
    std::unique_ptr<char[]> buf(new char[kCopyBuffer]);
    for (;;) {
        la_ssize_t n = archive_read_data(in.get(), buf.get(), kCopyBuffer);
        if (n < 0) return archive_fail(in.get(), "read input");
        if (n == 0) break;
        hash.update(std::string_view(buf.get(), static_cast<size_t>(n)));
        total += n;
        for (la_ssize_t done = 0; done < n;) {
            la_ssize_t w = archive_write_data(out.get(), buf.get() + done, static_cast<size_t>(n - done));
            if (w <= 0) return archive_fail(out.get(), "compress layer");
            done += w;
        }
    }
    if (total == 0) return fail("empty input");
    if (archive_write_close(out.get()) != ARCHIVE_OK) return archive_fail(out.get(), "compress layer");
    ImportedLayer layer;
    layer.diff_id = hash.finish();
    layer.blob_size = writer.written();
    SKIFF_TRY(digest, writer.commit_computed());
    layer.blob_digest = std::move(digest);
    return layer;
}

Result<image::ImageRecord> import_impl(const Store& store, int in_fd, const ImportOptions& options) {
    // Changes first: a typo should not cost reading a large tarball.
    image::RunConfig run_config;
    for (const auto& change : options.changes) SKIFF_CHECK(apply_change(run_config, change));
    std::vector<std::string> tags;
    if (!options.tag.empty()) {
        SKIFF_TRY(ref, image::parse_reference(options.tag));
        tags.push_back(ref.to_string());
    }

    SKIFF_CHECK(store.prepare());
    SKIFF_TRY(lock, store.lock_for_adding());
    SKIFF_TRY(layer, import_blob(store, in_fd));
    if (!store.layers.has(chain_id("", layer.diff_id))) {
        SKIFF_TRY(fd, store.blobs.open(layer.blob_digest));
        SKIFF_CHECK(store.layers.unpack(fd.get(), layer.diff_id, ""));
    }

    image::ImageConfig config;
    image::Platform platform = options.platform.os.empty() ? image::host_platform() : options.platform;
    config.architecture = platform.architecture;
    config.os = platform.os;
    config.variant = platform.variant;
    config.os_version = platform.os_version;
    config.created = rfc3339_now();
    config.config = std::move(run_config);
    config.diff_ids = {layer.diff_id};
    config.history.push_back({config.created, "skiff import", "", options.message, false});
    return store_oci_image(store, config,
                           {{std::string(kOciLayerGzip), layer.blob_digest, layer.blob_size, std::nullopt, {}}}, tags);
}

}  // namespace

Status apply_change(image::RunConfig& config, std::string_view instruction) {
    return with_context(apply_change_impl(config, instruction), "--change");
}

Status save_images(const Store& store, const std::vector<std::string>& images, ArchiveFormat format, int out_fd) {
    auto run = [&]() -> Status {
        if (images.empty()) return fail("no images given");
        SKIFF_TRY(items, resolve_images(store, images));
        TarWriter tar;
        SKIFF_CHECK(tar.open(out_fd));
        if (format == ArchiveFormat::docker_archive)
            SKIFF_CHECK(save_docker_archive(store, items, tar));
        else
            SKIFF_CHECK(save_oci_archive(store, items, tar));
        return tar.close();
    };
    return with_context(run(), "save");
}

Result<std::vector<LoadedImage>> load_images(const Store& store, int in_fd) {
    return with_context(load_impl(store, in_fd), "load");
}

Result<image::ImageRecord> import_rootfs(const Store& store, int in_fd, const ImportOptions& options) {
    return with_context(import_impl(store, in_fd, options), "import");
}

}  // namespace skiff::engine
