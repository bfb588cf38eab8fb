// Copying images between backends with the copy engine (copy_engine.h).
#pragma once

#include <string>

#include "plugin/records/catalog.h"
#include "plugin/transfer/copy_engine.h"

namespace rbdvol::plugin {

// Copies `image` from a backend that holds it into `target`'s image pool as
// the same image-<uuid> with its metadata, rbdvol.complete last. No snapshot
// is made (the first volume cloned from the copy makes it). The source is read
// at its snapshot `snap` when it has one, else at its head (the same bytes: a
// complete copy is never written). Chunk digests are recorded with the copy
// as its data lands (chunk_record.h); the image is marked rbdvol.incomplete
// while its data is copied. A copy that fails is removed; one whose process
// was killed stays, unlisted (no rbdvol.complete), as a partial copy.
// When `target` already holds the image, returns its location and copies
// nothing. A partial copy left by a dead run is continued when `resume`
// (confirmed chunks are neither read nor written again), else EEXIST names
// it. EBUSY when the partial copy's process still runs on this host, or when
// it has no chunk record (not ours to continue); it is left alone. Returns
// where the copy is.
Result<ImageLocation> copy_image_to_backend(Driver& driver, const ImageRecord& image,
                                            Cluster& target, const Progress& progress,
                                            CopyStats* stats = nullptr, bool resume = false);

// copy_image_to_backend for volume creation: when another process on this
// host is writing the copy into `target` right now (EBUSY), waits for it
// (progress stage "wait"), sets *waited, and takes that copy, or copies again
// if it failed and was removed. EBUSY when that copy confirms no chunk for the
// config's copy_wait_timeout seconds (or stays without a chunk record that
// long); EEXIST when its process died, leaving a partial copy. *copied_here:
// this call made the copy (not when `target` held it, or another made it).
// Breaks the exclusive lock of the complete image copy `rbd_name` in `io`'s
// pool when the copy's own process died holding it, the way Ceph's tools
// do: librbd blocklists the holder's client, then breaks the lock (and this
// waits until the OSDs dropped the dead client's watch). Else librbd would
// wait for that watch to time out (30 s) before the first volume's snapshot
// could be made. The holder counts as the copier only when it is the client
// the chunk record names (ChunkRecordHeader::client), and as dead only when
// that process is proven gone: on this host, its pid no longer runs; on
// another, its client no longer watches the image. Any other holder (a
// racing volume create, a live copier) is left alone. No lock, no record: nothing to do.
Status release_dead_copier_lock(Pool& io, const std::string& rbd_name);

Result<ImageLocation> copy_or_await_image(Driver& driver, const ImageRecord& image, Cluster& target,
                                          const Progress& progress, bool* waited,
                                          bool* copied_here);

// Creates `dst_name` in `dst_io`'s pool (same cluster or another) with the
// size and object size of `src_name` in `src_io`'s pool, read at snapshot
// `src_snap` ("" = the image's head; a clone is read through its parent), and
// copies its data with the copy engine: only allocated extents are read,
// chunks of zeros are not written, so the copy is thin. The new image has the
// cluster's default features, no snapshots and no metadata. All or nothing:
// on failure the new image is removed again. EEXIST (nothing touched) when
// `dst_name` exists. Progress stage "copy", bytes of allocated data. When
// `stats` is given, it receives what the engine did. When `checksum` is
// given, the copy gets a chunk record as an uploaded image does (image.verify
// checks it), and `checksum` its chunk_list_checksum (rbdvol.checksum).
Status copy_rbd_image(Pool& src_io, const std::string& src_name, const std::string& src_snap,
                      Pool& dst_io, const std::string& dst_name, const Progress& progress,
                      CopyStats* stats = nullptr, std::string* checksum = nullptr);

}  // namespace rbdvol::plugin
