// A streamed transfer into an image (image.transfer_begin, image.write,
// image.transfer_zero, image.transfer_finish; docs/driver-abi.md): the host
// sends the image's bytes in ranges, from any number of calls and processes at
// once, each range aligned to the transfer's chunk size. The partial image is
// an image-<uuid> without rbdvol.complete, as an upload's, with a chunk record
// (chunk_record.h) whose source is kTransferSource: every chunk written or
// declared a hole is recorded there with its digest, so the transfer can be
// finished (all chunks recorded) or resumed after a writer died.
//
// While it is written the image has exclusive-lock, object-map, fast-diff
// and journaling off (several clients write disjoint chunks at once); the
// features it had are kept in rbdvol.transfer_features and put back when it
// is finished. An image whose size was not declared starts at
// kTransferGrowStep and grows by that step as writes go past its end (under
// an advisory lock on the chunk record, so that two writers growing it at
// once do not undo each other); the finish sets its size.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "plugin/ceph/cluster.h"
#include "plugin/driver.h"
#include "plugin/transfer/chunk_record.h"
#include "status/status.h"

namespace rbdvol::plugin {

// How an image of undeclared size starts and grows.
inline constexpr uint64_t kTransferGrowStep = 1ULL << 30;
// Chunks a write or a read holds at once (in flight, plus the one being
// filled): memory per call is about this many chunks.
inline constexpr size_t kTransferDepth = 4;

// One transfer's partial (or, once finished, complete) image.
struct Transfer {
  std::string uuid;
  std::string backend;
  std::string rbd_name;  // image-<uuid>
  std::string label;     // "backend fast images/image-<uuid>"
  Cluster* cluster = nullptr;
  PoolPtr io;  // the backend's image pool
  // Its record. header.size is the image's size while it is written: the
  // declared size (header.transfer_size), or the size it has grown to.
  ChunkRecordHeader header;
  uint64_t record_version = 0;
  bool complete() const { return header.state == "complete"; }
};

// The transfer of image `id` ("<uuid>" or "image-<uuid>") in `backend`, or,
// when `backend` is "", in whichever backend holds one. ENOENT when none
// does; EINVAL when the image there is not a transfer's (an upload's or a
// copy's).
Result<Transfer> find_transfer(Driver& driver, const std::string& id, const std::string& backend);

// The chunk size of a transfer: a multiple of 4 KiB from 64 KiB to 64 MiB.
Status check_transfer_chunk_size(uint64_t chunk_size);

struct TransferWrite {
  uint64_t written = 0;  // bytes taken from the stream
  uint64_t first_chunk = 0, last_chunk = 0;
  uint64_t chunks = 0;  // chunks recorded (0 when the stream was empty)
  uint64_t chunks_zero = 0;
};

// Writes the stream's bytes at `offset` (a multiple of the chunk size) until
// it ends, one chunk at a time with up to kTransferDepth chunks held, and
// records each chunk's digest once its data is flushed. An all-zero chunk is
// recorded as zero and not written, unless the image holds data there (an
// earlier write of that chunk): then its zeros are written. Only the image's
// last chunk may be short (when its size is not declared, any chunk the
// stream ends in may be: the finish checks it is the last). ERANGE for bytes
// past a declared size. `kill_after_chunks` (a test hook): SIGKILL once this
// many chunks are recorded; 0 never.
Result<TransferWrite> write_transfer_data(Transfer& t, uint64_t offset, DataStream& stream,
                                          const Progress& progress, uint64_t kill_after_chunks);

// Records the chunks of [offset, offset+length) as holes (zeros), writing
// zeros over any that already hold data. Aligned as a write; the range may
// end at the image's end with a short chunk. The number of chunks recorded.
Result<uint64_t> zero_transfer_range(Transfer& t, uint64_t offset, uint64_t length);

struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;
};

// The recorded chunks of `digests` merged into ranges, in order.
std::vector<ByteRange> confirmed_ranges(const std::vector<std::optional<ChunkDigest>>& digests);

// The ranges of [0, size) in chunks of `chunk_size` that `digests` does not
// cover, merged.
std::vector<ByteRange> missing_ranges(uint64_t size, uint64_t chunk_size,
                                      const std::vector<std::optional<ChunkDigest>>& digests);

// "[0, 4194304), [8388608, 12582912)" with at most a few ranges, then "and N more".
std::string range_list(const std::vector<ByteRange>& ranges);

// Reads [offset, offset+length) of `image` in pieces of at most `piece`
// bytes, up to kTransferDepth in flight, and hands them to `sink` in order
// on the calling thread. A piece for which `is_zero(piece_offset)` says true
// is not read: `sink` gets zeros. A sink error stops the read.
Status read_image_range(RbdImage& image, uint64_t offset, uint64_t length, uint64_t piece,
                        const std::function<bool(uint64_t offset)>& is_zero,
                        const std::function<Status(const char* data, uint64_t len)>& sink);

}  // namespace rbdvol::plugin
