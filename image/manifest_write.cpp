#include "image/manifest_write.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace skiff::image {

namespace {

// Insertion-ordered, so the output follows the order the specs list the fields in.
using ojson = nlohmann::ordered_json;

std::string dump(const ojson& doc) {
    return doc.dump(-1, ' ', false, ojson::error_handler_t::replace);
}

ojson string_map(const std::map<std::string, std::string>& map) {
    ojson out = ojson::object();
    for (const auto& [k, v] : map) out[k] = v;
    return out;
}

// Docker's sets (ExposedPorts, Volumes): keys mapping to {}, sorted as parsing returns them.
ojson key_set(std::vector<std::string> keys) {
    std::sort(keys.begin(), keys.end());
    ojson out = ojson::object();
    for (const auto& k : keys) out[k] = ojson::object();
    return out;
}

ojson platform_json(const Platform& p) {
    ojson out = ojson::object();
    out["architecture"] = p.architecture;
    out["os"] = p.os;
    if (!p.os_version.empty()) out["os.version"] = p.os_version;
    if (!p.features.empty()) out["os.features"] = p.features;
    if (!p.variant.empty()) out["variant"] = p.variant;
    return out;
}

ojson descriptor_json(const Descriptor& d) {
    ojson out = ojson::object();
    out["mediaType"] = d.media_type;
    out["digest"] = d.digest;
    out["size"] = d.size;
    if (!d.annotations.empty()) out["annotations"] = string_map(d.annotations);
    if (d.platform) out["platform"] = platform_json(*d.platform);
    return out;
}

ojson run_config_json(const RunConfig& c) {
    ojson out = ojson::object();
    if (!c.user.empty()) out["User"] = c.user;
    if (!c.exposed_ports.empty()) out["ExposedPorts"] = key_set(c.exposed_ports);
    if (!c.env.empty()) out["Env"] = c.env;
    if (!c.entrypoint.empty()) out["Entrypoint"] = c.entrypoint;
    if (!c.cmd.empty()) out["Cmd"] = c.cmd;
    if (!c.volumes.empty()) out["Volumes"] = key_set(c.volumes);
    if (!c.working_dir.empty()) out["WorkingDir"] = c.working_dir;
    if (!c.labels.empty()) out["Labels"] = string_map(c.labels);
    if (!c.stop_signal.empty()) out["StopSignal"] = c.stop_signal;
    return out;
}

}  // namespace

std::string manifest_json(const Manifest& manifest) {
    ojson doc = ojson::object();
    doc["schemaVersion"] = 2;
    doc["mediaType"] = manifest.media_type;
    doc["config"] = descriptor_json(manifest.config);
    ojson layers = ojson::array();
    for (const auto& layer : manifest.layers) layers.push_back(descriptor_json(layer));
    doc["layers"] = std::move(layers);
    if (!manifest.annotations.empty()) doc["annotations"] = string_map(manifest.annotations);
    return dump(doc);
}

std::string index_json(const Index& index) {
    ojson doc = ojson::object();
    doc["schemaVersion"] = 2;
    doc["mediaType"] = index.media_type;
    ojson manifests = ojson::array();
    for (const auto& m : index.manifests) manifests.push_back(descriptor_json(m));
    doc["manifests"] = std::move(manifests);
    if (!index.annotations.empty()) doc["annotations"] = string_map(index.annotations);
    return dump(doc);
}

std::string image_config_json(const ImageConfig& config) {
    ojson doc = ojson::object();
    if (!config.created.empty()) doc["created"] = config.created;
    doc["architecture"] = config.architecture;
    doc["os"] = config.os;
    if (!config.os_version.empty()) doc["os.version"] = config.os_version;
    if (!config.variant.empty()) doc["variant"] = config.variant;
    doc["config"] = run_config_json(config.config);
    ojson rootfs = ojson::object();
    rootfs["type"] = "layers";
    rootfs["diff_ids"] = config.diff_ids;
    doc["rootfs"] = std::move(rootfs);
    if (!config.history.empty()) {
        ojson history = ojson::array();
        for (const auto& h : config.history) {
            ojson entry = ojson::object();
            if (!h.created.empty()) entry["created"] = h.created;
            if (!h.created_by.empty()) entry["created_by"] = h.created_by;
            if (!h.author.empty()) entry["author"] = h.author;
            if (!h.comment.empty()) entry["comment"] = h.comment;
            if (h.empty_layer) entry["empty_layer"] = true;
            history.push_back(std::move(entry));
        }
        doc["history"] = std::move(history);
    }
    return dump(doc);
}

}  // namespace skiff::image
