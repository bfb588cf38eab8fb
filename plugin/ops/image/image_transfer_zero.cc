// image.transfer_zero: records a range of a transfer's image as a hole
// (zeros), without data (transfer/image_transfer.h).
#include "plugin/ops/operations.h"
#include "plugin/ops/request.h"
#include "plugin/transfer/image_transfer.h"

namespace rbdvol::plugin {

Result<Json> image_transfer_zero(Driver& driver, const Json& request, const Progress&) {
  ASSIGN_OR_RETURN(std::string id, required_string(request, "id"));
  ASSIGN_OR_RETURN(std::string backend, optional_string(request, "backend"));
  ASSIGN_OR_RETURN(uint64_t offset, required_offset(request, "offset"));
  ASSIGN_OR_RETURN(uint64_t length, required_offset(request, "length"));
  ASSIGN_OR_RETURN(Transfer t, find_transfer(driver, id, backend));
  auto chunks = zero_transfer_range(t, offset, length);
  if (!chunks.ok()) return chunks.status().Prefixed("image.transfer_zero of image " + t.uuid);
  const uint64_t first = offset / t.header.chunk_size;
  return Json{{"id", t.uuid},
              {"backend", t.backend},
              {"offset", offset},
              {"length", length},
              {"chunks", Json::array({first, first + *chunks - 1})}};
}

}  // namespace rbdvol::plugin
