// image.delete: removes an image from every backend that holds it, or from
// one (`backend`). Refused while volumes are clones of it, naming them,
// unless `force`, which flattens them first so they keep their data.
#include <algorithm>

#include "plugin/catalog.h"
#include "plugin/fault_injection.h"
#include "plugin/naming.h"
#include "plugin/operations.h"
#include "plugin/rbd_image.h"
#include "plugin/request.h"

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
  auto image = find_image(driver, *id);
  if (!image.ok()) return image.status();

  std::vector<ImageLocation> targets;
  for (const auto& l : image->locations) {
    if (only->empty() || l.backend == *only) targets.push_back(l);
  }
  if (targets.empty()) {
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
  if (!busy.empty() && !*force) {
    std::string names;
    for (const auto& b : busy) names += (names.empty() ? "" : ", ") + b;
    return Status::Busy("image " + image->id + " has " + std::to_string(busy.size()) +
                        " clone(s): " + names +
                        "; delete them, or use force to flatten them first");
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
    if (!s.ok()) return s.Prefixed("image " + image->id + " on backend " + t.where.backend);
    deleted.push_back(t.where.backend);
  }
  Json remaining = Json::array();
  for (const auto& l : image->locations) {
    if (std::find(deleted.begin(), deleted.end(), l.backend) == deleted.end()) {
      remaining.push_back(l.backend);
    }
  }
  return Json{{"id", image->id},
              {"name", image->name},
              {"deleted_from", deleted},
              {"flattened", flattened},
              {"remaining", remaining}};
}

}  // namespace rbdvol::plugin
