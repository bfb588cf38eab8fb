#include "cli/upload_ranges.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace rbdvol::cli {

std::vector<ByteRange> merge_ranges(std::vector<ByteRange> ranges) {
  std::sort(ranges.begin(), ranges.end(),
            [](const ByteRange& a, const ByteRange& b) { return a.offset < b.offset; });
  std::vector<ByteRange> out;
  for (const auto& r : ranges) {
    if (r.length == 0) continue;
    if (!out.empty() && r.offset <= out.back().end()) {
      const uint64_t end = std::max(out.back().end(), r.end());
      out.back().length = end - out.back().offset;
    } else {
      out.push_back(r);
    }
  }
  return out;
}

uint64_t total_length(const std::vector<ByteRange>& ranges) {
  uint64_t n = 0;
  for (const auto& r : ranges) n += r.length;
  return n;
}

std::vector<ByteRange> round_out_to_chunks(const std::vector<ByteRange>& ranges,
                                           uint64_t chunk_size, uint64_t size) {
  std::vector<ByteRange> out;
  for (const auto& r : ranges) {
    if (r.length == 0 || r.offset >= size) continue;
    const uint64_t first = r.offset / chunk_size * chunk_size;
    const uint64_t last = std::min(r.end(), size);
    const uint64_t end = std::min(size, (last + chunk_size - 1) / chunk_size * chunk_size);
    out.push_back({first, end - first});
  }
  return merge_ranges(std::move(out));
}

std::vector<ByteRange> uncovered(const std::vector<ByteRange>& ranges, uint64_t size) {
  std::vector<ByteRange> out;
  uint64_t at = 0;
  for (const auto& r : merge_ranges(ranges)) {
    if (r.offset >= size) break;
    if (r.offset > at) out.push_back({at, r.offset - at});
    at = std::max(at, r.end());
  }
  if (at < size) out.push_back({at, size - at});
  return out;
}

std::vector<ByteRange> subtract_ranges(const std::vector<ByteRange>& from,
                                       const std::vector<ByteRange>& taken) {
  const auto cut = merge_ranges(taken);
  std::vector<ByteRange> out;
  for (const auto& r : merge_ranges(from)) {
    uint64_t at = r.offset;
    for (const auto& t : cut) {
      if (t.end() <= at) continue;
      if (t.offset >= r.end()) break;
      if (t.offset > at) out.push_back({at, t.offset - at});
      at = std::max(at, t.end());
      if (at >= r.end()) break;
    }
    if (at < r.end()) out.push_back({at, r.end() - at});
  }
  return out;
}

std::vector<ByteRange> split_ranges(const std::vector<ByteRange>& ranges, uint64_t piece) {
  std::vector<ByteRange> out;
  for (const auto& r : ranges) {
    for (uint64_t at = r.offset; at < r.end(); at += piece) {
      out.push_back({at, std::min(piece, r.end() - at)});
    }
  }
  return out;
}

uint64_t piece_size_for(uint64_t data_bytes, unsigned connections, uint64_t chunk_size) {
  const uint64_t pieces = 4ull * std::max(1u, connections);
  uint64_t piece = (data_bytes + pieces - 1) / pieces;
  piece = (piece + chunk_size - 1) / chunk_size * chunk_size;
  const uint64_t most = std::max(chunk_size, kMaxPieceBytes / chunk_size * chunk_size);
  return std::clamp(piece, chunk_size, most);
}

UploadPlan plan_upload(const std::vector<ByteRange>& extents, uint64_t size, uint64_t chunk_size,
                       const std::vector<ByteRange>& confirmed) {
  UploadPlan plan;
  const auto data = round_out_to_chunks(extents, chunk_size, size);
  std::vector<ByteRange> done;  // `confirmed` within the file
  for (const auto& r : merge_ranges(confirmed)) {
    if (r.offset < size) done.push_back({r.offset, std::min(r.end(), size) - r.offset});
  }
  plan.confirmed_bytes = total_length(done);
  plan.data = subtract_ranges(data, done);
  plan.zero = subtract_ranges(uncovered(data, size), done);
  return plan;
}

std::string content_range(const ByteRange& range, uint64_t size) {
  return "bytes " + std::to_string(range.offset) + "-" + std::to_string(range.end() - 1) + "/" +
         std::to_string(size);
}

Result<std::vector<ByteRange>> data_extents(int fd, uint64_t size) {
  std::vector<ByteRange> out;
  uint64_t at = 0;
  while (at < size) {
    const off_t data = lseek(fd, static_cast<off_t>(at), SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break;  // no data from `at` to the end
      if (errno == EINVAL && at == 0) return std::vector<ByteRange>{{0, size}};
      return Status::Error(errno, std::string("lseek SEEK_DATA: ") + std::strerror(errno));
    }
    if (static_cast<uint64_t>(data) >= size) break;
    off_t hole = lseek(fd, data, SEEK_HOLE);
    if (hole < 0)
      return Status::Error(errno, std::string("lseek SEEK_HOLE: ") + std::strerror(errno));
    const uint64_t end = std::min<uint64_t>(static_cast<uint64_t>(hole), size);
    out.push_back({static_cast<uint64_t>(data), end - static_cast<uint64_t>(data)});
    at = end;
  }
  return merge_ranges(std::move(out));
}

}  // namespace rbdvol::cli
