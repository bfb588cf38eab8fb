// image.partials: the partial images (uploads, copies and streamed transfers being written, or
// left by runs that died) in every backend's image pool, or in one.
#include "plugin/fan_out.h"
#include "plugin/ops/operations.h"
#include "plugin/records/catalog.h"

namespace rbdvol::plugin {

Result<Json> image_partials(Driver& driver, const Json& request, const Progress&) {
  auto only = optional_backend(driver, request);
  if (!only.ok()) return only.status();
  std::vector<Cluster*> clusters = driver.cluster_list(*only);
  auto found = fan_out(clusters, [](Cluster* c) { return list_partial_images(*c); });
  Json partials = Json::array(), unreachable = Json::array();
  for (size_t i = 0; i < found.size(); ++i) {
    if (!found[i].ok()) {
      unreachable.push_back(
          {{"backend", clusters[i]->id()}, {"error", found[i].status().message()}});
      continue;
    }
    for (const auto& p : *found[i]) partials.push_back(partial_image_json(p));
  }
  return Json{{"partials", partials}, {"unreachable", unreachable}};
}

}  // namespace rbdvol::plugin
