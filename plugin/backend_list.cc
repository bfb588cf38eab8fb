// backend.list: every enabled backend with its tags, weight, pools and health.
#include "plugin/fan_out.h"
#include "plugin/operations.h"

namespace rbdvol::plugin {

Result<Json> backend_list(Driver& driver, const Json&, const Progress&) {
  std::vector<Cluster*> clusters;
  for (auto& c : driver.clusters()) clusters.push_back(c.get());
  auto entries = fan_out(clusters, [&driver](Cluster* c) {
    const auto& b = c->backend();
    Json entry = {
        {"id", b.id},
        {"tags", b.tags},
        {"weight", b.weight},
        {"default", b.id == driver.config().default_backend},
        {"volume_pool", b.volume_pool},
        {"image_pool", b.image_pool},
        {"ceph_conf", b.ceph_conf},
        {"rbd_user", b.rbd_user},
        {"libvirt_secret_uuid", b.libvirt_secret_uuid},
    };
    auto capacity = c->capacity();
    if (capacity.ok()) {
      entry["state"] = "up";
      entry["total_bytes"] = capacity->total_bytes;
      entry["used_bytes"] = capacity->used_bytes;
      entry["free_bytes"] = capacity->free_bytes;
    } else {
      entry["state"] = "down";
      entry["error"] = capacity.status().message();
    }
    return entry;
  });
  return Json{{"backends", entries}};
}

}  // namespace rbdvol::plugin
