// What rbdvol does about a full cluster or pool. Its I/O contexts are opened
// with librados' full-try flag (Cluster::open_pool), so that a write to a
// full pool fails at once with ENOSPC or EDQUOT instead of waiting, without
// bound, for space; deletes still go through. librbd's image removal, though,
// first moves the image to the trash (an omap write), which a full pool
// refuses: remove_image_from_full_pool frees the image's data objects first.
#pragma once

#include <cstdint>
#include <string>

#include "plugin/ceph/env.h"
#include "status/status.h"

namespace rbdvol::plugin {

struct PoolSpace {
  uint64_t available = 0;  // bytes a client can still write (quota and OSDs)
  bool full = false;       // the cluster marked the pool full
  std::string why;         // "its quota of 16 MiB is reached", "an OSD is full"
};

// How much `io`'s pool can still take, from the monitors (osd dump, df).
Result<PoolSpace> pool_space(Pool& io);

// ENOSPC unless `io`'s pool can take `needed` more bytes; the message names
// `what` ("the upload of FILE"), the pool and both sizes.
Status require_pool_space(Pool& io, uint64_t needed, const std::string& what);

// Removes image `name` from a pool that is full: deletes its data objects
// (deletes are allowed there), waits until the monitors no longer mark the
// pool full (at most `wait_seconds`), then removes the image. ENOSPC when the
// pool stays full; the data objects are gone then, the image's header stays,
// and the same call finishes it later. For images with no snapshots only.
Status remove_image_from_full_pool(Pool& io, const std::string& name, int wait_seconds);

// How long remove_image_and_snapshots waits for a full pool to take the
// freed space into account.
inline constexpr int kFullPoolWaitSeconds = 60;

}  // namespace rbdvol::plugin
