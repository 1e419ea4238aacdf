#include "image/manifest.hpp"

#include <sys/utsname.h>

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

#include "common/digest.hpp"
#include "common/json_fields.hpp"

namespace skiff::image {

namespace {

using nlohmann::json;

constexpr std::string_view kDockerSchema1 = "application/vnd.docker.distribution.manifest.v1+json";
constexpr std::string_view kDockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws";

using json_fields::element_path;
using json_fields::find_member;
using json_fields::member_path;

// Optional string field: absent or null is "", anything but a string names the field.
Result<std::string> opt_string(const json& obj, std::string_view key, const std::string& path) {
    const json* value = find_member(obj, key);
    if (!value) return std::string();
    if (!value->is_string()) return fail(member_path(path, key) + ": must be a string");
    return value->get<std::string>();
}

Result<std::string> req_string(const json& obj, std::string_view key, const std::string& path) {
    if (!obj.contains(key)) return fail(member_path(path, key) + ": missing");
    SKIFF_TRY(value, opt_string(obj, key, path));
    if (value.empty()) return fail(member_path(path, key) + ": must be a non-empty string");
    return value;
}

Result<std::vector<std::string>> opt_string_array(const json& obj, std::string_view key,
                                                  const std::string& path) {
    std::vector<std::string> out;
    const json* value = find_member(obj, key);
    if (!value) return out;
    const std::string field = member_path(path, key);
    if (!value->is_array()) return fail(field + ": must be an array of strings");
    for (size_t i = 0; i < value->size(); ++i) {
        const json& item = (*value)[i];
        if (!item.is_string()) return fail(element_path(field, i) + ": must be a string");
        out.push_back(item.get<std::string>());
    }
    return out;
}

Result<std::map<std::string, std::string>> opt_string_map(const json& obj, std::string_view key,
                                                          const std::string& path) {
    std::map<std::string, std::string> out;
    const json* value = find_member(obj, key);
    if (!value) return out;
    const std::string field = member_path(path, key);
    if (!value->is_object()) return fail(field + ": must be an object");
    for (const auto& [k, v] : value->items()) {
        if (!v.is_string()) return fail(field + "." + k + ": must be a string");
        out.emplace(k, v.get<std::string>());
    }
    return out;
}

// Docker encodes sets (ExposedPorts, Volumes) as objects with empty-object values.
Result<std::vector<std::string>> opt_key_set(const json& obj, std::string_view key, const std::string& path) {
    std::vector<std::string> out;
    const json* value = find_member(obj, key);
    if (!value) return out;
    if (!value->is_object()) return fail(member_path(path, key) + ": must be an object");
    for (const auto& [k, v] : value->items()) out.push_back(k);  // nlohmann objects iterate sorted
    return out;
}

Result<json> parse_json(std::string_view body, size_t limit, std::string_view what) {
    if (body.size() > limit)
        return fail(std::string(what) + " is " + std::to_string(body.size()) + " bytes, over the " +
                    std::to_string(limit >> 20) + " MiB limit");
    json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) return fail(std::string(what) + ": invalid JSON");
    if (!doc.is_object()) return fail(std::string(what) + ": must be a JSON object");
    return doc;
}

Result<Platform> parse_platform_json(const json& obj, const std::string& path) {
    if (!obj.is_object()) return fail(path + ": must be an object");
    Platform p;
    SKIFF_TRY(os, req_string(obj, "os", path));
    SKIFF_TRY(arch, req_string(obj, "architecture", path));
    SKIFF_TRY(variant, opt_string(obj, "variant", path));
    SKIFF_TRY(os_version, opt_string(obj, "os.version", path));
    SKIFF_TRY(features, opt_string_array(obj, "os.features", path));
    p.os = std::move(os);
    p.architecture = std::move(arch);
    p.variant = std::move(variant);
    p.os_version = std::move(os_version);
    p.features = std::move(features);
    return p;
}

Result<Descriptor> parse_descriptor(const json& obj, const std::string& path) {
    if (!obj.is_object()) return fail(path + ": must be an object");
    Descriptor d;
    SKIFF_TRY(media_type, req_string(obj, "mediaType", path));
    SKIFF_TRY(digest, req_string(obj, "digest", path));
    if (auto parsed = parse_digest(digest); !parsed)
        return std::unexpected(std::move(parsed).error().context(path + ".digest"));
    auto size = obj.find("size");
    if (size == obj.end()) return fail(path + ".size: missing");
    if (!size->is_number_integer() || size->get<int64_t>() < 0)
        return fail(path + ".size: must be a non-negative integer");
    d.media_type = std::move(media_type);
    d.digest = std::move(digest);
    d.size = size->get<int64_t>();
    if (auto it = obj.find("platform"); it != obj.end() && !it->is_null()) {
        SKIFF_TRY(platform, parse_platform_json(*it, path + ".platform"));
        d.platform = std::move(platform);
    }
    SKIFF_TRY(annotations, opt_string_map(obj, "annotations", path));
    d.annotations = std::move(annotations);
    return d;
}

Result<Manifest> parse_image_manifest(const json& doc, std::string media_type) {
    Manifest m;
    m.media_type = std::move(media_type);
    auto config = doc.find("config");
    if (config == doc.end()) return fail("config: missing");
    SKIFF_TRY(cfg, parse_descriptor(*config, "config"));
    // Artifacts (Helm charts, signatures) share the manifest format but are not images.
    if (cfg.media_type != kDockerConfig && cfg.media_type != kOciConfig)
        return fail("config.mediaType: unsupported config media type " + cfg.media_type);
    m.config = std::move(cfg);
    auto layers = doc.find("layers");
    if (layers == doc.end()) return fail("layers: missing");
    if (!layers->is_array()) return fail("layers: must be an array");
    for (size_t i = 0; i < layers->size(); ++i) {
        std::string path = "layers[" + std::to_string(i) + "]";
        SKIFF_TRY(layer, parse_descriptor((*layers)[i], path));
        if (auto c = layer_compression(layer.media_type); !c)
            return std::unexpected(std::move(c).error().context(path + ".mediaType"));
        m.layers.push_back(std::move(layer));
    }
    SKIFF_TRY(annotations, opt_string_map(doc, "annotations", ""));
    m.annotations = std::move(annotations);
    return m;
}

Result<Index> parse_index(const json& doc, std::string media_type) {
    Index idx;
    idx.media_type = std::move(media_type);
    auto manifests = doc.find("manifests");
    if (manifests == doc.end()) return fail("manifests: missing");
    if (!manifests->is_array()) return fail("manifests: must be an array");
    for (size_t i = 0; i < manifests->size(); ++i) {
        SKIFF_TRY(d, parse_descriptor((*manifests)[i], "manifests[" + std::to_string(i) + "]"));
        idx.manifests.push_back(std::move(d));
    }
    SKIFF_TRY(annotations, opt_string_map(doc, "annotations", ""));
    idx.annotations = std::move(annotations);
    return idx;
}

// Content-Type may carry parameters ("...+json; charset=utf-8").
std::string_view strip_params(std::string_view content_type) {
    auto semi = content_type.find(';');
    if (semi != std::string_view::npos) content_type = content_type.substr(0, semi);
    while (!content_type.empty() && content_type.back() == ' ') content_type.remove_suffix(1);
    return content_type;
}

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

}  // namespace

std::string Platform::to_string() const {
    std::string s = os + "/" + architecture;
    if (!variant.empty()) s += "/" + variant;
    return s;
}

Result<ManifestOrIndex> parse_manifest(std::string_view body, std::string_view content_type) {
    SKIFF_TRY(doc, parse_json(body, kMaxManifestBytes, "manifest"));
    SKIFF_TRY(media_type, opt_string(doc, "mediaType", ""));
    if (media_type.empty()) media_type = std::string(strip_params(content_type));
    if (media_type.empty()) {
        // OCI made mediaType optional at first; schema 1 (schemaVersion 1) never had one.
        if (doc.contains("schemaVersion") && doc["schemaVersion"] == 1)
            media_type = std::string(kDockerSchema1);
        else if (doc.contains("manifests"))
            media_type = std::string(kOciIndex);
        else if (doc.contains("config") && doc.contains("layers"))
            media_type = std::string(kOciManifest);
        else
            return fail("manifest has no mediaType and is neither a manifest nor an index");
    }
    if (media_type == kDockerManifest || media_type == kOciManifest) {
        auto m = parse_image_manifest(doc, media_type);
        if (!m) return std::unexpected(std::move(m).error().context("manifest"));
        return ManifestOrIndex(std::move(*m));
    }
    if (media_type == kDockerManifestList || media_type == kOciIndex) {
        auto idx = parse_index(doc, media_type);
        if (!idx) return std::unexpected(std::move(idx).error().context("index"));
        return ManifestOrIndex(std::move(*idx));
    }
    if (media_type == kDockerSchema1 || media_type == kDockerSchema1Signed)
        return fail("unsupported manifest media type " + media_type +
                    " (Docker schema 1 is deprecated; push the image again with a current client)");
    return fail("unsupported manifest media type " + media_type);
}

Result<Compression> layer_compression(std::string_view media_type) {
    static const std::pair<std::string_view, Compression> kTypes[] = {
        {"application/vnd.docker.image.rootfs.diff.tar", Compression::none},
        {"application/vnd.docker.image.rootfs.diff.tar.gzip", Compression::gzip},
        {"application/vnd.docker.image.rootfs.diff.tar.zstd", Compression::zstd},
        {"application/vnd.docker.image.rootfs.foreign.diff.tar", Compression::none},
        {"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", Compression::gzip},
        {"application/vnd.oci.image.layer.v1.tar", Compression::none},
        {"application/vnd.oci.image.layer.v1.tar+gzip", Compression::gzip},
        {"application/vnd.oci.image.layer.v1.tar+zstd", Compression::zstd},
        {"application/vnd.oci.image.layer.nondistributable.v1.tar", Compression::none},
        {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", Compression::gzip},
        {"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", Compression::zstd},
    };
    for (const auto& [type, compression] : kTypes)
        if (type == media_type) return compression;
    return fail("unsupported layer media type " + std::string(media_type));
}

Result<ImageConfig> parse_image_config(std::string_view body) {
    auto parsed = [&]() -> Result<ImageConfig> {
        SKIFF_TRY(doc, parse_json(body, kMaxConfigBytes, "image config"));
        ImageConfig ic;
        SKIFF_TRY(architecture, req_string(doc, "architecture", ""));
        SKIFF_TRY(os, req_string(doc, "os", ""));
        SKIFF_TRY(variant, opt_string(doc, "variant", ""));
        SKIFF_TRY(os_version, opt_string(doc, "os.version", ""));
        SKIFF_TRY(created, opt_string(doc, "created", ""));
        ic.architecture = std::move(architecture);
        ic.os = std::move(os);
        ic.variant = std::move(variant);
        ic.os_version = std::move(os_version);
        ic.created = std::move(created);

        if (auto it = doc.find("config"); it != doc.end() && !it->is_null()) {
            const json& c = *it;
            if (!c.is_object()) return fail("config: must be an object");
            RunConfig& rc = ic.config;
            SKIFF_TRY(user, opt_string(c, "User", "config"));
            SKIFF_TRY(env, opt_string_array(c, "Env", "config"));
            SKIFF_TRY(entrypoint, opt_string_array(c, "Entrypoint", "config"));
            SKIFF_TRY(cmd, opt_string_array(c, "Cmd", "config"));
            SKIFF_TRY(working_dir, opt_string(c, "WorkingDir", "config"));
            SKIFF_TRY(ports, opt_key_set(c, "ExposedPorts", "config"));
            SKIFF_TRY(volumes, opt_key_set(c, "Volumes", "config"));
            SKIFF_TRY(labels, opt_string_map(c, "Labels", "config"));
            SKIFF_TRY(stop_signal, opt_string(c, "StopSignal", "config"));
            rc.user = std::move(user);
            rc.env = std::move(env);
            rc.entrypoint = std::move(entrypoint);
            rc.cmd = std::move(cmd);
            rc.working_dir = std::move(working_dir);
            rc.exposed_ports = std::move(ports);
            rc.volumes = std::move(volumes);
            rc.labels = std::move(labels);
            rc.stop_signal = std::move(stop_signal);
        }

        auto rootfs = doc.find("rootfs");
        if (rootfs == doc.end()) return fail("rootfs: missing");
        if (!rootfs->is_object()) return fail("rootfs: must be an object");
        SKIFF_TRY(type, req_string(*rootfs, "type", "rootfs"));
        if (type != "layers") return fail("rootfs.type: must be \"layers\", got \"" + type + "\"");
        if (!rootfs->contains("diff_ids")) return fail("rootfs.diff_ids: missing");
        SKIFF_TRY(diff_ids, opt_string_array(*rootfs, "diff_ids", "rootfs"));
        for (size_t i = 0; i < diff_ids.size(); ++i)
            if (auto d = parse_digest(diff_ids[i]); !d)
                return std::unexpected(
                    std::move(d).error().context("rootfs.diff_ids[" + std::to_string(i) + "]"));
        ic.diff_ids = std::move(diff_ids);

        if (auto it = doc.find("history"); it != doc.end() && !it->is_null()) {
            if (!it->is_array()) return fail("history: must be an array");
            for (size_t i = 0; i < it->size(); ++i) {
                const json& h = (*it)[i];
                std::string path = "history[" + std::to_string(i) + "]";
                if (!h.is_object()) return fail(path + ": must be an object");
                HistoryEntry e;
                SKIFF_TRY(hcreated, opt_string(h, "created", path));
                SKIFF_TRY(created_by, opt_string(h, "created_by", path));
                SKIFF_TRY(author, opt_string(h, "author", path));
                SKIFF_TRY(comment, opt_string(h, "comment", path));
                e.created = std::move(hcreated);
                e.created_by = std::move(created_by);
                e.author = std::move(author);
                e.comment = std::move(comment);
                if (auto el = h.find("empty_layer"); el != h.end() && !el->is_null()) {
                    if (!el->is_boolean()) return fail(path + ".empty_layer: must be a boolean");
                    e.empty_layer = el->get<bool>();
                }
                ic.history.push_back(std::move(e));
            }
        }
        return ic;
    }();
    return with_context(std::move(parsed), "image config");
}

Status check_diff_ids(const ImageConfig& config, const Manifest& manifest) {
    if (config.diff_ids.size() != manifest.layers.size())
        return fail("image config has " + std::to_string(config.diff_ids.size()) +
                    " diff_ids but the manifest has " + std::to_string(manifest.layers.size()) + " layers");
    return ok();
}

Platform normalize_platform(Platform p) {
    p.os = lower(std::move(p.os));
    p.architecture = lower(std::move(p.architecture));
    p.variant = lower(std::move(p.variant));
    std::string& arch = p.architecture;
    std::string& variant = p.variant;
    if (arch == "i386") {
        arch = "386";
        variant.clear();
    } else if (arch == "x86_64" || arch == "x86-64" || arch == "amd64") {
        arch = "amd64";
        if (variant == "v1") variant.clear();  // the baseline is written without a variant
    } else if (arch == "aarch64" || arch == "arm64") {
        arch = "arm64";
        if (variant == "8" || variant == "v8" || variant == "v8.0") variant = "v8";
    } else if (arch == "armhf") {
        arch = "arm";
        variant = "v7";
    } else if (arch == "armel") {
        arch = "arm";
        variant = "v6";
    } else if (arch == "arm") {
        if (variant.empty() || variant == "7") variant = "v7";
        else if (variant == "5" || variant == "6" || variant == "8") variant = "v" + variant;
    }
    return p;
}

Result<Platform> parse_platform(std::string_view text) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (true) {
        size_t slash = text.find('/', start);
        parts.emplace_back(text.substr(start, slash == std::string_view::npos ? slash : slash - start));
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    auto bad = [&](std::string why) {
        return fail("invalid platform \"" + std::string(text) + "\": " + std::move(why));
    };
    if (parts.size() > 3) return bad("expected os/arch[/variant]");
    for (const auto& part : parts)
        if (part.empty()) return bad("empty component");
    Platform p;
    if (parts.size() == 1) {
        Platform host = host_platform();
        std::string one = lower(parts[0]);
        if (one == "linux" || one == "windows" || one == "darwin" || one == "freebsd") {
            p.os = one;
            p.architecture = host.architecture;
            p.variant = host.variant;
        } else {
            p.os = host.os;
            p.architecture = one;
        }
    } else {
        p.os = parts[0];
        p.architecture = parts[1];
        if (parts.size() == 3) p.variant = parts[2];
    }
    return normalize_platform(std::move(p));
}

Platform host_platform() {
    Platform p;
    p.os = "linux";
    struct utsname u {};
    std::string machine = uname(&u) == 0 ? u.machine : "";
    // 32-bit ARM reports its ISA level in the machine name ("armv7l", "armv6l").
    if (machine.size() >= 5 && machine.starts_with("armv") && std::isdigit(static_cast<unsigned char>(machine[4]))) {
        p.architecture = "arm";
        p.variant = std::string("v") + machine[4];
    } else if (machine == "i686" || machine == "i586" || machine == "i486") {
        p.architecture = "386";
    } else {
        p.architecture = machine;
    }
    return normalize_platform(std::move(p));
}

Result<Descriptor> choose_platform(const Index& index, const Platform& wanted_in) {
    Platform wanted = normalize_platform(wanted_in);
    // Acceptable variants, most preferred first.
    std::vector<std::string> variants{wanted.variant};
    if (wanted.architecture == "arm64") {
        variants = {"v8", ""};
        if (!wanted.variant.empty() && wanted.variant != "v8") variants.insert(variants.begin(), wanted.variant);
    } else if (wanted.architecture == "arm" && wanted.variant.size() == 2 && wanted.variant[0] == 'v') {
        for (char level = static_cast<char>(wanted.variant[1] - 1); level >= '5'; --level)
            variants.push_back(std::string("v") + level);
    } else if (wanted.architecture == "amd64" && wanted.variant.size() == 2 && wanted.variant[0] == 'v') {
        for (char level = static_cast<char>(wanted.variant[1] - 1); level >= '2'; --level)
            variants.push_back(std::string("v") + level);
        variants.push_back("");  // v1
    }
    for (const auto& variant : variants) {
        for (const auto& d : index.manifests) {
            if (!d.platform) continue;
            Platform have = normalize_platform(*d.platform);
            // arm64 images often omit the variant; "" and v8 are the same thing there.
            if (have.architecture == "arm64" && have.variant.empty()) have.variant = "v8";
            if (have.os == wanted.os && have.architecture == wanted.architecture &&
                have.variant == (wanted.architecture == "arm64" && variant.empty() ? "v8" : variant))
                return d;
        }
    }
    std::vector<std::string> available;
    for (const auto& d : index.manifests) {
        // BuildKit attestation manifests carry unknown/unknown: not an image for anyone.
        if (!d.platform || d.platform->os == "unknown") continue;
        std::string name = d.platform->to_string();
        if (std::find(available.begin(), available.end(), name) == available.end()) available.push_back(name);
    }
    std::string list;
    for (const auto& name : available) list += (list.empty() ? "" : ", ") + name;
    return fail("no image for platform " + wanted.to_string() + " in index (available: " +
                (list.empty() ? "none" : list) + ")");
}

}  // namespace skiff::image
