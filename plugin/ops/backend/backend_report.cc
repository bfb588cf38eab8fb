#include "plugin/ops/backend/backend_report.h"

#include "plugin/ceph/rbd_image.h"
#include "plugin/records/naming.h"

namespace rbdvol::plugin {

namespace {

struct PoolCensus {
  uint64_t count = 0;
  uint64_t provisioned_bytes = 0;
};

// The rbdvol images (names `prefix` + uuid) in one pool, and their sizes.
Result<PoolCensus> census(Cluster& cluster, const std::string& pool, const std::string& prefix) {
  auto io = cluster.open_pool(pool);
  if (!io.ok()) return io.status();
  auto names = list_images(**io);
  if (!names.ok()) return names.status();
  PoolCensus c;
  for (const auto& name : *names) {
    if (name.compare(0, prefix.size(), prefix) != 0 || !is_uuid(name.substr(prefix.size())))
      continue;
    auto image = open_image(**io, name, true);
    if (!image.ok()) continue;  // removed since the listing
    auto size = image_size(**image);
    ++c.count;
    if (size.ok()) c.provisioned_bytes += *size;
  }
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
  auto volumes = census(cluster, b.volume_pool, kVolumePrefix);
  auto images = census(cluster, b.image_pool, kImagePrefix);
  if (!volumes.ok() || !images.ok()) {
    // The cluster answers but a pool does not: up, with the reason.
    entry["error"] = (!volumes.ok() ? volumes.status() : images.status()).message();
    return entry;
  }
  entry["provisioned_bytes"] = volumes->provisioned_bytes;
  entry["volume_count"] = volumes->count;
  entry["image_count"] = images->count;
  return entry;
}

}  // namespace rbdvol::plugin
