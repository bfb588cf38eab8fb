// The copy engine: moves image bytes into an RBD image in chunks, many reads
// and writes in flight at once. Only allocated extents of the source are read
// (librbd's diff iteration for an RBD source, SEEK_DATA/SEEK_HOLE for a
// file), chunks that are all zeros are not written, and a written chunk is
// trimmed of leading and trailing zero blocks, so the destination stays thin.
// Memory is bounded by depth x chunk size whatever the image size.
//
// The destination must read as zeros where nothing is written (a new image):
// the engine never writes zeros.
//
// Structure: one Boost.Asio io_context run on the calling thread is the event
// loop. librbd's completion callbacks only post to it; file reads (blocking
// pread) run on a small thread pool and post their result back. The loop does
// the zero check and submits the next aio call, and nothing on it blocks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "plugin/ceph_handles.h"
#include "plugin/driver.h"
#include "status/status.h"

namespace rbdvol::plugin {

struct CopyOptions {
  size_t depth = 16;           // chunks in flight (each holds one chunk buffer)
  uint64_t chunk_size = 0;     // 0: the destination's object size
  const char* stage = "copy";  // the progress stage reported
};

struct CopyStats {
  uint64_t size = 0;       // the source's size
  uint64_t allocated = 0;  // bytes of the source in allocated extents (read)
  uint64_t written = 0;    // bytes written to the destination
  uint64_t chunks_read = 0;
  uint64_t chunks_written = 0;
  uint64_t chunks_zero = 0;  // read, found all zeros, not written
  double seconds = 0;
};

// RBDVOL_COPY_DEPTH in the environment overrides CopyOptions::depth (1..256),
// so benchmarks can vary it without a rebuild.
CopyOptions default_copy_options(const char* stage);

// Copies the open image `src` (at whatever snapshot it was opened at; a clone
// is read through its parent) into `dst`, which must be at least as large.
// Progress: `done` / `total` are allocated bytes processed / to process.
Result<CopyStats> copy_image_data(rbd_image_t src, const std::string& src_label, rbd_image_t dst,
                                  const std::string& dst_label, const Progress& progress,
                                  const CopyOptions& options);

// Copies the first `size` bytes of the regular file `fd` into `dst`.
Result<CopyStats> copy_file_data(int fd, const std::string& path, uint64_t size, rbd_image_t dst,
                                 const std::string& dst_label, const Progress& progress,
                                 const CopyOptions& options);

// The allocated extents of `image` as (offset, length), sorted, from
// rbd_diff_iterate2 against no snapshot, parent data included.
struct Extent {
  uint64_t offset = 0;
  uint64_t length = 0;
};
Result<std::vector<Extent>> allocated_extents(rbd_image_t image, const std::string& label);

}  // namespace rbdvol::plugin
