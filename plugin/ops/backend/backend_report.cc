#include "plugin/ops/backend/backend_report.h"

#include "plugin/ops/directory_sync.h"

namespace rbdvol::plugin {

namespace {

struct Census {
  uint64_t volume_count = 0;
  uint64_t provisioned_bytes = 0;
  uint64_t image_count = 0;
};

// The volumes and complete image copies of `cluster`, and the volumes'
// sizes: from its directories, which cost a few reads whatever the pools
// hold (opening every image took minutes at 10,000 volumes).
Result<Census> census(Driver& driver, Cluster& cluster) {
  Census c;
  ASSIGN_OR_RETURN(std::vector<Json> volumes, list_volume_directory(driver, cluster));
  for (const auto& v : volumes) {
    ++c.volume_count;
    const auto size = v.find("size");
    if (size != v.end() && size->is_number_integer()) c.provisioned_bytes += size->get<uint64_t>();
  }
  ASSIGN_OR_RETURN(std::vector<Json> images, list_image_directory(cluster));
  c.image_count = images.size();
  return c;
}

}  // namespace

Json backend_report(Driver& driver, Cluster& cluster) {
  const auto& b = cluster.backend();
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
  auto capacity = cluster.capacity();
  if (!capacity.ok()) {
    entry["state"] = "down";
    entry["error"] = capacity.status().message();
    return entry;
  }
  entry["state"] = "up";
  entry["total_bytes"] = capacity->total_bytes;
  entry["used_bytes"] = capacity->used_bytes;
  entry["free_bytes"] = capacity->free_bytes;
  auto counted = census(driver, cluster);
  if (!counted.ok()) {
    // The cluster answers but a pool does not: up, with the reason.
    entry["error"] = counted.status().message();
    return entry;
  }
  entry["provisioned_bytes"] = counted->provisioned_bytes;
  entry["volume_count"] = counted->volume_count;
  entry["image_count"] = counted->image_count;
  return entry;
}

}  // namespace rbdvol::plugin
