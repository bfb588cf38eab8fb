// image.show: one image with all its locations, size, format and checksum.
#include <cstdlib>

#include "plugin/ceph/rbd_image.h"
#include "plugin/ops/operations.h"
#include "plugin/ops/request.h"
#include "plugin/records/catalog.h"
#include "plugin/records/naming.h"

namespace rbdvol::plugin {

Result<Json> image_show(Driver& driver, const Json& request, const Progress&) {
  auto id = required_string(request, "id");
  if (!id.ok()) return id.status();
  auto image = find_image(driver, *id);
  if (!image.ok()) return image.status();
  Json answer = image_record_json(*image);
  // Details kept with each copy (the first copy that answers gives them).
  for (const auto& l : image->locations) {
    Cluster* c = driver.cluster(l.backend);
    if (!c) continue;
    auto io = c->open_pool(l.pool);
    if (!io.ok()) continue;
    auto rbd = open_image(**io, l.rbd_name, true);
    if (!rbd.ok()) continue;
    for (const auto& [key, field] :
         {std::pair{meta::kCreatedAt, "created_at"}, std::pair{meta::kImageSourceSize, "file_size"},
          std::pair{meta::kImageSourceVolume, "source_volume"}}) {
      auto v = metadata_get(**rbd, key);
      if (v.ok() && !v->empty()) answer[field] = *v;
    }
    if (answer.contains("file_size")) {
      answer["file_size"] =
          std::strtoull(answer["file_size"].get<std::string>().c_str(), nullptr, 10);
    }
    break;
  }
  answer["snapshot"] = kImageSnapshot;
  return answer;
}

}  // namespace rbdvol::plugin
