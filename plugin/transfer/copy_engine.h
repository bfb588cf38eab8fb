// The copy engine: moves image bytes in chunks, many reads and writes in
// flight at once. Only allocated parts of the source are read (its objects
// that exist, from librbd's diff iteration, for an RBD source;
// SEEK_DATA/SEEK_HOLE for a file), chunks
// that are all zeros are not written, and a written chunk is trimmed of
// leading and trailing zero blocks, so the destination stays thin (an image)
// or sparse (a file). Memory is bounded by depth x chunk size whatever the
// image size.
//
// The destination must read as zeros where nothing is written (a new image,
// a new file): the engine never writes zeros.
//
// When the caller records digests (CopyOptions::record) or wants them
// (digest_image_data, digest_file_data), every chunk gets a SHA-256 of its
// whole bytes (holes read as zeros), or is marked all zeros; a chunk whose
// digest the source's own record already holds is not hashed again. The
// digests go to the caller once the chunk's data is flushed to the
// destination, in batches, so a record written from them never claims data
// that is not there (see chunk_record.h), and a transfer killed half way can
// resume from it. A download records nothing and hashes nothing.
//
// Bytes are moved in buffer lists, never copied by the engine: an RBD read
// hands over the buffers the reply arrived in, and an RBD write sends them.
//
// Structure: one Boost.Asio io_context run on the calling thread is the event
// loop. librbd's completion callbacks only post to it; file reads and writes
// (blocking pread/pwrite) and the digests run on a small thread pool, the
// flush-then-record step on a thread of its own, and each posts its result
// back. Nothing on the loop blocks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "plugin/ceph/cluster.h"
#include "plugin/ceph/env.h"
#include "plugin/driver.h"
#include "plugin/transfer/chunk_record.h"
#include "status/status.h"

namespace rbdvol::plugin {

// An RBD image the engine opens itself, whose reads and writes take buffer
// lists: a chunk goes from the source's reply to the destination's request
// without being copied in between.
struct ImageRef {
  Pool* io = nullptr;
  std::string name;
  std::string snap;   // "": the head
  std::string label;  // how messages name it: "backend fast images/image-...@snap"
};

// An image opened for the engine's reads or writes. A copy opens each image
// once and uses the same handle for its metadata too: every open reads the
// image's header, and every open for writing takes the exclusive lock anew
// once it writes.
struct OpenImage {
  ImagePtr image;
  std::string label;
};

// Opens `ref` at ref.snap, read-only or for writing; errors name ref.label.
Result<std::unique_ptr<OpenImage>> open_engine_image(const ImageRef& ref, bool read_only);

// Opens an image copy's bytes read-only, as open_image_data (rbd_image.h)
// does: at its snapshot kImageSnapshot when it has one, else
// at its head (the same bytes). Its label is `label`, a space, and
// pool/image[@snap]. ENOENT when the image does not exist.
Result<std::unique_ptr<OpenImage>> open_image_data_for_engine(Pool& io, const std::string& name,
                                                              const std::string& label);

struct Extent {
  uint64_t offset = 0;
  uint64_t length = 0;
};

// What a copy reads of an RBD source: its size, the chunk size, and its
// allocated objects (whole objects: with fast-diff, one read of the object
// map) cut into pieces, at most one per chunk. Listing them is a diff
// iteration: a caller that must also create the destination does both at
// once.
struct SourcePlan {
  uint64_t size = 0;
  uint64_t chunk_size = 0;
  std::vector<Extent> pieces;
};

// chunk_size 0: the source's object size.
Result<SourcePlan> plan_image_source(OpenImage& src, uint64_t chunk_size);

struct CopyOptions {
  // Chunks in flight, each holding one chunk buffer. 8 x 4 MiB keeps a copy's
  // peak resident memory well under 100 MiB (docs/driver-abi.md, "The copy
  // engine") at about the speed of 16.
  size_t depth = 8;
  uint64_t chunk_size = 0;     // 0: the destination's object size (the source's for a file)
  const char* stage = "copy";  // the progress stage reported
  // Chunks the destination already holds (a resumed transfer), by index:
  // neither read nor written again.
  std::vector<bool> confirmed;
  // The source's own chunk record, by index (an image rbdvol wrote carries
  // one), in chunks of the same size: a chunk with a digest there is not
  // hashed again, its digest is carried over. Chunks without one are hashed.
  std::vector<std::optional<ChunkDigest>> source_digests;
  // Receives the digests of chunks whose data has been flushed to the
  // destination, in order of completion, in batches; first, once, the runs of
  // chunks that are holes of the source. Called on a worker thread, one call
  // at a time. A failure stops the transfer with that status.
  std::function<Status(const std::vector<ChunkDigest>&)> record;
  // Test hook (RBDVOL_FAULT): the process kills itself with SIGKILL once this
  // many chunks are recorded. 0: never.
  uint64_t kill_after_chunks = 0;
  // Test hook: the process stops itself (SIGSTOP) once this many chunks are
  // recorded, so that a test can act while a transfer is half way; it goes on
  // when sent SIGCONT. 0: never.
  uint64_t stop_after_chunks = 0;
};

struct CopyStats {
  uint64_t size = 0;  // the source's size
  uint64_t chunk_size = 0;
  uint64_t chunks = 0;     // chunks of the source, holes included
  uint64_t allocated = 0;  // bytes of the source in allocated extents (read or confirmed)
  uint64_t written = 0;    // bytes written to the destination
  uint64_t chunks_read = 0;
  uint64_t chunks_written = 0;
  uint64_t chunks_zero = 0;               // read, found all zeros, not written
  uint64_t chunks_skipped_confirmed = 0;  // already recorded (resume): not read, not written
  uint64_t chunks_hashed = 0;             // digests computed (the others carried over)
  double seconds = 0;
};

// RBDVOL_COPY_DEPTH in the environment overrides CopyOptions::depth (1..256),
// so benchmarks can vary it without a rebuild.
CopyOptions default_copy_options(const char* stage);

// Copies the planned source `src` (a clone is read through its parent) into
// the image `dst`, which must be at least as large and read as zeros, in
// chunks of plan.chunk_size (options.chunk_size is not used). Progress:
// `done` / `total` are allocated bytes processed / to process (confirmed
// chunks count as done from the start).
Result<CopyStats> copy_planned_image_data(OpenImage& src, const SourcePlan& plan, OpenImage& dst,
                                          const Progress& progress, const CopyOptions& options);

// Copies the first `size` bytes of the regular file `fd` into `dst`.
Result<CopyStats> copy_file_data(int fd, const std::string& path, uint64_t size,
                                 const ImageRef& dst, const Progress& progress,
                                 const CopyOptions& options);

// Reads the data extents of the first `size` bytes of the regular file `fd`
// in chunks of `chunk_size` and calls `on_chunk` (on the calling thread) with
// the digest of each chunk that has any; chunks it is not called for are
// holes (zeros). Writes nothing.
Result<CopyStats> digest_file_data(int fd, const std::string& path, uint64_t size,
                                   uint64_t chunk_size,
                                   const std::function<void(const ChunkDigest&)>& on_chunk,
                                   const Progress& progress, const CopyOptions& options);

// Copies `src` into the regular file `fd`, which must be empty and is sized
// to the image first: holes and zero chunks stay holes. Chunks of the
// source's object size unless options say otherwise; ends with fdatasync.
Result<CopyStats> download_image_data(OpenImage& src, int fd, const std::string& path,
                                      const Progress& progress, const CopyOptions& options);

// Reads the allocated extents of `image` in chunks of `chunk_size` and calls
// `on_chunk` (on the calling thread) with the digest of each chunk that has
// any; chunks it is not called for are holes (zeros). Writes nothing.
Result<CopyStats> digest_image_data(OpenImage& image, uint64_t chunk_size,
                                    const std::function<void(const ChunkDigest&)>& on_chunk,
                                    const Progress& progress, const CopyOptions& options);

}  // namespace rbdvol::plugin
