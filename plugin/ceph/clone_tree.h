// The copy-on-write tree of volumes within one cluster: which images are
// clones of a snapshot, how deep a clone chain is, and the hidden snapshots
// rbdvol takes of a volume to clone it (rbdvol-clone-<new volume uuid>, as
// Cinder does). Deleting anything in this tree must never cost a child its
// data: children are flattened before the snapshot they depend on goes.
#pragma once

#include <string>
#include <vector>

#include "plugin/ceph/rbd_image.h"
#include "status/status.h"

namespace rbdvol::plugin {

// The snapshot a volume takes of itself when another volume is cloned from
// it; hidden from snapshot.list and removed once the clone no longer depends
// on it (flattened or deleted).
inline const std::string kCloneSnapshotPrefix = "rbdvol-clone-";
inline bool is_clone_snapshot(const std::string& snap_name) {
  return snap_name.compare(0, kCloneSnapshotPrefix.size(), kCloneSnapshotPrefix) == 0;
}

// The clones of `image`@`snap` (`image` in `io`'s pool), in any pool of the
// cluster. Empty when it has none.
Result<std::vector<LinkedImage>> snapshot_children(Pool& io, const std::string& image,
                                                   const std::string& snap);

// Flattens every clone of `image`@`snap` so none depends on it any more, and
// returns them ("pool/image"). Stops at the first failure: the clones
// flattened so far stay flattened, which loses nothing.
Result<std::vector<std::string>> flatten_children(Pool& io, const std::string& image,
                                                  const std::string& snap);

// How many ancestors `image` has: 0 for an image that is not a clone, 1 for
// a clone of an image that is not one, and so on. Walks the parents at the
// snapshots the clones were made from.
Result<int> clone_depth(Pool& io, RbdImage& image);

// Unprotects `image`@`snap` when it is protected, and removes it. ENOENT
// counts as success; EBUSY when it still has clones.
Status remove_snapshot(Pool& io, const std::string& image, const std::string& snap);

// After a clone of `parent` stopped depending on it (flattened or removed):
// when `parent` is a hidden rbdvol-clone-* snapshot that has no clones left,
// removes it. Anything else (an image's `snap`, a user's snapshot) is left.
// `io` is any I/O context of the cluster.
Status release_clone_snapshot(Pool& io, const ParentInfo& parent);

// An I/O context on pool `pool` of the cluster `io` belongs to.
Result<PoolPtr> sibling_pool(Pool& io, const std::string& pool);

}  // namespace rbdvol::plugin
