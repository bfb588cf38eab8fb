// image.checksum: the checksum image.upload would record for a local image
// file (chunk_list_checksum), computed here without any cluster: its data
// extents are read and hashed chunk by chunk, in parallel; holes cost
// nothing. A qcow2 file is converted to raw first, as an upload does.
#include <vector>

#include "plugin/ops/operations.h"
#include "plugin/ops/request.h"
#include "plugin/transfer/chunk_record.h"
#include "plugin/transfer/copy_engine.h"
#include "plugin/transfer/image_file.h"

namespace rbdvol::plugin {

namespace {

// RBD's default object size, the chunk size of an upload into a cluster
// that keeps the default.
constexpr uint64_t kDefaultChunkSize = 4ULL << 20;

}  // namespace

Result<Json> image_checksum(Driver&, const Json& request, const Progress& progress) {
  auto path = required_string(request, "path");
  if (!path.ok()) return path.status();
  auto requested = optional_size(request, "chunk_size");
  if (!requested.ok()) return requested.status();
  const uint64_t chunk = requested->value_or(kDefaultChunkSize);
  // The object sizes RBD allows: a power of two from 4 KiB to 32 MiB.
  if (chunk < (4ULL << 10) || chunk > (32ULL << 20) || (chunk & (chunk - 1)) != 0) {
    return Status::Invalid("chunk_size " + std::to_string(chunk) +
                           " is not an RBD object size (a power of two from 4K to 32M)");
  }
  auto file = RawImageFile::open(*path, [&] { progress("convert", 0, 0); });
  if (!file.ok()) return file.status();
  const RawImageFile& f = **file;

  // Chunks the engine does not report are holes.
  const uint64_t chunks = (f.size + chunk - 1) / chunk;
  std::vector<std::optional<ChunkDigest>> digests(chunks);
  for (uint64_t i = 0; i < chunks; ++i) digests[i] = zero_chunk(i, chunk, f.size);
  auto read = digest_file_data(
      f.fd(), f.label, f.size, chunk,
      [&](const ChunkDigest& d) {
        if (d.index < digests.size()) digests[d.index] = d;
      },
      progress, default_copy_options("checksum"));
  if (!read.ok()) return read.status().Prefixed("checksum of " + *path);
  auto sum = chunk_list_checksum(f.size, chunk, digests);
  if (!sum.ok()) return sum.status().Prefixed("checksum of " + *path);
  return Json{{"path", *path},
              {"format", f.format},
              {"size", f.size},
              {"file_size", f.file_size},
              {"chunk_size", chunk},
              {"chunks", chunks},
              {"chunks_read", read->chunks_read},
              {"bytes_read", read->allocated},
              {"checksum", *sum}};
}

}  // namespace rbdvol::plugin
