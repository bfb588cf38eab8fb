// image.list: every image with all its locations, across backends, read
// from each backend's image directory (records/directory.h) without opening
// the images; filtered, sorted and paged.
#include <map>

#include "plugin/fan_out.h"
#include "plugin/ops/directory_sync.h"
#include "plugin/ops/operations.h"
#include "plugin/records/catalog.h"
#include "plugin/records/directory.h"
#include "plugin/records/naming.h"

namespace rbdvol::plugin {

Result<Json> image_list(Driver& driver, const Json& request, const Progress&) {
  ASSIGN_OR_RETURN(ListingQuery query, parse_listing_query(request, {{"name"}, {"id"}}, false));
  ASSIGN_OR_RETURN(std::vector<Cluster*> clusters, listed_clusters(driver, query.backend));
  auto per_backend = fan_out(clusters, [](Cluster* c) { return list_image_directory(*c); });

  // One item per image, with a location per backend that holds a copy.
  std::map<std::string, Json> by_id;
  Json unreachable = Json::array();
  for (size_t i = 0; i < per_backend.size(); ++i) {
    Cluster* c = clusters[i];
    if (!per_backend[i].ok()) {
      unreachable.push_back({{"backend", c->id()}, {"error", per_backend[i].status().message()}});
      continue;
    }
    for (auto& e : *per_backend[i]) {
      const std::string id = e.at("id").get<std::string>();
      Json location = {
          {"backend", c->id()}, {"pool", c->backend().image_pool}, {"image", kImagePrefix + id}};
      auto it = by_id.find(id);
      if (it == by_id.end()) {
        e["locations"] = Json::array({location});
        by_id.emplace(id, std::move(e));
      } else {
        it->second["locations"].push_back(location);
      }
    }
  }
  std::vector<Json> images;
  for (auto& [id, item] : by_id) {
    if (!query.name.empty() && item.value("name", "") != query.name) continue;
    auto& locations = item["locations"];
    std::sort(locations.begin(), locations.end(), [](const Json& a, const Json& b) {
      return a.at("backend").get<std::string>() < b.at("backend").get<std::string>();
    });
    images.push_back(std::move(item));
  }
  std::string next_marker;
  RETURN_IF_ERROR(apply_listing_page(query, &images, &next_marker));
  Json answer = {{"images", images}, {"unreachable", unreachable}};
  if (!next_marker.empty()) answer["next_marker"] = next_marker;
  return answer;
}

}  // namespace rbdvol::plugin
