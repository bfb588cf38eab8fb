// Moving an image's data for the Glance API: uploads streamed into the
// plugin's transfer operations (image.transfer_begin, image.write,
// image.transfer_finish; docs/driver-abi.md), qcow2 spooled and converted,
// downloads streamed out of image.read, imports and copies.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "service/api_request.h"
#include "service/glance/image_service.h"

namespace rbdvol::service::glance {

// What was stored: the raw content's size and its SHA-256 (hex).
struct Stored {
  uint64_t size = 0;
  std::string sha256;
};

// Reads up to `len` bytes: count, 0 at the end, -errno.
using Reader = std::function<int64_t(char* buf, size_t len)>;

// Writes the data of `read` as image `id` in `backend`: raw when
// `disk_format` is "raw" (data that starts with the qcow2 magic is refused:
// EINVAL), converted to raw by qemu-img when "qcow2" (spooled to the staging
// dir first; a qcow2 with a backing file or an external data file is
// refused). At most `cap` bytes are read (EFBIG beyond). A partial copy of
// `id` a dead upload left in `backend` is removed first. On failure the
// transfer's partial image is left for `rbdvol image partials` (the plugin
// lists it) and the error names what went wrong; EPIPE when `read` failed
// (the client went away, or sent too little).
Result<Stored> store_image_data(ImageService& images, const std::string& id,
                                const std::string& backend, const std::string& disk_format,
                                const Reader& read, uint64_t cap,
                                std::optional<uint64_t> announced);

// Starts a streamed transfer of `id` into `backend` (image.transfer_begin;
// `size` and `chunk_size` 0: not declared, the default), removing first a
// partial copy a dead upload or an abandoned transfer left there: its answer.
// EEXIST when `backend` holds a complete copy of `id`.
Result<Json> begin_transfer(ImageService& images, const std::string& id, const std::string& backend,
                            uint64_t size, uint64_t chunk_size);

// A file's content as a Reader (its size in *size).
Result<Reader> file_reader(const std::string& path, uint64_t* size);

// Streams bytes [offset, offset + length) of image `id` in `backend` to
// `write`.
Status read_image_data(ImageService& images, const std::string& id, const std::string& backend,
                       uint64_t offset, uint64_t length, const StreamWriter& write);

// The SHA-256 (hex) of image `id`'s content in `backend`, read through
// image.read (for images made from volumes).
Result<std::string> hash_image_data(ImageService& images, const std::string& id,
                                    const std::string& backend);

// One byte range of a `Range: bytes=...` header against `size`: nullopt
// when the header is absent; EINVAL for one that cannot be served (416).
struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;
};
Result<std::optional<ByteRange>> parse_range(const std::string& header, uint64_t size);

// The staging file of image `id` (in image_staging_dir).
std::string staging_path(const config::Config& config, const std::string& id);
// Writes `read` into the staging file of `id` (at most `cap` bytes): its size.
Result<uint64_t> stage_image_data(const config::Config& config, const std::string& id,
                                  const Reader& read, uint64_t cap);

}  // namespace rbdvol::service::glance
