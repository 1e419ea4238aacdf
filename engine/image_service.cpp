// Listing, inspecting, tagging and removing images; garbage collection and store checks.
#include <fnmatch.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <ctime>
#include <dirent.h>
#include <map>
#include <set>

#include "common/clock.hpp"
#include "common/fs.hpp"
#include "engine/images.hpp"

namespace skiff::engine {
namespace {

bool is_hex(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    });
}

// "docker.io/library/busybox:latest" -> familiar repository and tag.
std::pair<std::string, std::string> split_tag(const std::string& full) {
    auto ref = image::parse_reference(full);
    if (!ref) return {full, "<none>"};
    std::string tag = ref->tag;
    ref->tag.clear();
    ref->digest.clear();
    return {ref->familiar(), tag.empty() ? "<none>" : tag};
}

std::string familiar(const std::string& full) {
    auto ref = image::parse_reference(full);
    return ref ? ref->familiar() : full;
}

// The familiar repository of a digest reference: "docker.io/library/busybox@sha256:..." ->
// "busybox".
std::string digest_repository(const std::string& full) {
    auto ref = image::parse_reference(full);
    if (!ref) return full;
    ref->tag.clear();
    ref->digest.clear();
    return ref->familiar();
}

Result<nlohmann::json> config_json(const Store& store, const image::ImageRecord& record) {
    SKIFF_TRY(body, store.blobs.read(record.id, image::kMaxConfigBytes));
    auto parsed = nlohmann::json::parse(body, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object())
        return fail("image " + record.id + ": config is not a JSON object");
    return parsed;
}

nlohmann::json labels_of(const nlohmann::json& config) {
    if (config.contains("config") && config["config"].is_object()) {
        const auto& c = config["config"];
        if (c.contains("Labels") && c["Labels"].is_object()) return c["Labels"];
    }
    return nlohmann::json::object();
}

bool labels_match(const nlohmann::json& labels, const std::vector<std::string>& wanted) {
    for (const auto& w : wanted) {
        auto eq = w.find('=');
        std::string key = w.substr(0, eq);
        if (!labels.contains(key)) return false;
        if (eq != std::string::npos) {
            const auto& v = labels[key];
            if (!v.is_string() || v.get<std::string>() != w.substr(eq + 1)) return false;
        }
    }
    return true;
}

// Docker matches reference filters against "name" and "name:tag" in familiar form.
bool reference_matches(const std::string& pattern, const std::string& repository, const std::string& tag) {
    std::string with_tag = repository + ":" + tag;
    return ::fnmatch(pattern.c_str(), repository.c_str(), 0) == 0 ||
           ::fnmatch(pattern.c_str(), with_tag.c_str(), 0) == 0;
}

// Unparsable times sort first.
Timestamp time_key(const std::string& text) {
    return parse_rfc3339(text).value_or(Timestamp{LLONG_MIN, 0});
}

// Blobs and layers every remaining image needs.
struct Referenced {
    std::set<std::string> blobs;
    std::set<std::string> layers;
};

Result<Referenced> referenced_content(const Store& store) {
    Referenced out;
    SKIFF_TRY(records, store.images.list());
    for (const auto& r : records) {
        out.blobs.insert(r.id);
        out.blobs.insert(r.manifest_digest);
        for (const auto& d : r.repo_digests) {
            auto at = d.find('@');
            if (at != std::string::npos) out.blobs.insert(d.substr(at + 1));  // an index we kept
        }
        for (const auto& l : r.layers) out.layers.insert(l);
        auto manifest_body = store.blobs.read(r.manifest_digest, image::kMaxManifestBytes);
        if (!manifest_body) continue;  // reported by system check; keep what we can
        auto parsed = image::parse_manifest(*manifest_body, r.manifest_media_type);
        if (!parsed || !std::holds_alternative<image::Manifest>(*parsed)) continue;
        for (const auto& layer : std::get<image::Manifest>(*parsed).layers) out.blobs.insert(layer.digest);
    }
    return out;
}

// Remove layers and blobs no image refers to. Caller holds the collecting lock.
Status collect_garbage(const Store& store, RemovalReport& report) {
    SKIFF_TRY(keep, referenced_content(store));
    SKIFF_TRY(layers, store.layers.list());
    // Topmost first, so Docker's "Deleted:" lines read from the image down.
    std::reverse(layers.begin(), layers.end());
    for (const auto& layer : layers) {
        if (keep.layers.count(layer.chain_id)) continue;
        SKIFF_CHECK(store.layers.remove(layer.chain_id));
        report.deleted.push_back(layer.chain_id);
        report.reclaimed += layer.size;
    }
    SKIFF_TRY(blobs, store.blobs.list());
    for (const auto& blob : blobs) {
        if (keep.blobs.count(blob)) continue;
        auto size = store.blobs.size(blob);
        SKIFF_CHECK(store.blobs.remove(blob));
        if (size) report.reclaimed += *size;
    }
    return ok();
}

}  // namespace

Result<image::ImageRecord> find_image(const Store& store, std::string_view text) {
    if (text.empty()) return fail("image name must not be empty");
    // A bare hex string is an id (prefix) first: "a416a98b71e2" is not a repository name a
    // user means when such an image exists, and Docker resolves it the same way.
    if (is_hex(text) || text.starts_with("sha256:")) {
        auto by_id = store.images.find(text);
        if (by_id || by_id.error().code != ENOENT) return by_id;
    }
    auto ref = image::parse_reference(text);
    if (ref) {
        auto found = store.images.find(ref->to_string());
        if (found) return found;
        if (found.error().code != ENOENT) return found;
    }
    return sys_error(ENOENT, "No such image: " + std::string(text));
}

Status add_image_filter(ImageFilters& filters, std::string_view text) {
    auto eq = text.find('=');
    if (eq == std::string_view::npos) return fail("bad format of filter (expected name=value): " + std::string(text));
    std::string key(text.substr(0, eq)), value(text.substr(eq + 1));
    if (key == "dangling") {
        if (value == "true" || value == "1") filters.dangling = true;
        else if (value == "false" || value == "0") filters.dangling = false;
        else return fail("invalid filter 'dangling=" + value + "': expected true or false");
    } else if (key == "reference") {
        filters.references.push_back(value);
    } else if (key == "before") {
        filters.before = value;
    } else if (key == "since") {
        filters.since = value;
    } else if (key == "label") {
        filters.labels.push_back(value);
    } else {
        return fail("invalid filter '" + key + "'");
    }
    return ok();
}

Result<std::vector<ImageRow>> list_images(const Store& store, const ImageFilters& filters,
                                          const std::optional<std::string>& name) {
    SKIFF_TRY(records, store.images.list());
    std::optional<Timestamp> before_created, since_created;
    if (filters.before) {
        SKIFF_TRY(r, find_image(store, *filters.before));
        before_created = time_key(r.created);
    }
    if (filters.since) {
        SKIFF_TRY(r, find_image(store, *filters.since));
        since_created = time_key(r.created);
    }
    // `images busybox` means every tag of that repository; `images busybox:1` that tag only.
    std::optional<std::string> want_repository, want_tag;
    if (name) {
        SKIFF_TRY(ref, image::parse_reference(*name));
        bool tagged = name->find(':', name->rfind('/') == std::string::npos ? 0 : name->rfind('/')) != std::string::npos;
        if (tagged) want_tag = ref.tag;
        ref.tag.clear();
        ref.digest.clear();
        want_repository = ref.familiar();
    }
    std::sort(records.begin(), records.end(), [](const auto& a, const auto& b) {
        auto ta = time_key(a.created), tb = time_key(b.created);
        return ta != tb ? ta > tb : a.id < b.id;
    });
    std::vector<ImageRow> rows;
    for (const auto& record : records) {
        bool dangling = record.repo_tags.empty();
        if (filters.dangling && *filters.dangling != dangling) continue;
        if (before_created && !(time_key(record.created) < *before_created)) continue;
        if (since_created && !(time_key(record.created) > *since_created)) continue;
        nlohmann::json labels = nlohmann::json::object();
        if (auto config = config_json(store, record)) labels = labels_of(*config);
        if (!labels_match(labels, filters.labels)) continue;
        // Digests by repository, so each tag row shows its repository's digest.
        std::map<std::string, std::string> digest_of;
        for (const auto& d : record.repo_digests) {
            auto at = d.find('@');
            digest_of[digest_repository(d)] = d.substr(at + 1);
        }
        auto emit = [&](std::string repository, std::string tag) {
            if (want_repository && repository != *want_repository) return;
            if (want_tag && tag != *want_tag) return;
            if (!filters.references.empty()) {
                bool any = false;
                for (const auto& p : filters.references) any = any || reference_matches(p, repository, tag);
                if (!any) return;
            }
            ImageRow row{record, repository, tag, "<none>", labels};
            if (auto it = digest_of.find(repository); it != digest_of.end()) row.digest = it->second;
            rows.push_back(std::move(row));
        };
        if (dangling) {
            // Untagged but pulled by digest: Docker shows the repository with tag <none>.
            if (record.repo_digests.empty()) emit("<none>", "<none>");
            for (const auto& d : record.repo_digests) emit(digest_repository(d), "<none>");
        } else {
            for (const auto& t : record.repo_tags) {
                auto [repository, tag] = split_tag(t);
                emit(repository, tag);
            }
        }
    }
    return rows;
}

Result<nlohmann::json> inspect_image(const Store& store, std::string_view text) {
    SKIFF_TRY(record, find_image(store, text));
    SKIFF_TRY(config, config_json(store, record));
    nlohmann::json tags = nlohmann::json::array(), digests = nlohmann::json::array();
    for (const auto& t : record.repo_tags) tags.push_back(familiar(t));
    for (const auto& d : record.repo_digests) digests.push_back(familiar(d));
    auto str = [&](const char* key) {
        return config.contains(key) && config[key].is_string() ? config[key].get<std::string>() : std::string();
    };
    nlohmann::json lower = nlohmann::json::array();
    std::string lower_dirs;
    for (auto it = record.layers.rbegin(); it != record.layers.rend(); ++it) {
        if (!lower_dirs.empty()) lower_dirs += ":";
        lower_dirs += store.layers.diff_path(*it);
    }
    nlohmann::json out = {
        {"Id", record.id},
        {"RepoTags", tags},
        {"RepoDigests", digests},
        {"Parent", record.parent},
        {"Comment", ""},
        {"Created", record.created},
        {"DockerVersion", ""},
        {"Author", str("author")},
        {"Config", config.contains("config") ? config["config"] : nlohmann::json::object()},
        {"Architecture", str("architecture")},
        {"Os", str("os")},
        {"Size", record.size},
        {"GraphDriver", {{"Name", "overlay"}, {"Data", {{"LowerDir", lower_dirs}}}}},
        {"RootFS", {{"Type", "layers"}, {"Layers", record.diff_ids}}},
        {"Metadata", {{"LastTagTime", record.added}}},
    };
    if (!str("variant").empty()) out["Variant"] = str("variant");
    // The comment of the newest history entry, as Docker shows for committed/imported images.
    if (config.contains("history") && config["history"].is_array() && !config["history"].empty()) {
        const auto& last = config["history"].back();
        if (last.contains("comment") && last["comment"].is_string()) out["Comment"] = last["comment"];
    }
    return out;
}

Result<std::vector<HistoryRow>> image_history(const Store& store, std::string_view text) {
    SKIFF_TRY(record, find_image(store, text));
    SKIFF_TRY(body, store.blobs.read(record.id, image::kMaxConfigBytes));
    SKIFF_TRY(config, image::parse_image_config(body));
    // Layer sizes in order, matched to the history entries that made a layer.
    std::vector<int64_t> sizes;
    for (const auto& chain : record.layers) {
        auto layer = store.layers.get(chain);
        sizes.push_back(layer ? layer->size : 0);
    }
    std::vector<HistoryRow> rows;
    size_t layer_index = 0;
    for (const auto& h : config.history) {
        HistoryRow row{"<missing>", h.created, h.created_by, 0, h.comment};
        if (!h.empty_layer && layer_index < sizes.size()) row.size = sizes[layer_index++];
        rows.push_back(std::move(row));
    }
    if (rows.empty()) {
        // Images without history: one row per layer, as Docker shows them.
        for (int64_t s : sizes) rows.push_back({"<missing>", config.created, "", s, ""});
    }
    std::reverse(rows.begin(), rows.end());
    if (!rows.empty()) rows.front().id = record.id;
    return rows;
}

Status tag_image(const Store& store, std::string_view source, std::string_view target) {
    SKIFF_TRY(record, find_image(store, source));
    SKIFF_TRY(ref, image::parse_reference(target));
    if (!ref.digest.empty()) return fail("refusing to create a tag with a digest reference: " + std::string(target));
    SKIFF_CHECK(store.prepare());
    return store.images.tag(record.id, ref.to_string());
}

std::vector<std::string> images_in_use(const Store& store) {
    std::vector<std::string> ids;
    std::string dir = path_join(store.options.root, "containers");
    DIR* d = ::opendir(dir.c_str());
    if (!d) return ids;
    while (auto* entry = ::readdir(d)) {
        std::string name = entry->d_name;
        if (name == "." || name == "..") continue;
        auto body = read_file_limited(path_join(path_join(dir, name), "record.json"), 1 << 20);
        if (!body) continue;
        auto record = nlohmann::json::parse(*body, nullptr, false);
        if (record.is_object() && record.contains("image_id") && record["image_id"].is_string())
            ids.push_back(record["image_id"].get<std::string>());
    }
    ::closedir(d);
    return ids;
}

Result<RemovalReport> remove_image(const Store& store, std::string_view text, bool force) {
    SKIFF_CHECK(store.prepare());
    SKIFF_TRY(lock, store.lock_for_collecting());
    SKIFF_TRY(record, find_image(store, text));
    RemovalReport report;
    auto in_use = images_in_use(store);
    bool used = std::find(in_use.begin(), in_use.end(), record.id) != in_use.end();

    // By reference: untag that reference; the image goes only when nothing else names it.
    std::optional<std::string> named;
    if (!is_hex(text) && !text.starts_with("sha256:")) {
        if (auto ref = image::parse_reference(text)) named = ref->to_string();
    }
    if (named) {
        size_t names = record.repo_tags.size() + record.repo_digests.size();
        if (used && names <= 1 && !force)
            return fail("conflict: unable to remove repository reference \"" + std::string(text) +
                        "\" (must force) - a container is using its referenced image " + record.id.substr(7, 12));
        SKIFF_TRY(after, store.images.untag(*named));
        report.untagged.push_back(familiar(*named));
        // Docker: untagging the last tag also drops the digest references of that image.
        if (!after.repo_tags.empty()) return report;
        record = after;
        for (const auto& d : record.repo_digests) {
            SKIFF_CHECK(store.images.untag(d));
            report.untagged.push_back(familiar(d));
        }
        if (used) return report;  // forced: untagged, kept for the container
    } else {
        if (record.repo_tags.size() > 1 && !force)
            return fail("conflict: unable to delete " + record.id.substr(7, 12) +
                        " (must be forced) - image is referenced in multiple repositories");
        if (used && !force)
            return fail("conflict: unable to delete " + record.id.substr(7, 12) +
                        " (cannot be forced) - image is being used by a container");
        for (const auto& t : record.repo_tags) {
            SKIFF_CHECK(store.images.untag(t));
            report.untagged.push_back(familiar(t));
        }
        for (const auto& d : record.repo_digests) {
            SKIFF_CHECK(store.images.untag(d));
            report.untagged.push_back(familiar(d));
        }
        if (used) return report;
    }
    SKIFF_CHECK(store.images.remove(record.id));
    report.deleted.push_back(record.id);
    SKIFF_CHECK(collect_garbage(store, report));
    return report;
}

Result<RemovalReport> prune_images(const Store& store, bool all) {
    SKIFF_CHECK(store.prepare());
    SKIFF_TRY(lock, store.lock_for_collecting());
    RemovalReport report;
    auto in_use = images_in_use(store);
    SKIFF_TRY(records, store.images.list());
    for (const auto& r : records) {
        if (std::find(in_use.begin(), in_use.end(), r.id) != in_use.end()) continue;
        if (!all && !r.repo_tags.empty()) continue;
        for (const auto& t : r.repo_tags) report.untagged.push_back(familiar(t));
        for (const auto& d : r.repo_digests) report.untagged.push_back(familiar(d));
        SKIFF_CHECK(store.images.remove(r.id));
        report.deleted.push_back(r.id);
    }
    SKIFF_CHECK(store.blobs.remove_stale_temps());
    SKIFF_CHECK(store.layers.remove_stale_temps());
    SKIFF_CHECK(collect_garbage(store, report));
    return report;
}

Result<CheckReport> check_store(const Store& store, bool repair) {
    CheckReport report;
    if (!is_directory(store.options.root)) return report;
    SKIFF_TRY(lock, store.lock_for_collecting());
    std::set<std::string> bad_blobs, bad_layers;
    SKIFF_TRY(blobs, store.blobs.list());
    for (const auto& blob : blobs) {
        ++report.blobs_checked;
        auto verified = store.blobs.verify(blob);
        if (!verified) {
            // The store's message names the blob already ("blob sha256:... is corrupted: ...").
            std::string message = verified.error().message();
            report.problems.push_back(message.starts_with("blob " + blob) ? message : "blob " + blob + ": " + message);
            bad_blobs.insert(blob);
        }
    }
    SKIFF_TRY(layers, store.layers.list());
    std::set<std::string> present_layers;
    for (const auto& layer : layers) {
        ++report.layers_checked;
        present_layers.insert(layer.chain_id);
        if (!is_directory(store.layers.diff_path(layer.chain_id))) {
            report.problems.push_back("layer " + layer.chain_id + ": its files are missing");
            bad_layers.insert(layer.chain_id);
        }
    }
    SKIFF_TRY(records, store.images.list());
    std::vector<std::string> broken_images;
    for (const auto& r : records) {
        ++report.images_checked;
        std::string name = r.repo_tags.empty() ? r.id : familiar(r.repo_tags.front());
        std::vector<std::string> missing;
        for (const auto& needed : {r.id, r.manifest_digest}) {
            if (!store.blobs.has(needed)) missing.push_back("blob " + needed + " is missing");
            else if (bad_blobs.count(needed)) missing.push_back("blob " + needed + " is corrupt");
        }
        for (const auto& l : r.layers) {
            if (!present_layers.count(l)) missing.push_back("layer " + l + " is missing");
            else if (bad_layers.count(l)) missing.push_back("layer " + l + " is damaged");
        }
        if (auto body = store.blobs.read(r.manifest_digest, image::kMaxManifestBytes)) {
            auto parsed = image::parse_manifest(*body, r.manifest_media_type);
            if (parsed && std::holds_alternative<image::Manifest>(*parsed)) {
                for (const auto& l : std::get<image::Manifest>(*parsed).layers) {
                    if (!store.blobs.has(l.digest)) missing.push_back("layer blob " + l.digest + " is missing (push and save need it)");
                    else if (bad_blobs.count(l.digest)) missing.push_back("layer blob " + l.digest + " is corrupt");
                }
            }
        }
        for (const auto& m : missing) report.problems.push_back("image " + name + ": " + m);
        if (!missing.empty()) broken_images.push_back(r.id);
    }
    if (!repair) return report;
    for (const auto& id : broken_images) {
        SKIFF_CHECK(store.images.remove(id));
        report.repaired.push_back("removed image " + id);
    }
    for (const auto& blob : bad_blobs) {
        SKIFF_CHECK(store.blobs.remove(blob));
        report.repaired.push_back("removed blob " + blob);
    }
    for (const auto& layer : bad_layers) {
        SKIFF_CHECK(store.layers.remove(layer));
        report.repaired.push_back("removed layer " + layer);
    }
    RemovalReport collected;
    SKIFF_CHECK(collect_garbage(store, collected));
    for (const auto& d : collected.deleted) report.repaired.push_back("removed unused layer " + d);
    return report;
}

}  // namespace skiff::engine
