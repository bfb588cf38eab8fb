// The byte-range arithmetic of a parallel ranged upload (`rbdvol image upload
// FILE --url URL`, cli/ranged_upload.h): which chunks of a file hold data and
// are sent, which are declared holes, what a transfer shows confirmed
// already, and how the rest is cut into pieces for the connections. Pure,
// unit-tested (tests/unit/ranged_upload_test.cc), except data_extents.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "status/status.h"

namespace rbdvol::cli {

struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t end() const { return offset + length; }
  bool operator==(const ByteRange& o) const { return offset == o.offset && length == o.length; }
};

// Sorted, with overlapping and touching ranges joined and empty ones left out.
std::vector<ByteRange> merge_ranges(std::vector<ByteRange> ranges);

uint64_t total_length(const std::vector<ByteRange>& ranges);

// Each range widened to whole chunks of `chunk_size` (its start down, its end
// up, but not past `size`: the last chunk of a file may be short), merged.
std::vector<ByteRange> round_out_to_chunks(const std::vector<ByteRange>& ranges,
                                           uint64_t chunk_size, uint64_t size);

// What of [0, size) `ranges` does not cover, merged.
std::vector<ByteRange> uncovered(const std::vector<ByteRange>& ranges, uint64_t size);

// What of `from` `taken` does not cover, merged.
std::vector<ByteRange> subtract_ranges(const std::vector<ByteRange>& from,
                                       const std::vector<ByteRange>& taken);

// The ranges cut into pieces of at most `piece` bytes, in order. A piece
// starts where its range starts or `piece` bytes after the previous one, so
// that pieces of chunk-aligned ranges stay chunk-aligned when `piece` is a
// multiple of the chunk size.
std::vector<ByteRange> split_ranges(const std::vector<ByteRange>& ranges, uint64_t piece);

// The size of the pieces `data_bytes` are sent in over `connections`: about
// four pieces a connection, so that they finish together and the progress
// moves, within [chunk_size, kMaxPieceBytes] and a multiple of chunk_size.
constexpr uint64_t kMaxPieceBytes = 64ull << 20;
uint64_t piece_size_for(uint64_t data_bytes, unsigned connections, uint64_t chunk_size);

// What an upload of a file of `size` bytes whose data lies in `extents`
// (data_extents) still has to do on a transfer of `chunk_size` that shows
// `confirmed`: the chunks holding data to send, and the chunks holding none
// to declare holes, both without what is confirmed.
struct UploadPlan {
  std::vector<ByteRange> data;
  std::vector<ByteRange> zero;
  uint64_t confirmed_bytes = 0;  // of [0, size)
};
UploadPlan plan_upload(const std::vector<ByteRange>& extents, uint64_t size, uint64_t chunk_size,
                       const std::vector<ByteRange>& confirmed);

// "bytes FIRST-LAST/SIZE" for a non-empty range.
std::string content_range(const ByteRange& range, uint64_t size);

// The ranges of the open file `fd` (`size` bytes) that hold data, by
// lseek(SEEK_DATA/SEEK_HOLE): a file system that cannot tell (EINVAL) gives
// the whole file. Merged.
Result<std::vector<ByteRange>> data_extents(int fd, uint64_t size);

}  // namespace rbdvol::cli
