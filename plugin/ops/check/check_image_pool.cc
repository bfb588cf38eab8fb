// backend.check in an image pool: partial images whose writer is gone, and
// complete image copies whose protected `snap` no volume is cloned from.
#include "plugin/ceph/clone_tree.h"
#include "plugin/ceph/rbd_image.h"
#include "plugin/ops/check/check.h"
#include "plugin/records/catalog.h"
#include "plugin/records/naming.h"
#include "plugin/transfer/chunk_record.h"

namespace rbdvol::plugin {

namespace {

// Removes a partial image whose writer is gone as image.delete does: its
// chunk record claimed first (of this and a run resuming it at the same
// moment, one wins; when the resume did, nothing is removed), then the dead
// client's lock broken, then the image with its record.
Status remove_dead_partial(Cluster* cluster, const PartialImage& partial) {
  ASSIGN_OR_RETURN(PoolPtr io, cluster->open_pool(partial.where.pool));
  std::unique_ptr<RecordWatch> claim;
  std::vector<std::string> dead_clients = dead_writer_clients(partial);
  if (partial.record) {
    ChunkRecordHeader header = *partial.record;
    ASSIGN_OR_RETURN(
        claim, claim_chunk_record(*io, partial.where.rbd_name, header, partial.record_version));
    dead_clients = recorded_writer_clients(header);
  } else {
    // No record to claim: a writer that came back holds the lock again.
    ASSIGN_OR_RETURN(std::string writer, live_writer(*io, partial.where.rbd_name));
    if (!writer.empty()) return Status::Busy("client " + writer + " writes it again");
  }
  // Only the dead writer's lock: a client that took the image over since the
  // scan keeps its lock, and the image (EBUSY).
  Status s = break_dead_writer_lock(*io, partial.where.rbd_name, dead_clients);
  if (s.err() == ENOENT) return Status::Ok();  // removed meanwhile
  RETURN_IF_ERROR(s);
  return remove_image_and_snapshots(*io, partial.where.rbd_name);
}

}  // namespace

Result<BackendScan> check_image_pool(Cluster& cluster, const CheckOptions& options) {
  BackendScan out;
  Cluster* c = &cluster;
  ASSIGN_OR_RETURN(auto partials, list_partial_images(cluster));
  for (const auto& p : partials) {
    if (p.running || !options.wanted({p.id})) continue;
    // A streamed transfer is idle between its writes, for as long as its
    // host takes to send the next range: not a dead run's. Its host ends it
    // (image.transfer_finish, or image.delete).
    if (p.kind == "transfer") continue;
    Finding f;
    f.kind = "dead_partial_image";
    f.backend = cluster.id();
    f.pool = p.where.pool;
    f.image = p.where.rbd_name;
    f.ids = {p.id};
    f.problem = "partial " + (p.kind.empty() ? std::string("image") : p.kind) + " " + p.where.pool +
                "/" + p.where.rbd_name + " (" + std::to_string(p.chunks_confirmed) +
                " chunk(s) confirmed) has no live writer (" + p.how + ")";
    f.repair = "remove it with its chunk record (image " +
               std::string(p.kind == "copy" ? "copy" : "upload") +
               " --resume could continue it instead)";
    f.fix = [c, p] { return remove_dead_partial(c, p); };
    out.findings.push_back(std::move(f));
  }

  ASSIGN_OR_RETURN(PoolPtr io, cluster.open_image_pool());
  ASSIGN_OR_RETURN(auto names, list_images(*io));
  for (const auto& name : names) {
    // Only rbdvol's images: any other image in the pool is not ours.
    if (name.compare(0, kImagePrefix.size(), kImagePrefix) != 0) continue;
    const std::string uuid = name.substr(kImagePrefix.size());
    if (!is_uuid(uuid) || !options.wanted({uuid})) continue;
    auto image = open_image(*io, name, true);
    if (!image.ok()) {
      if (image.status().err() == ENOENT) continue;
      return image.status().Prefixed("backend " + cluster.id());
    }
    // Partial images are the finding above; a complete copy only here.
    auto complete = metadata_get(**image, meta::kComplete);
    if (!complete.ok()) {
      if (complete.status().err() == ENOENT) continue;
      return complete.status().Prefixed("backend " + cluster.id());
    }
    ASSIGN_OR_RETURN(auto snapshots, list_snapshots(**image));
    for (const auto& snap : snapshots) {
      if (snap.name != kImageSnapshot) continue;
      auto children = snapshot_children(*io, name, snap.name);
      if (!children.ok()) {
        if (children.status().err() == ENOENT) break;
        return children.status().Prefixed("backend " + cluster.id());
      }
      if (!children->empty()) break;
      auto made_or = (*image)->snap_timestamp(snap.id);
      if (!made_or.ok()) return made_or.status().Prefixed("backend " + cluster.id());
      const timespec made = *made_or;
      // A first volume.create makes it just before it clones.
      if (!options.old_enough(made.tv_sec)) break;
      Finding f;
      f.kind = "unused_image_snapshot";
      f.backend = cluster.id();
      f.pool = cluster.backend().image_pool;
      f.image = name;
      f.snapshot = kImageSnapshot;
      f.ids = {uuid};
      f.problem = "the protected snapshot " + image_spec(*io, name) + "@" + kImageSnapshot +
                  " has no clone: a first volume.create that failed after making it left it "
                  "(or every volume cloned from it was deleted since)";
      f.repair = "unprotect and remove " + image_spec(*io, name) + "@" + kImageSnapshot +
                 " (the next volume cloned from this copy makes it again)";
      f.fix = [c, name]() -> Status {
        ASSIGN_OR_RETURN(PoolPtr pool, c->open_image_pool());
        // The unprotect refuses (EBUSY) if a volume was cloned meanwhile.
        return remove_snapshot(*pool, name, kImageSnapshot);
      };
      out.findings.push_back(std::move(f));
    }
  }
  return out;
}

}  // namespace rbdvol::plugin
