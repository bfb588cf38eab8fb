// volume.list: every volume in every backend (or one backend), asked in
// parallel, optionally only those of one disk type. Backends that do not
// answer are named in the answer, not an error.
#include <algorithm>

#include "plugin/ceph/rbd_image.h"
#include "plugin/fan_out.h"
#include "plugin/ops/operations.h"
#include "plugin/ops/request.h"
#include "plugin/records/catalog.h"
#include "plugin/records/naming.h"
#include "plugin/records/volume_record.h"

namespace rbdvol::plugin {

Result<Json> volume_list(Driver& driver, const Json& request, const Progress&) {
  auto backend_filter = optional_string(request, "backend");
  if (!backend_filter.ok()) return backend_filter.status();
  auto type_filter = optional_string(request, "disk_type");
  if (!type_filter.ok()) return type_filter.status();
  std::vector<Cluster*> clusters;
  std::string known;
  for (auto& c : driver.clusters()) {
    known += (known.empty() ? "" : ", ") + c->id();
    if (backend_filter->empty() || c->id() == *backend_filter) clusters.push_back(c.get());
  }
  if (clusters.empty()) {
    return Status::NotFound("unknown backend '" + *backend_filter + "' (known: " + known + ")");
  }

  struct PerBackend {
    Status status;
    std::vector<Json> volumes;
  };
  auto per_backend = fan_out(clusters, [&](Cluster* c) {
    PerBackend out;
    auto io = c->open_volume_pool();
    if (!io.ok()) {
      out.status = io.status();
      return out;
    }
    auto names = list_images(**io);
    if (!names.ok()) {
      out.status = names.status().Prefixed("backend " + c->id());
      return out;
    }
    VolumeHandle handle{c, std::move(io).value(), "", ""};
    for (const auto& name : *names) {
      if (name.compare(0, kVolumePrefix.size(), kVolumePrefix) != 0) continue;
      handle.uuid = name.substr(kVolumePrefix.size());
      handle.rbd_name = name;
      if (!is_uuid(handle.uuid)) continue;
      // A volume removed while listing, or one being created, is skipped.
      auto record = volume_record(driver, handle);
      if (!record.ok()) continue;
      if (!type_filter->empty() && record->at("disk_type") != *type_filter) continue;
      out.volumes.push_back(std::move(record).value());
    }
    return out;
  });

  Json volumes = Json::array();
  Json unreachable = Json::array();
  for (size_t i = 0; i < per_backend.size(); ++i) {
    if (!per_backend[i].status.ok()) {
      unreachable.push_back(
          {{"backend", clusters[i]->id()}, {"error", per_backend[i].status.message()}});
      continue;
    }
    for (auto& v : per_backend[i].volumes) volumes.push_back(std::move(v));
  }
  std::sort(volumes.begin(), volumes.end(), [](const Json& a, const Json& b) {
    return std::make_tuple(a.at("backend").get<std::string>(), a.at("name").get<std::string>(),
                           a.at("id").get<std::string>()) <
           std::make_tuple(b.at("backend").get<std::string>(), b.at("name").get<std::string>(),
                           b.at("id").get<std::string>());
  });
  return Json{{"id", "volumes"}, {"volumes", volumes}, {"unreachable", unreachable}};
}

}  // namespace rbdvol::plugin
