#include "plugin/ceph/clone_tree.h"

#include <cerrno>

namespace rbdvol::plugin {

namespace {

// Clone chains are short (max_clone_depth); a longer one means a loop or a
// broken header, not a real chain.
constexpr int kMaxWalk = 256;

}  // namespace

Result<IoCtxPtr> sibling_pool(rados_ioctx_t io, const std::string& pool) {
  rados_ioctx_t out = nullptr;
  int r = rados_ioctx_create(rados_ioctx_get_cluster(io), pool.c_str(), &out);
  if (r < 0) return Status::Error(r, "cannot open pool " + pool + ": " + ceph_strerror(r));
  return IoCtxPtr(out);
}

Result<std::vector<LinkedImage>> snapshot_children(rados_ioctx_t io, const std::string& image,
                                                   const std::string& snap) {
  auto opened = open_image_at(io, image, snap);
  if (!opened.ok()) return opened.status();
  size_t max = 8;
  for (int attempt = 0; attempt < 8; ++attempt) {
    std::vector<rbd_linked_image_spec_t> specs(max);
    int r = rbd_list_children3(opened->get(), specs.data(), &max);
    if (r == -ERANGE) continue;
    if (r < 0) {
      return Status::Error(r, "cannot list the clones of " + image_spec(io, image) + "@" + snap +
                                  ": " + ceph_strerror(r));
    }
    std::vector<LinkedImage> children;
    for (size_t i = 0; i < max; ++i) {
      children.push_back({specs[i].pool_id, specs[i].pool_name, specs[i].pool_namespace,
                          specs[i].image_id, specs[i].image_name});
    }
    rbd_linked_image_spec_list_cleanup(specs.data(), max);
    return children;
  }
  return Status::Error(EAGAIN, "the clones of " + image_spec(io, image) + "@" + snap +
                                   " keep changing while listed");
}

Result<std::vector<std::string>> flatten_children(rados_ioctx_t io, const std::string& image,
                                                  const std::string& snap) {
  auto children = snapshot_children(io, image, snap);
  if (!children.ok()) return children.status();
  std::vector<std::string> flattened;
  for (const auto& child : *children) {
    rados_ioctx_t raw = nullptr;
    int r = rados_ioctx_create2(rados_ioctx_get_cluster(io), child.pool_id, &raw);
    if (r < 0) {
      return Status::Error(r, "cannot open pool " + child.pool + " of clone " + child.spec() +
                                  ": " + ceph_strerror(r));
    }
    IoCtxPtr child_io(raw);
    rados_ioctx_set_namespace(child_io.get(), child.pool_namespace.c_str());
    // By id: a clone in the trash has no name to open it by, and still
    // needs its parent's data.
    rbd_image_t handle = nullptr;
    r = rbd_open_by_id(child_io.get(), child.image_id.c_str(), &handle, nullptr);
    if (r < 0) {
      return Status::Error(r, "cannot open clone " + child.spec() + ": " + ceph_strerror(r));
    }
    ImagePtr child_image(handle);
    Status flattened_ok = flatten_image(
        child_image.get(), "clone " + child.spec() + " of " + image_spec(io, image) + "@" + snap);
    if (!flattened_ok.ok()) return flattened_ok;
    flattened.push_back(child.spec());
  }
  return flattened;
}

Result<int> clone_depth(rados_ioctx_t io, rbd_image_t image) {
  auto parent = parent_of(image);
  if (!parent.ok()) return parent.status();
  int depth = 0;
  while (parent->has_parent) {
    if (++depth > kMaxWalk) {
      return Status::Error(ELOOP, "the clone chain is longer than " + std::to_string(kMaxWalk));
    }
    auto pool = sibling_pool(io, parent->pool);
    if (!pool.ok()) return pool.status();
    auto ancestor = open_image_at(pool->get(), parent->image, parent->snapshot);
    if (!ancestor.ok()) return ancestor.status();
    parent = parent_of(ancestor->get());
    if (!parent.ok()) return parent.status();
  }
  return depth;
}

Status remove_snapshot(rados_ioctx_t io, const std::string& image, const std::string& snap) {
  auto opened = open_image(io, image, false);
  if (!opened.ok()) return opened.status().err() == ENOENT ? Status::Ok() : opened.status();
  const std::string spec = image_spec(io, image) + "@" + snap;
  int is_protected = 0;
  int r = rbd_snap_is_protected(opened->get(), snap.c_str(), &is_protected);
  if (r == -ENOENT) return Status::Ok();
  if (r < 0) return Status::Error(r, "cannot read snapshot " + spec + ": " + ceph_strerror(r));
  if (is_protected) {
    r = rbd_snap_unprotect(opened->get(), snap.c_str());
    if (r == -EBUSY) return Status::Busy("snapshot " + spec + " still has clones");
    if (r < 0) return Status::Error(r, "cannot unprotect " + spec + ": " + ceph_strerror(r));
  }
  r = rbd_snap_remove(opened->get(), snap.c_str());
  if (r < 0 && r != -ENOENT) {
    return Status::Error(r, "cannot remove snapshot " + spec + ": " + ceph_strerror(r));
  }
  return Status::Ok();
}

Status release_clone_snapshot(rados_ioctx_t io, const ParentInfo& parent) {
  if (!parent.has_parent || !is_clone_snapshot(parent.snapshot)) return Status::Ok();
  auto pool = sibling_pool(io, parent.pool);
  if (!pool.ok()) return pool.status();
  auto children = snapshot_children(pool->get(), parent.image, parent.snapshot);
  if (!children.ok()) {
    return children.status().err() == ENOENT ? Status::Ok() : children.status();
  }
  if (!children->empty()) return Status::Ok();
  return remove_snapshot(pool->get(), parent.image, parent.snapshot);
}

}  // namespace rbdvol::plugin
