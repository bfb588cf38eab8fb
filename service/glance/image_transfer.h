// The transfer resource of an image (docs/rest-api.md, "Parallel ranged
// uploads"): /v2/images/{id}/transfer, over the plugin's streamed transfers
// (image.transfer_begin, image.write, image.transfer_zero,
// image.transfer_status, image.transfer_finish). A client declares the
// size, sends disjoint byte ranges over any number of connections, declares
// holes, asks what is confirmed, and finishes; every range is recorded chunk
// by chunk in Ceph, so a cut connection or a killed rbdvold loses only what
// was in flight.
//
// While it runs, the image's record is `saving` with
//   "transfer": {"store", "size", "chunk_size"}
// and no job: it is not settled by housekeeping (its client resumes it, or
// abandons it, or deletes the image).
#pragma once

#include <cstdint>
#include <string>

#include "service/api_request.h"
#include "service/glance/image_service.h"
#include "status/status.h"

namespace rbdvol::service::glance {

// POST /v2/images/{id}/transfer: begins one (201), or answers the one that
// runs (200, to resume).
Result<ApiResponse> transfer_begin(ImageService& images, const ApiRequest& request,
                                   const std::string& id, const Json& body);
// GET /v2/images/{id}/transfer
Result<ApiResponse> transfer_show(ImageService& images, const std::string& id);
// PUT /v2/images/{id}/transfer with Content-Range: one range, streamed.
Result<ApiResponse> transfer_write(ImageService& images, ApiRequest& request,
                                   const std::string& id);
// POST /v2/images/{id}/transfer/zero
Result<ApiResponse> transfer_zero(ImageService& images, const std::string& id, const Json& body);
// POST /v2/images/{id}/transfer/finish
Result<ApiResponse> transfer_finish(ImageService& images, const std::string& id);
// DELETE /v2/images/{id}/transfer
Result<ApiResponse> transfer_abandon(ImageService& images, const std::string& id);

// A PUT's `Content-Range: bytes FIRST-LAST/SIZE`. EINVAL naming what is
// wrong for anything else (no header, `*`, signs, empty or non-decimal
// numbers, LAST < FIRST, more than 19 digits).
struct ContentRange {
  uint64_t first = 0;
  uint64_t last = 0;
  uint64_t size = 0;
  uint64_t length() const { return last - first + 1; }
};
Result<ContentRange> parse_content_range(const std::string& header);

}  // namespace rbdvol::service::glance
