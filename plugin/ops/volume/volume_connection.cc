// volume.connection: what a hypervisor needs to open the volume, in the
// shape of Cinder's rbd connection info. Never contains the key: only the
// uuid of the libvirt secret that holds it.
#include "plugin/ceph/rbd_image.h"
#include "plugin/ops/operations.h"
#include "plugin/ops/request.h"
#include "plugin/records/volume_record.h"

namespace rbdvol::plugin {

Result<Json> volume_connection_info(Driver& driver, const VolumeHandle& volume) {
  auto image = open_image(*volume.io, volume.rbd_name, true);
  if (!image.ok()) return image.status();
  auto type = volume_disk_type(driver, **image, volume.uuid);
  if (!type.ok()) return type.status();
  auto monitors = volume.cluster->monitors();
  if (!monitors.ok()) return monitors.status();
  const auto& b = volume.cluster->backend();
  Json hosts = Json::array(), ports = Json::array();
  for (const auto& m : *monitors) {
    hosts.push_back(m.host);
    ports.push_back(m.port);
  }
  return Json{
      {"driver_volume_type", "rbd"},
      {"volume_id", volume.uuid},
      {"backend", b.id},
      {"pool", b.volume_pool},
      {"image", volume.rbd_name},
      {"name", b.volume_pool + "/" + volume.rbd_name},
      {"hosts", hosts},
      {"ports", ports},
      {"auth_enabled", true},
      {"auth_username", b.rbd_user},
      {"secret_type", "ceph"},
      {"secret_uuid", b.libvirt_secret_uuid},
      {"multiattach", (*type)->multiattach},
      {"cache", (*type)->cache},
      {"disk_type", (*type)->name},
  };
}

Result<Json> volume_connection(Driver& driver, const Json& request, const Progress&) {
  auto id = required_string(request, "id");
  if (!id.ok()) return id.status();
  auto volume = locate_volume(driver, *id);
  if (!volume.ok()) return volume.status();
  return volume_connection_info(driver, *volume);
}

}  // namespace rbdvol::plugin
