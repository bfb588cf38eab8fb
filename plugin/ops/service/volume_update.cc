// volume.update: what a volume service lets a user change on a volume
// besides its size and type: its name, description and metadata (a JSON
// object of strings), and where it came from (source_snapshot,
// source_volume, recorded by a host that made it). Each given field is one
// image-meta key; fields left out stay as they are.
#include "plugin/ceph/rbd_image.h"
#include "plugin/ops/operations.h"
#include "plugin/ops/request.h"
#include "plugin/records/catalog.h"
#include "plugin/records/naming.h"
#include "plugin/records/volume_record.h"

namespace rbdvol::plugin {

Result<Json> volume_update(Driver& driver, const Json& request, const Progress&) {
  auto id = required_string(request, "id");
  if (!id.ok()) return id.status();
  std::vector<std::pair<std::string, std::string>> changes;
  if (request.contains("name") && !request["name"].is_null()) {
    auto name = optional_string(request, "name");
    if (!name.ok()) return name.status();
    if (!name->empty()) RETURN_IF_ERROR(check_name("volume", *name));
    changes.emplace_back(meta::kName, *name);
  }
  if (request.contains("description") && !request["description"].is_null()) {
    auto description = optional_string(request, "description");
    if (!description.ok()) return description.status();
    if (description->size() > 4096) {
      return Status::Invalid("request field 'description' is longer than 4096 bytes");
    }
    changes.emplace_back(meta::kDescription, *description);
  }
  if (request.contains("metadata") && !request["metadata"].is_null()) {
    const Json& m = request["metadata"];
    if (!m.is_object()) return Status::Invalid("request field 'metadata' must be an object");
    for (const auto& [key, value] : m.items()) {
      if (!value.is_string()) {
        return Status::Invalid("request field 'metadata': the value of '" + key +
                               "' must be a string");
      }
    }
    std::string text = m.dump();
    if (text.size() > 65536) {
      return Status::Invalid("request field 'metadata' is more than 64 KiB as JSON");
    }
    changes.emplace_back(meta::kUserMetadata, text);
  }
  for (const auto& [field, key] :
       {std::pair<const char*, const std::string*>{"source_snapshot", &meta::kSourceSnapshot},
        {"source_volume", &meta::kSourceVolume}}) {
    auto value = optional_string(request, field);
    if (!value.ok()) return value.status();
    if (value->empty()) continue;
    if (!is_uuid(*value)) {
      return Status::Invalid(std::string("request field '") + field + "' is not a uuid");
    }
    changes.emplace_back(*key, *value);
  }
  auto volume = locate_volume(driver, *id);
  if (!volume.ok()) return volume.status();
  const std::string where = "volume " + volume->uuid + " on backend " + volume->cluster->id();
  {
    auto image = open_image(*volume->io, volume->rbd_name, false);
    if (!image.ok()) return image.status().Prefixed(where);
    for (const auto& [key, value] : changes) {
      Status s = (*image)->metadata_set(key, value);
      if (!s.ok()) return s.Prefixed(where + ": cannot set " + key);
    }
  }
  return volume_record(driver, *volume);
}

}  // namespace rbdvol::plugin
