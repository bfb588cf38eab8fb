// image.write (call_stream only): writes the stream's data into a transfer's
// image at `offset`, recording each chunk's digest (transfer/image_transfer.h).
#include "plugin/fault_injection.h"
#include "plugin/ops/operations.h"
#include "plugin/ops/request.h"
#include "plugin/transfer/image_transfer.h"

namespace rbdvol::plugin {

Result<Json> image_write(Driver& driver, const Json& request, DataStream& stream,
                         const Progress& progress) {
  ASSIGN_OR_RETURN(std::string id, required_string(request, "id"));
  ASSIGN_OR_RETURN(std::string backend, optional_string(request, "backend"));
  ASSIGN_OR_RETURN(uint64_t offset, required_offset(request, "offset"));
  if (!stream.can_read()) {
    return Status::Invalid("image.write reads its data from the call: it needs a read function");
  }
  ASSIGN_OR_RETURN(Transfer t, find_transfer(driver, id, backend));
  auto written =
      write_transfer_data(t, offset, stream, progress, fault_count("image.write:kill-after-chunk"));
  if (!written.ok()) return written.status().Prefixed("image.write of image " + t.uuid);
  Json chunks = Json::array();
  if (written->chunks) chunks = Json::array({written->first_chunk, written->last_chunk});
  return Json{{"id", t.uuid},     {"backend", t.backend},
              {"offset", offset}, {"written", written->written},
              {"chunks", chunks}, {"chunks_zero", written->chunks_zero}};
}

}  // namespace rbdvol::plugin
