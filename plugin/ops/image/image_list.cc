// image.list: every image with all its locations, across backends.
#include "plugin/ops/operations.h"
#include "plugin/records/catalog.h"

namespace rbdvol::plugin {

Result<Json> image_list(Driver& driver, const Json&, const Progress&) {
  ImageCatalog catalog = list_image_catalog(driver);
  Json images = Json::array();
  for (const auto& rec : catalog.images) images.push_back(image_record_json(rec));
  Json unreachable = Json::array();
  for (const auto& [backend, error] : catalog.unreachable) {
    unreachable.push_back({{"backend", backend}, {"error", error}});
  }
  Json unreadable = Json::array();
  for (const auto& u : catalog.unreadable) {
    unreadable.push_back({{"backend", u.backend}, {"id", u.id}, {"error", u.error}});
  }
  return Json{{"images", images}, {"unreachable", unreachable}, {"unreadable", unreadable}};
}

}  // namespace rbdvol::plugin
