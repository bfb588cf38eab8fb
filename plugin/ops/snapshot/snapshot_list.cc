// snapshot.list: a volume's snapshots. The hidden rbdvol-clone-* snapshots
// that volumes cloned from it depend on are not listed, nor snapshots that
// rbdvol did not make.
#include "plugin/ops/operations.h"
#include "plugin/ops/request.h"
#include "plugin/records/snapshot_lookup.h"

namespace rbdvol::plugin {

Result<Json> snapshot_list(Driver& driver, const Json& request, const Progress&) {
  auto volume_id = required_string(request, "volume");
  if (!volume_id.ok()) return volume_id.status();
  auto volume = locate_volume(driver, *volume_id);
  if (!volume.ok()) return volume.status();
  const std::string where = "volume " + volume->uuid + " on backend " + volume->cluster->id();
  auto image = open_image(*volume->io, volume->rbd_name, true);
  if (!image.ok()) return image.status().Prefixed(where);
  auto snaps = list_snapshots(**image);
  if (!snaps.ok()) return snaps.status().Prefixed(where);
  auto meta = metadata_list(**image, "rbdvol.snapshot.");
  if (!meta.ok()) return meta.status().Prefixed(where);
  Json snapshots = Json::array();
  for (const auto& snap : *snaps) {
    if (snapshot_uuid_of(snap.name).empty()) continue;
    auto record = snapshot_record(**image, *volume, snap, *meta);
    if (!record.ok()) return record.status();
    snapshots.push_back(std::move(record).value());
  }
  return Json{{"id", volume->uuid},
              {"volume", volume->uuid},
              {"backend", volume->cluster->id()},
              {"snapshots", snapshots}};
}

}  // namespace rbdvol::plugin
