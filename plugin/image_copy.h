// Copying images between backends with the copy engine (copy_engine.h).
#pragma once

#include <string>

#include "plugin/catalog.h"
#include "plugin/copy_engine.h"

namespace rbdvol::plugin {

// Copies `image` from a backend that holds it into `target`'s image pool as
// the same image-<uuid> with its metadata and its protected snapshot, all or
// nothing (a copy that fails half way is removed). The source is read at its
// snapshot `snap`, so it is consistent. When `target` already holds the
// image, returns its location and copies nothing. EBUSY when target's pool
// has image-<uuid> without its protected snapshot (another copy in progress,
// or one interrupted); that image is left alone. Returns where the copy is.
Result<ImageLocation> copy_image_to_backend(Driver& driver, const ImageRecord& image,
                                            Cluster& target, const Progress& progress,
                                            CopyStats* stats = nullptr);

// Creates `dst_name` in `dst_io`'s pool (same cluster or another) with the
// size and object size of `src_name` in `src_io`'s pool, read at snapshot
// `src_snap` ("" = the image's head; a clone is read through its parent), and
// copies its data with the copy engine: only allocated extents are read,
// chunks of zeros are not written, so the copy is thin. The new image has the
// cluster's default features, no snapshots and no metadata. All or nothing:
// on failure the new image is removed again. EEXIST (nothing touched) when
// `dst_name` exists. Progress stage "copy", bytes of allocated data. When
// `stats` is given, it receives what the engine did.
Status copy_rbd_image(rados_ioctx_t src_io, const std::string& src_name,
                      const std::string& src_snap, rados_ioctx_t dst_io,
                      const std::string& dst_name, const Progress& progress,
                      CopyStats* stats = nullptr);

}  // namespace rbdvol::plugin
