// volume.delete: removes a volume that no guest has attached. A volume with
// snapshots is refused unless `cascade`. No clone loses data: the clones of
// each snapshot that goes (the user's, and the hidden rbdvol-clone-* ones
// that volumes made from this one depend on) are flattened first. Deleting a
// volume that is already gone succeeds.
#include "plugin/ceph/clone_tree.h"
#include "plugin/ceph/rbd_image.h"
#include "plugin/ops/operations.h"
#include "plugin/ops/request.h"
#include "plugin/ops/volume/volume_in_use.h"
#include "plugin/records/catalog.h"
#include "plugin/records/naming.h"
#include "plugin/records/snapshot_lookup.h"

namespace rbdvol::plugin {

Result<Json> volume_delete(Driver& driver, const Json& request, const Progress&) {
  auto id = required_string(request, "id");
  if (!id.ok()) return id.status();
  auto cascade = optional_bool(request, "cascade", false);
  if (!cascade.ok()) return cascade.status();
  auto volume = locate_volume(driver, *id);
  if (!volume.ok()) {
    // ENOENT: found nowhere and every backend answered; that is "already gone".
    if (volume.status().err() == ENOENT) {
      auto uuid = uuid_from_id(*id, kVolumePrefix, "volume");
      return Json{{"id", uuid.ok() ? *uuid : *id},
                  {"deleted", false},
                  {"already_gone", true},
                  {"snapshots_removed", Json::array()},
                  {"flattened", Json::array()}};
    }
    return volume.status();
  }
  Pool& io = *volume->io;
  const std::string where = "volume " + volume->uuid + " on backend " + volume->cluster->id();
  Status idle = require_not_in_use(io, volume->rbd_name, where, "delete it");
  if (!idle.ok()) return idle;

  std::vector<SnapshotInfo> snapshots;
  ParentInfo parent;
  {
    auto image = open_image(io, volume->rbd_name, true);
    if (!image.ok()) return image.status().Prefixed(where);
    auto snaps = list_snapshots(**image);
    if (!snaps.ok()) return snaps.status().Prefixed(where);
    snapshots = std::move(snaps).value();
    auto p = parent_of(**image);
    if (!p.ok()) return p.status().Prefixed(where);
    parent = std::move(p).value();
  }
  std::string user_snapshots;
  for (const auto& s : snapshots) {
    if (!is_clone_snapshot(s.name)) user_snapshots += " " + s.name;
  }
  if (!user_snapshots.empty() && !*cascade) {
    return Status::Busy(where + " has snapshots:" + user_snapshots +
                        "; delete them first, or delete with cascade");
  }

  // Hidden snapshots go without cascade: the user never made them, and the
  // volumes cloned from this one keep their data once flattened.
  // A user snapshot's entry in the snapshot directory goes with it; one left
  // behind only points lookups at a volume that no longer has it (they check).
  Json flattened = Json::array();
  Json removed = Json::array();
  std::string entries_left;
  for (const auto& s : snapshots) {
    auto done = flatten_children(io, volume->rbd_name, s.name);
    if (!done.ok()) return done.status().Prefixed(where);
    for (const auto& child : *done) flattened.push_back(child);
    Status st = remove_snapshot(io, volume->rbd_name, s.name);
    if (!st.ok()) return st.Prefixed(where);
    removed.push_back(s.name);
    const std::string uuid = snapshot_uuid_of(s.name);
    if (!uuid.empty()) {
      st = remove_snapshot_entry(io, uuid);
      if (!st.ok()) entries_left += "; " + st.message();
    }
  }

  int r = as_errno(io.remove_image(volume->rbd_name));
  if (r == -EBUSY) {
    return Status::Busy(where +
                        " is still open by a client (a guest or another process); "
                        "detach it from every guest first");
  }
  if (r < 0 && r != -ENOENT) {
    return Status::Error(r, "cannot remove " + where + ": " + ceph_strerror(r));
  }
  // A volume cloned from another volume leaves that one's hidden snapshot
  // behind; it is of no use once its last clone is gone.
  Json answer = {{"id", volume->uuid},           {"deleted", r == 0},
                 {"already_gone", r == -ENOENT}, {"backend", volume->cluster->id()},
                 {"snapshots_removed", removed}, {"flattened", flattened}};
  Status released = release_clone_snapshot(io, parent);
  std::string warning = released.ok() ? "" : "; " + released.message();
  warning += entries_left;
  if (!warning.empty()) answer["warning"] = "removed, but " + warning.substr(2);
  return answer;
}

}  // namespace rbdvol::plugin
