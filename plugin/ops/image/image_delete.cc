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
Result<std::vector<Child>> children_of(rados_ioctx_t io, const std::string& rbd_name) {
  std::string snap;
  auto opened = open_image_data(io, rbd_name, &snap);
  if (!opened.ok()) return opened.status();
  if (snap.empty()) return std::vector<Child>();
  ImagePtr image = std::move(opened).value();
  size_t max = 16;
  for (;;) {
    std::vector<rbd_linked_image_spec_t> specs(max);
    int r = rbd_list_children3(image.get(), specs.data(), &max);
    if (r == -ERANGE) continue;
    if (r < 0) {
      return Status::Error(r, "cannot list the clones of " + image_spec(io, rbd_name) + "@" +
                                  kImageSnapshot + ": " + ceph_strerror(r));
    }
    std::vector<Child> out;
    for (size_t i = 0; i < max; ++i) {
      out.push_back({specs[i].pool_name, specs[i].image_name, specs[i].image_id, specs[i].trash});
    }
    rbd_linked_image_spec_list_cleanup(specs.data(), max);
    return out;
  }
}

// "fast:volumes/volume-..." and, for a volume, just its uuid in `volumes`.
std::string child_label(const std::string& backend, const Child& c) {
  return backend + ":" + c.pool + "/" + c.image + (c.trash ? " (in the trash)" : "");
}

Status flatten_child(Cluster& cluster, const Child& child, const Progress& progress) {
  auto io = cluster.open_pool(child.pool);
  if (!io.ok()) return io.status();
  rbd_image_t raw = nullptr;
  int r = child.trash ? rbd_open_by_id(io->get(), child.id.c_str(), &raw, nullptr)
                      : rbd_open(io->get(), child.image.c_str(), &raw, nullptr);
  if (r < 0) {
    return Status::Error(
        r, "cannot open clone " + child_label(cluster.id(), child) + ": " + ceph_strerror(r));
  }
  ImagePtr image(raw);
  return flatten_image(image.get(), "clone " + child_label(cluster.id(), child),
                       [&](uint64_t done, uint64_t total) { progress("flatten", done, total); });
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
  std::vector<Cluster*> searched;
  for (auto& c : driver.clusters()) {
    if (only->empty() || c->id() == *only) searched.push_back(c.get());
  }
  auto partial_lists =
      fan_out(searched, [&](Cluster* c) { return list_partial_images(*c, image->id); });
  std::vector<PartialImage> partials;
  for (size_t i = 0; i < partial_lists.size(); ++i) {
    if (!partial_lists[i].ok()) {
      return partial_lists[i].status().Prefixed("image " + image->id +
                                                ": cannot look for partial copies");
    }
    for (auto& p : *partial_lists[i]) {
      if (p.running) {
        return Status::Busy("image " + image->id + " is being written into backend " +
                            p.where.backend + " (" + p.where.pool + "/" + p.where.rbd_name + ", " +
                            p.how +
                            "): wait for it to finish, or stop it, then delete "
                            "again; nothing was removed");
      }
      partials.push_back(std::move(p));
    }
  }
  if (targets.empty() && partials.empty()) {
    if (!found.ok()) return found.status();
    return Status::NotFound("image " + image->id + " has no copy in backend " + *only);
  }

  // Every clone in every targeted backend first: a refusal removes nothing.
  struct Target {
    ImageLocation where;
    Cluster* cluster;
    IoCtxPtr io;
    std::vector<Child> children;
  };
  std::vector<Target> plan;
  std::vector<std::string> busy;
  for (const auto& l : targets) {
    Cluster* c = driver.cluster(l.backend);
    auto io = c->open_pool(l.pool);
    if (!io.ok()) return io.status().Prefixed("image " + image->id);
    auto children = children_of(io->get(), l.rbd_name);
    if (!children.ok()) return children.status().Prefixed("backend " + l.backend);
    for (const auto& ch : *children) busy.push_back(child_label(l.backend, ch));
    plan.push_back({l, c, std::move(io).value(), std::move(children).value()});
  }
  auto has_clones = [&](const std::vector<std::string>& clones) {
    return Status::Busy("image " + image->id + " has " + std::to_string(clones.size()) +
                        " clone(s): " + name_list(clones) +
                        "; delete them, or use force to flatten them first");
  };
  if (!busy.empty() && !*force) return has_clones(busy);

  // A dead run's partial copy is claimed first, as a run resuming it would
  // (claim_chunk_record): of this delete and a resume at the same time, one
  // gets it; when the resume did, nothing is removed. The claims' watches are
  // kept until the removals are done (each goes before its pool handle).
  std::vector<std::pair<IoCtxPtr, std::unique_ptr<RecordWatch>>> claims;
  for (auto& p : partials) {
    if (!p.record) continue;
    auto io = driver.cluster(p.where.backend)->open_pool(p.where.pool);
    Status s = inject_fault("image.delete:before-claim");
    if (s.ok() && !io.ok()) s = io.status();
    if (s.ok()) {
      auto claim = claim_chunk_record(io->get(), p.where.rbd_name, *p.record, p.record_version);
      if (claim.ok()) {
        claims.emplace_back(std::move(io).value(), std::move(claim).value());
      } else {
        s = claim.status();
      }
    }
    if (!s.ok()) {
      return s.Prefixed("image " + image->id + ": partial copy on backend " + p.where.backend +
                        " (nothing was removed)");
    }
  }

  Json deleted = Json::array(), flattened = Json::array();
  for (auto& t : plan) {
    for (const auto& ch : t.children) {
      Status s = flatten_child(*t.cluster, ch, progress);
      if (!s.ok()) return s.Prefixed("image " + image->id);
      flattened.push_back(child_label(t.where.backend, ch));
    }
    Status s = inject_fault("image.delete:before-remove");
    if (!s.ok()) return s.Prefixed("image " + image->id + " on backend " + t.where.backend);
    s = remove_image_and_snapshots(t.io.get(), t.where.rbd_name);
    if (s.err() == EBUSY || s.err() == ENOTEMPTY) {
      // A volume cloned the image after its clones were listed (the first
      // clone makes and protects `snap`, so librbd answers EBUSY or
      // ENOTEMPTY): say so, as when the clone was there before.
      auto children = children_of(t.io.get(), t.where.rbd_name);
      if (children.ok() && !children->empty()) {
        std::vector<std::string> clones;
        for (const auto& ch : *children) clones.push_back(child_label(t.where.backend, ch));
        return has_clones(clones);
      }
    }
    if (!s.ok()) return s.Prefixed("image " + image->id + " on backend " + t.where.backend);
    deleted.push_back(t.where.backend);
  }
  // The partial copies, whose writers are gone: their lock, still held by
  // the dead client (whose watch the OSD keeps for a while), is broken
  // first, as a resuming run does after its claim.
  Json partials_removed = Json::array();
  for (const auto& p : partials) {
    Cluster* c = driver.cluster(p.where.backend);
    auto io = c->open_pool(p.where.pool);
    Status s = io.ok() ? break_exclusive_lock(io->get(), p.where.rbd_name) : io.status();
    if (s.err() == ENOENT) continue;  // removed meanwhile
    if (s.ok()) s = remove_image_and_snapshots(io->get(), p.where.rbd_name);
    if (!s.ok()) {
      return s.Prefixed("image " + image->id + ": partial copy on backend " + p.where.backend);
    }
    partials_removed.push_back(p.where.backend);
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
