// Cinder's volume list and detail, served from the plugin's volume
// directories: filters, sort, marker and limit are passed to volume.list,
// which pages itself, and the volumes the journal adds (being created, or
// whose create failed: not in any directory) are merged in by the same order.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "service/cinder/paging.h"
#include "service/cinder/volume_service.h"

namespace rbdvol::service::cinder {

struct VolumePage {
  Json views = Json::array();  // Cinder's views, in the query's order
  // Set when more volumes follow: the id the next page starts after.
  std::string next_marker;
  Json unreachable = Json::array();  // backends that could not be listed
};

// A volume of a listing: the plugin-shaped record (what the order is taken
// from, as volume.list orders) and its Cinder view (what filters look at).
struct ListedVolume {
  Json record, view;
};

// The page of `query` from what volume.list answered (`directory`, in its
// order, after the marker, `truncated` when it left volumes out after them)
// and the volumes only the journal knows (`journal`, any order, any
// position): both filtered by the views, the journal's kept when they sort
// after `marker_record` (the marker's record; needed when `query` has a
// marker and `journal` is not empty) and, when `truncated`, not after the
// last directory volume; then merged in order, `offset` skipped and `limit`
// kept. Pure: the unit tests drive it.
VolumePage merge_volume_page(const std::vector<ListedVolume>& directory, bool truncated,
                             const std::vector<ListedVolume>& journal,
                             const std::optional<Json>& marker_record, const ListQuery& query);

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
