// image.read (call_stream only): hands a complete image's bytes, or a range
// of them, to the call's write function in order, in pieces of the image's
// object size, with a few pieces held at a time whatever the length.
#include <algorithm>

#include "plugin/ceph/rbd_image.h"
#include "plugin/ops/operations.h"
#include "plugin/ops/request.h"
#include "plugin/records/catalog.h"
#include "plugin/transfer/image_transfer.h"

namespace rbdvol::plugin {

Result<Json> image_read(Driver& driver, const Json& request, DataStream& stream,
                        const Progress& progress) {
  ASSIGN_OR_RETURN(std::string id, required_string(request, "id"));
  ASSIGN_OR_RETURN(std::string backend, optional_backend(driver, request));
  ASSIGN_OR_RETURN(std::optional<uint64_t> offset, optional_offset(request, "offset"));
  ASSIGN_OR_RETURN(std::optional<uint64_t> length, optional_offset(request, "length"));
  if (!stream.can_write()) {
    return Status::Invalid("image.read hands its data to the call: it needs a write function");
  }
  ASSIGN_OR_RETURN(ImageRecord image, find_image(driver, id));
  auto where =
      std::find_if(image.locations.begin(), image.locations.end(),
                   [&](const ImageLocation& l) { return backend.empty() || l.backend == backend; });
  if (where == image.locations.end()) {
    return Status::NotFound("image " + image.id + " has no copy in backend " + backend);
  }
  ASSIGN_OR_RETURN(PoolPtr io, driver.cluster(where->backend)->open_pool(where->pool));
  ASSIGN_OR_RETURN(ImagePtr data, open_image_data(*io, where->rbd_name));
  ASSIGN_OR_RETURN(ImageStat st, data->stat());
  const uint64_t from = offset.value_or(0);
  if (from > st.size || (length && *length > st.size - from)) {
    return Status::Error(ERANGE, "the range at " + std::to_string(from) +
                                     (length ? " of " + std::to_string(*length) + " bytes" : "") +
                                     " goes past the end of image " + image.id + " (" +
                                     std::to_string(st.size) + " bytes)");
  }
  const uint64_t count = length.value_or(st.size - from);
  uint64_t done = 0;
  Status s = read_image_range(*data, from, count, st.object_size, nullptr,
                              [&](const char* bytes, uint64_t len) {
                                RETURN_IF_ERROR(stream.write(bytes, len));
                                done += len;
                                progress("read", done, count);
                                return Status::Ok();
                              });
  if (!s.ok()) return s.Prefixed("image.read of image " + image.id);
  return Json{{"id", image.id},
              {"backend", where->backend},
              {"offset", from},
              {"length", count},
              {"size", st.size}};
}

}  // namespace rbdvol::plugin
