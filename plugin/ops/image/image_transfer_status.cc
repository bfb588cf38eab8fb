// image.transfer_status: what a transfer's record holds: the ranges whose
// chunks are recorded (merged), and how much is missing.
#include "plugin/ceph/rbd_image.h"
#include "plugin/ops/operations.h"
#include "plugin/ops/request.h"
#include "plugin/transfer/image_transfer.h"

namespace rbdvol::plugin {

Result<Json> image_transfer_status(Driver& driver, const Json& request, const Progress&) {
  ASSIGN_OR_RETURN(std::string id, required_string(request, "id"));
  ASSIGN_OR_RETURN(std::string backend, optional_string(request, "backend"));
  ASSIGN_OR_RETURN(Transfer t, find_transfer(driver, id, backend));
  ASSIGN_OR_RETURN(auto digests, read_chunk_digests(*t.io, t.rbd_name, t.header, true));
  const auto confirmed = confirmed_ranges(digests);
  Json ranges = Json::array();
  for (const auto& r : confirmed) ranges.push_back(Json::array({r.offset, r.length}));
  // Of an undeclared size, what is missing up to the end of the last range.
  const uint64_t size = t.header.transfer_size;
  const uint64_t end = confirmed.empty() ? 0 : confirmed.back().offset + confirmed.back().length;
  uint64_t missing = 0;
  for (const auto& r : missing_ranges(size ? size : end, t.header.chunk_size, digests)) {
    missing += r.length;
  }
  auto writer = live_writer(*t.io, t.rbd_name);
  if (!writer.ok()) return writer.status().Prefixed(t.label);
  return Json{{"id", t.uuid},
              {"backend", t.backend},
              {"size", size},
              {"chunk_size", t.header.chunk_size},
              {"confirmed", ranges},
              {"missing_bytes", missing},
              {"state", t.header.state},
              {"writing", !writer->empty()}};
}

}  // namespace rbdvol::plugin
