#include "service/cinder/volume_listing.h"

#include <algorithm>
#include <set>
#include <utility>
#include <vector>

#include "service/cinder/views.h"
#include "service/cinder/volume_lookup.h"

namespace rbdvol::service::cinder {
namespace {

using SortKeys = std::vector<std::pair<std::string, bool>>;  // key, ascending

// The sort keys volume.list knows, by the same names in a Cinder view and in
// the plugin's records.
const std::set<std::string> kDirectorySortKeys = {"id", "name", "size", "created_at"};

bool served_by_directory(const ListQuery& query) {
  for (const auto& [key, ascending] : query.sort) {
    if (kDirectorySortKeys.count(key) == 0) return false;
  }
  for (const auto& [key, value] : query.filters) {
    if (key == "status" && value != "available" && value != "in-use") return false;
    if (key == "bootable") return false;
  }
  return true;
}

// The query's keys ending in id, so that the order is total, and the same
// in the plugin (which ends ties in id order) and here.
SortKeys total_order(const ListQuery& query) {
  SortKeys sort = query.sort;
  if (std::none_of(sort.begin(), sort.end(), [](const auto& k) { return k.first == "id"; })) {
    sort.emplace_back("id", false);
  }
  return sort;
}

std::string sort_text(const SortKeys& sort) {
  std::string out;
  for (const auto& [key, ascending] : sort) {
    out += (out.empty() ? "" : ",") + key + (ascending ? ":asc" : ":desc");
  }
  return out;
}

std::string text_field(const Json& record, const std::string& key) {
  auto it = record.find(key);
  return it != record.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Two plugin-shaped records by one key, as volume.list orders them: sizes
// as numbers, the rest as text. created_at is compared in Cinder's form, so
// that the journal's records ("...T08:00:00.000000") and the plugin's
// ("...T08:00:00Z") sort alike.
int compare_records(const Json& a, const Json& b, const std::string& key) {
  if (key == "size") {
    auto bytes = [](const Json& r) {
      auto it = r.find("size");
      return it != r.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
    };
    const uint64_t x = bytes(a), y = bytes(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  std::string x = text_field(a, key), y = text_field(b, key);
  if (key == "created_at") {
    Json cx = cinder_time(x), cy = cinder_time(y);
    x = cx.is_string() ? cx.get<std::string>() : "";
    y = cy.is_string() ? cy.get<std::string>() : "";
  }
  const int c = x.compare(y);
  return c < 0 ? -1 : c > 0 ? 1 : 0;
}

bool before(const Json& a, const Json& b, const SortKeys& sort) {
  for (const auto& [key, ascending] : sort) {
    const int c = compare_records(a, b, key);
    if (c != 0) return ascending ? c < 0 : c > 0;
  }
  return false;
}

// The volumes only the journal knows: being created, or whose create failed.
bool journal_only(const VolumeActivity& activity) { return !activity.volume.is_null(); }

// The whole listing read, merged with the journal's volumes, and paged
// here: for what volume.list cannot sort or filter by.
Result<VolumePage> whole_listing_page(VolumeService& service, const Call& call,
                                      const ListQuery& query) {
  VolumePage page;
  ASSIGN_OR_RETURN(Json views, all_volume_views(service, call, &page.unreachable));
  bool more = false;
  ASSIGN_OR_RETURN(page.views, page_items(std::move(views), query, &more));
  if (more && !page.views.empty()) page.next_marker = page.views.back().value("id", "");
  return page;
}

}  // namespace

Result<VolumePage> list_volume_page(VolumeService& service, const Call& call,
                                    const ListQuery& query) {
  ASSIGN_OR_RETURN(auto activities, service.activities());
  if (!served_by_directory(query)) return whole_listing_page(service, call, query);
  if (!query.marker.empty()) {
    auto it = activities.find(query.marker);
    if (it != activities.end() && journal_only(it->second)) {
      return whole_listing_page(service, call, query);
    }
  }

  const SortKeys sort = total_order(query);
  Json request = {{"sort", sort_text(sort)}};
  if (!query.marker.empty()) request["marker"] = query.marker;
  for (const auto& [key, value] : query.filters) {
    if (key == "name" || key == "status") request[key] = value;
  }
  if (query.limit) {
    // Volumes with a long operation may show another status than the
    // directory's and be filtered out here: ask for that many more, so that
    // a page is full whenever enough volumes follow.
    request["limit"] = std::max<uint64_t>(1, *query.limit + query.offset + activities.size());
  }
  auto listed = service.call("volume.list", request);
  if (!listed.ok()) {
    if (listed.status().err() == EINVAL && !query.marker.empty() &&
        listed.status().message().find("marker") != std::string::npos) {
      return Status::Invalid("marker " + query.marker + " could not be found");
    }
    return listed.status();
  }
  std::vector<ListedVolume> directory, journal;
  std::set<std::string> listed_ids;
  for (const auto& record : listed->value("volumes", Json::array())) {
    const std::string id = text_field(record, "id");
    listed_ids.insert(id);
    std::optional<VolumeActivity> activity;
    if (auto it = activities.find(id); it != activities.end()) activity = it->second;
    directory.push_back({record, volume_view(call, record, activity)});
  }
  for (const auto& [id, activity] : activities) {
    if (!journal_only(activity) || listed_ids.count(id)) continue;
    Json view = volume_view(call, activity.volume, activity);
    if (matches_filters(view, query)) journal.push_back({activity.volume, std::move(view)});
  }
  std::optional<Json> marker_record;
  if (!journal.empty() && !query.marker.empty()) {
    auto record = volume_record(service, query.marker);
    if (!record.ok() && record.status().err() == ENOENT) {
      return Status::Invalid("marker " + query.marker + " could not be found");
    }
    if (!record.ok()) return record.status();
    marker_record = std::move(record).value();
  }
  VolumePage page =
      merge_volume_page(directory, listed->contains("next_marker"), journal, marker_record, query);
  page.unreachable = listed->value("unreachable", Json::array());
  return page;
}

VolumePage merge_volume_page(const std::vector<ListedVolume>& directory, bool truncated,
                             const std::vector<ListedVolume>& journal,
                             const std::optional<Json>& marker_record, const ListQuery& query) {
  const SortKeys sort = total_order(query);
  std::vector<const ListedVolume*> items;
  for (const auto& v : directory) {
    if (matches_filters(v.view, query)) items.push_back(&v);
  }
  for (const auto& v : journal) {
    if (!matches_filters(v.view, query)) continue;
    if (!query.marker.empty() && marker_record && !before(*marker_record, v.record, sort)) continue;
    if (truncated && !directory.empty() && before(directory.back().record, v.record, sort)) {
      continue;  // the next page holds it
    }
    items.push_back(&v);
  }
  std::stable_sort(items.begin(), items.end(), [&](const ListedVolume* a, const ListedVolume* b) {
    return before(a->record, b->record, sort);
  });

  VolumePage page;
  const size_t begin = std::min(query.offset, items.size());
  const size_t end = query.limit ? std::min(items.size(), begin + *query.limit) : items.size();
  for (size_t i = begin; i < end; ++i) page.views.push_back(items[i]->view);
  if (end < items.size() || truncated) {
    // The last volume shown; on an empty page, the last one volume.list
    // gave (all filtered out here), so that the next page goes on from it.
    page.next_marker = end > begin
                           ? text_field(items[end - 1]->record, "id")
                           : (directory.empty() ? "" : text_field(directory.back().record, "id"));
  }
  return page;
}

}  // namespace rbdvol::service::cinder
