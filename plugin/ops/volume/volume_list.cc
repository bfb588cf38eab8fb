// volume.list: the volumes of every backend (or one), asked in parallel,
// read from each backend's volume directory (records/directory.h) without
// opening their images; filtered, sorted and paged. Backends that do not
// answer are named in the answer, not an error.
#include "plugin/fan_out.h"
#include "plugin/ops/directory_sync.h"
#include "plugin/ops/operations.h"
#include "plugin/records/directory.h"

namespace rbdvol::plugin {

Result<Json> volume_list(Driver& driver, const Json& request, const Progress&) {
  ASSIGN_OR_RETURN(ListingQuery query,
                   parse_listing_query(request, {{"backend"}, {"name"}, {"id"}}, true));
  ASSIGN_OR_RETURN(std::vector<Cluster*> clusters, listed_clusters(driver, query.backend));
  auto per_backend =
      fan_out(clusters, [&](Cluster* c) { return list_volume_directory(driver, *c); });

  std::vector<Json> volumes;
  Json unreachable = Json::array();
  for (size_t i = 0; i < per_backend.size(); ++i) {
    if (!per_backend[i].ok()) {
      unreachable.push_back(
          {{"backend", clusters[i]->id()}, {"error", per_backend[i].status().message()}});
      continue;
    }
    for (auto& v : *per_backend[i]) {
      if (!query.name.empty() && v.value("name", "") != query.name) continue;
      if (!query.disk_type.empty() && v.value("disk_type", "") != query.disk_type) continue;
      if (!query.status.empty() && v.value("status", "") != query.status) continue;
      volumes.push_back(std::move(v));
    }
  }
  std::string next_marker;
  RETURN_IF_ERROR(apply_listing_page(query, &volumes, &next_marker));
  Json answer = {{"id", "volumes"}, {"volumes", volumes}, {"unreachable", unreachable}};
  if (!next_marker.empty()) answer["next_marker"] = next_marker;
  return answer;
}

}  // namespace rbdvol::plugin
