// Cinder's volume list and detail, served from the plugin's volume
// directories: filters, sort, marker and limit are passed to volume.list,
// which pages itself, and the volumes the journal adds (being created, or
// whose create failed: not in any directory) are merged in by the same order.
#pragma once

#include <string>

#include "service/cinder/paging.h"
#include "service/cinder/volume_service.h"

namespace rbdvol::service::cinder {

struct VolumePage {
  Json views = Json::array();  // Cinder's views, in the query's order
  // Set when more volumes follow: the id the next page starts after.
  std::string next_marker;
  Json unreachable = Json::array();  // backends that could not be listed
};

// One page of volumes for `query` (parse_list_query with the volume filter
// and sort keys). A marker that names no volume the listing holds is EINVAL
// "marker ID could not be found", as Cinder answers.
//
// volume.list serves it when its sort keys are the directory's (id, name,
// size, created_at) and a status filter is one the directory knows
// (available, in-use) or none; otherwise, and when the marker is a volume
// only the journal knows, the whole listing is read and paged here.
Result<VolumePage> list_volume_page(VolumeService& service, const Call& call,
                                    const ListQuery& query);

}  // namespace rbdvol::service::cinder
