// image.delete: removes an image from every backend that holds it, or from
// one (`backend`). Refused while volumes are clones of it, naming them,
// unless `force`, which flattens them first so they keep their data. Partial
// copies of it in those backends (left by an upload or copy that died) go
// too; while one is still being written, nothing is removed.
#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "plugin/ceph/rbd_image.h"
#include "plugin/fan_out.h"
#include "plugin/fault_injection.h"
#include "plugin/ops/operations.h"
#include "plugin/ops/request.h"
#include "plugin/records/catalog.h"
#include "plugin/records/naming.h"

namespace rbdvol::plugin {

namespace {

struct Child {
  std::string pool;
  std::string image;
  std::string id;  // RBD image id, for children in the trash
  bool trash = false;
};

// The clones of image@snap in one cluster (any pool), trash included. None
// when the image has no `snap` (no volume was ever made from this copy).
Result<std::vector<Child>> children_of(Pool& io, const std::string& rbd_name) {
  std::string snap;
  auto opened = open_image_data(io, rbd_name, &snap);
  if (!opened.ok()) return opened.status();
  if (snap.empty()) return std::vector<Child>();
  auto children = (*opened)->children();
  if (!children.ok()) {
    const int r = children.status().err();
    return Status::Error(r, "cannot list the clones of " + image_spec(io, rbd_name) + "@" +
                                kImageSnapshot + ": " + ceph_strerror(r));
  }
  std::vector<Child> out;
  for (const auto& c : *children) out.push_back({c.pool, c.image, c.image_id, c.trash});
  return out;
}

// "fast:volumes/volume-..." and, for a volume, just its uuid in `volumes`.
std::string child_label(const std::string& backend, const Child& c) {
  return backend + ":" + c.pool + "/" + c.image + (c.trash ? " (in the trash)" : "");
}

Status flatten_child(Cluster& cluster, const Child& child, const Progress& progress) {
  auto io = cluster.open_pool(child.pool);
  if (!io.ok()) return io.status();
  auto image =
      child.trash ? (*io)->open_image_by_id(child.id) : (*io)->open_image(child.image, "", false);
  if (!image.ok()) {
    const int r = image.status().err();
    return Status::Error(
        r, "cannot open clone " + child_label(cluster.id(), child) + ": " + ceph_strerror(r));
  }
  return flatten_image(**image, "clone " + child_label(cluster.id(), child),
                       [&](uint64_t done, uint64_t total) { progress("flatten", done, total); });
}

// The partial copies of `image` in the searched backends (left by an upload
// or copy that died). EBUSY, removing nothing, while one is still written.
Result<std::vector<PartialImage>> partials_to_remove(const std::vector<Cluster*>& searched,
                                                     const std::string& image) {
  auto lists = fan_out(searched, [&](Cluster* c) { return list_partial_images(*c, image); });
  std::vector<PartialImage> partials;
  for (auto& list : lists) {
    if (!list.ok()) {
      return list.status().Prefixed("image " + image + ": cannot look for partial copies");
    }
    for (auto& p : *list) {
      if (p.running) {
        return Status::Busy("image " + image + " is being written into backend " + p.where.backend +
                            " (" + p.where.pool + "/" + p.where.rbd_name + ", " + p.how +
                            "): wait for it to finish, or stop it, then delete "
                            "again; nothing was removed");
      }
      partials.push_back(std::move(p));
    }
  }
  return partials;
}

// One copy to remove, with the clones that depend on it.
struct Target {
  ImageLocation where;
  Cluster* cluster;
  PoolPtr io;
  std::vector<Child> children;
};

Result<std::vector<Target>> plan_removals(Driver& driver, const std::vector<ImageLocation>& targets,
                                          const std::string& image) {
  std::vector<Target> plan;
  for (const auto& l : targets) {
    Cluster* c = driver.cluster(l.backend);
    auto io = c->open_pool(l.pool);
    if (!io.ok()) return io.status().Prefixed("image " + image);
    auto children = children_of(**io, l.rbd_name);
    if (!children.ok()) return children.status().Prefixed("backend " + l.backend);
    plan.push_back({l, c, std::move(io).value(), std::move(children).value()});
  }
  return plan;
}

Status has_clones(const std::string& image, const std::vector<std::string>& clones) {
  return Status::Busy("image " + image + " has " + std::to_string(clones.size()) + " clone(s): " +
                      name_list(clones) + "; delete them, or use force to flatten them first");
}

// The claims on dead runs' partial copies: the watches are kept until the
// removals are done (each goes before its pool handle).
using Claims = std::vector<std::pair<PoolPtr, std::unique_ptr<RecordWatch>>>;

// Claims each dead run's partial copy first, as a run resuming it would
// (claim_chunk_record): of this delete and a resume at the same time, one
// gets it; when the resume did, nothing is removed.
Result<Claims> claim_partials(Driver& driver, std::vector<PartialImage>& partials,
                              const std::string& image) {
  Claims claims;
  for (auto& p : partials) {
    if (!p.record) continue;
    auto io = driver.cluster(p.where.backend)->open_pool(p.where.pool);
    Status s = inject_fault("image.delete:before-claim");
    if (s.ok() && !io.ok()) s = io.status();
    if (s.ok()) {
      auto claim = claim_chunk_record(**io, p.where.rbd_name, *p.record, p.record_version);
      if (claim.ok()) {
        claims.emplace_back(std::move(io).value(), std::move(claim).value());
      } else {
        s = claim.status();
      }
    }
    if (!s.ok()) {
      return s.Prefixed("image " + image + ": partial copy on backend " + p.where.backend +
                        " (nothing was removed)");
    }
  }
  return claims;
}

// Flattens the target's clones and removes its copy; adds to `flattened`.
Status remove_target(Target& t, const std::string& image, const Progress& progress,
                     Json& flattened) {
  for (const auto& ch : t.children) {
    Status s = flatten_child(*t.cluster, ch, progress);
    if (!s.ok()) return s.Prefixed("image " + image);
    flattened.push_back(child_label(t.where.backend, ch));
  }
  Status s = inject_fault("image.delete:before-remove");
  if (!s.ok()) return s.Prefixed("image " + image + " on backend " + t.where.backend);
  s = remove_image_and_snapshots(*t.io, t.where.rbd_name);
  if (s.err() == EBUSY || s.err() == ENOTEMPTY) {
    // A volume cloned the image after its clones were listed (the first
    // clone makes and protects `snap`, so librbd answers EBUSY or
    // ENOTEMPTY): say so, as when the clone was there before.
    auto children = children_of(*t.io, t.where.rbd_name);
    if (children.ok() && !children->empty()) {
      std::vector<std::string> clones;
      for (const auto& ch : *children) clones.push_back(child_label(t.where.backend, ch));
      return has_clones(image, clones);
    }
  }
  if (!s.ok()) return s.Prefixed("image " + image + " on backend " + t.where.backend);
  return Status::Ok();
}

// Removes a partial copy whose writer is gone: its lock, still held by the
// dead client (whose watch the OSD keeps for a while), is broken first, as a
// resuming run does after its claim; a lock any other client holds is a
// live writer's (EBUSY, nothing removed). False when it was removed
// meanwhile.
Result<bool> remove_partial(Driver& driver, const PartialImage& p, const std::string& image) {
  Cluster* c = driver.cluster(p.where.backend);
  auto io = c->open_pool(p.where.pool);
  // A streamed transfer's image has no exclusive-lock while it is written
  // (transfer/image_transfer.h): there is no lock to break.
  Status s = !io.ok() ? io.status()
             : p.kind == "transfer"
                 ? image_exists(**io, p.where.rbd_name)
                 : break_dead_writer_lock(**io, p.where.rbd_name, dead_writer_clients(p));
  if (s.err() == ENOENT) return false;
  if (s.ok()) s = remove_image_and_snapshots(**io, p.where.rbd_name);
  if (!s.ok()) return s.Prefixed("image " + image + ": partial copy on backend " + p.where.backend);
  return true;
}

}  // namespace

Result<Json> image_delete(Driver& driver, const Json& request, const Progress& progress) {
  auto id = required_string(request, "id");
  if (!id.ok()) return id.status();
  auto force = optional_bool(request, "force", false);
  if (!force.ok()) return force.status();
  auto only = optional_backend(driver, request);
  if (!only.ok()) return only.status();
  // An image no backend holds complete may still have partial copies: an
  // upload that died before it completed has nothing else.
  auto found = find_image(driver, *id);
  if (!found.ok() && found.status().err() != ENOENT) return found.status();
  auto uuid =
      found.ok() ? Result<std::string>(found->id) : uuid_from_id(*id, kImagePrefix, "image");
  if (!uuid.ok()) return found.status();
  ImageRecord none;
  none.id = *uuid;
  const ImageRecord* image = found.ok() ? &*found : &none;

  std::vector<ImageLocation> targets;
  for (const auto& l : image->locations) {
    if (only->empty() || l.backend == *only) targets.push_back(l);
  }
  std::vector<Cluster*> searched = driver.cluster_list(*only);
  ASSIGN_OR_RETURN(auto partials, partials_to_remove(searched, image->id));
  if (targets.empty() && partials.empty()) {
    if (!found.ok()) return found.status();
    return Status::NotFound("image " + image->id + " has no copy in backend " + *only);
  }

  // Every clone in every targeted backend first: a refusal removes nothing.
  ASSIGN_OR_RETURN(auto plan, plan_removals(driver, targets, image->id));
  std::vector<std::string> busy;
  for (const auto& t : plan) {
    for (const auto& ch : t.children) busy.push_back(child_label(t.where.backend, ch));
  }
  if (!busy.empty() && !*force) return has_clones(image->id, busy);
  ASSIGN_OR_RETURN(Claims claims, claim_partials(driver, partials, image->id));

  Json deleted = Json::array(), flattened = Json::array();
  for (auto& t : plan) {
    RETURN_IF_ERROR(remove_target(t, image->id, progress, flattened));
    deleted.push_back(t.where.backend);
  }
  Json partials_removed = Json::array();
  for (const auto& p : partials) {
    ASSIGN_OR_RETURN(bool removed, remove_partial(driver, p, image->id));
    if (removed) partials_removed.push_back(p.where.backend);
  }
  Json remaining = Json::array();
  for (const auto& l : image->locations) {
    if (std::find(deleted.begin(), deleted.end(), l.backend) == deleted.end()) {
      remaining.push_back(l.backend);
    }
  }
  return Json{{"id", image->id},         {"name", image->name},
              {"deleted_from", deleted}, {"flattened", flattened},
              {"remaining", remaining},  {"partials_removed", partials_removed}};
}

}  // namespace rbdvol::plugin
