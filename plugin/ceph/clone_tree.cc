#include "plugin/ceph/clone_tree.h"

#include <cerrno>

namespace rbdvol::plugin {

namespace {

// Clone chains are short (max_clone_depth); a longer one means a loop or a
// broken header, not a real chain.
constexpr int kMaxWalk = 256;

}  // namespace

Result<PoolPtr> sibling_pool(Pool& io, const std::string& pool) { return io.sibling(pool); }

Result<std::vector<LinkedImage>> snapshot_children(Pool& io, const std::string& image,
                                                   const std::string& snap) {
  ASSIGN_OR_RETURN(auto opened, open_image_at(io, image, snap));
  return opened->children();
}

Result<std::vector<std::string>> flatten_children(Pool& io, const std::string& image,
                                                  const std::string& snap) {
  ASSIGN_OR_RETURN(auto children, snapshot_children(io, image, snap));
  std::vector<std::string> flattened;
  for (const auto& child : children) {
    auto child_io = io.sibling_by_id(child.pool_id, child.pool_namespace);
    if (!child_io.ok()) return child_io.status().Prefixed("clone " + child.spec());
    // By id: a clone in the trash has no name to open it by, and still
    // needs its parent's data.
    auto child_image = (*child_io)->open_image_by_id(child.image_id);
    if (!child_image.ok()) return child_image.status().Prefixed("clone " + child.spec());
    RETURN_IF_ERROR(flatten_image(
        **child_image, "clone " + child.spec() + " of " + image_spec(io, image) + "@" + snap));
    flattened.push_back(child.spec());
  }
  return flattened;
}

Result<int> clone_depth(Pool& io, RbdImage& image) {
  ASSIGN_OR_RETURN(auto parent, parent_of(image));
  int depth = 0;
  while (parent.has_parent) {
    if (++depth > kMaxWalk) {
      return Status::Error(ELOOP, "the clone chain is longer than " + std::to_string(kMaxWalk));
    }
    ASSIGN_OR_RETURN(auto pool, sibling_pool(io, parent.pool));
    ASSIGN_OR_RETURN(auto ancestor, open_image_at(*pool, parent.image, parent.snapshot));
    ASSIGN_OR_RETURN(parent, parent_of(*ancestor));
  }
  return depth;
}

Status remove_snapshot(Pool& io, const std::string& image, const std::string& snap) {
  auto opened = open_image(io, image, false);
  if (!opened.ok()) return opened.status().err() == ENOENT ? Status::Ok() : opened.status();
  const std::string spec = image_spec(io, image) + "@" + snap;
  auto is_protected = (*opened)->snap_is_protected(snap);
  if (!is_protected.ok()) {
    return is_protected.status().err() == ENOENT ? Status::Ok() : is_protected.status();
  }
  if (*is_protected) {
    Status s = (*opened)->snap_unprotect(snap);
    if (s.err() == EBUSY) return Status::Busy("snapshot " + spec + " still has clones");
    if (!s.ok()) return s;
  }
  Status s = (*opened)->snap_remove(snap);
  if (!s.ok() && s.err() != ENOENT) return s;
  return Status::Ok();
}

Status release_clone_snapshot(Pool& io, const ParentInfo& parent) {
  if (!parent.has_parent || !is_clone_snapshot(parent.snapshot)) return Status::Ok();
  ASSIGN_OR_RETURN(auto pool, sibling_pool(io, parent.pool));
  auto children = snapshot_children(*pool, parent.image, parent.snapshot);
  if (!children.ok()) {
    return children.status().err() == ENOENT ? Status::Ok() : children.status();
  }
  if (!children->empty()) return Status::Ok();
  return remove_snapshot(*pool, parent.image, parent.snapshot);
}

}  // namespace rbdvol::plugin
