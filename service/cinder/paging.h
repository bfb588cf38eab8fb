// Filters, sort, marker and limit of Cinder's list calls.
//
// Volumes are paged by the plugin's volume.list from its directories
// (volume_listing.h); snapshots, attachments, and volume listings the
// directory cannot serve are paged here over a whole answer (page_items).
#pragma once

#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "service/cinder/volume_service.h"

namespace rbdvol::service::cinder {

struct ListQuery {
  std::optional<size_t> limit;
  std::string marker;
  size_t offset = 0;
  std::vector<std::pair<std::string, bool>> sort;  // key, ascending
  std::vector<std::pair<std::string, std::string>> filters;
};

// Reads limit, marker, offset, sort (key[:dir],...), sort_key/sort_dir and
// the filters named in `filter_keys` from the query. EINVAL names a bad value:
// a limit or offset that is not a non-negative integer, a sort key not in
// `sort_keys`, a direction other than asc/desc.
Result<ListQuery> parse_list_query(const ApiRequest& request,
                                   const std::set<std::string>& filter_keys,
                                   const std::set<std::string>& sort_keys);

// Whether Cinder view `view` passes the query's filters (exact match of the
// view's field, as text).
bool matches_filters(const Json& view, const ListQuery& query);

// `items` (Cinder views) filtered (exact match of the view's field, as
// text), sorted (default created_at desc, then id desc), after `marker` (an
// id; EINVAL when it is not among the filtered items), `offset` skipped, and
// at most `limit`. *more is true when items were left after the limit.
Result<Json> page_items(Json items, const ListQuery& query, bool* more);

// {"rel": "next", "href": ...} for the page after `last_id`, or nothing.
Json next_links(const Call& call, const std::string& collection, const ListQuery& query,
                const std::string& last_id);

}  // namespace rbdvol::service::cinder
