#include "service/cinder/paging.h"

#include <algorithm>

namespace rbdvol::service::cinder {
namespace {

bool parse_size(const std::string& s, size_t* out) {
  if (s.empty() || s.size() > 9) return false;
  size_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<size_t>(c - '0');
  }
  *out = v;
  return true;
}

std::string as_text(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return v.dump();
}

// Order of two views by one key: numbers as numbers, the rest as text.
int compare_by(const Json& a, const Json& b, const std::string& key) {
  const Json& x = a.contains(key) ? a[key] : Json(nullptr);
  const Json& y = b.contains(key) ? b[key] : Json(nullptr);
  if (x.is_number() && y.is_number()) {
    double p = x.get<double>(), q = y.get<double>();
    return p < q ? -1 : (p > q ? 1 : 0);
  }
  std::string p = as_text(x), q = as_text(y);
  return p < q ? -1 : (p > q ? 1 : 0);
}

std::string url_encode(const std::string& s) {
  static const char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == ':' || c == ',') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace

Result<ListQuery> parse_list_query(const ApiRequest& request,
                                   const std::set<std::string>& filter_keys,
                                   const std::set<std::string>& sort_keys) {
  ListQuery q;
  if (request.has_param("limit")) {
    size_t limit = 0;
    if (!parse_size(request.param("limit"), &limit)) {
      return Status::Invalid("limit must be a non-negative integer, got '" +
                             request.param("limit") + "'");
    }
    q.limit = limit;
  }
  if (request.has_param("offset") && !parse_size(request.param("offset"), &q.offset)) {
    return Status::Invalid("offset must be a non-negative integer, got '" +
                           request.param("offset") + "'");
  }
  q.marker = request.param("marker");
  auto add_sort = [&](const std::string& key, const std::string& dir) -> Status {
    if (sort_keys.count(key) == 0) {
      std::string known;
      for (const auto& k : sort_keys) known += (known.empty() ? "" : ", ") + k;
      return Status::Invalid("cannot sort by '" + key + "'; sort keys: " + known);
    }
    if (!dir.empty() && dir != "asc" && dir != "desc") {
      return Status::Invalid("sort direction must be asc or desc, got '" + dir + "'");
    }
    q.sort.emplace_back(key, dir == "asc");
    return Status::Ok();
  };
  if (request.has_param("sort")) {
    std::string sort = request.param("sort");
    size_t start = 0;
    while (start <= sort.size()) {
      size_t comma = sort.find(',', start);
      if (comma == std::string::npos) comma = sort.size();
      std::string item = sort.substr(start, comma - start);
      start = comma + 1;
      if (item.empty()) continue;
      size_t colon = item.find(':');
      RETURN_IF_ERROR(add_sort(item.substr(0, colon),
                               colon == std::string::npos ? "desc" : item.substr(colon + 1)));
    }
  } else if (request.has_param("sort_key")) {
    std::string dir = request.has_param("sort_dir") ? request.param("sort_dir") : "desc";
    RETURN_IF_ERROR(add_sort(request.param("sort_key"), dir));
  }
  if (q.sort.empty()) q.sort = {{"created_at", false}, {"id", false}};
  for (const auto& key : filter_keys) {
    if (request.has_param(key)) q.filters.emplace_back(key, request.param(key));
  }
  return q;
}

bool matches_filters(const Json& view, const ListQuery& query) {
  for (const auto& [key, value] : query.filters) {
    if (as_text(view.contains(key) ? view[key] : Json(nullptr)) != value) return false;
  }
  return true;
}

Result<Json> page_items(Json items, const ListQuery& query, bool* more) {
  Json kept = Json::array();
  for (auto& item : items) {
    if (matches_filters(item, query)) kept.push_back(std::move(item));
  }
  std::vector<Json> sorted(kept.begin(), kept.end());
  auto sort = query.sort;
  if (std::none_of(sort.begin(), sort.end(), [](const auto& s) { return s.first == "id"; })) {
    sort.emplace_back("id", false);  // a total order, so that markers work
  }
  std::stable_sort(sorted.begin(), sorted.end(), [&](const Json& a, const Json& b) {
    for (const auto& [key, asc] : sort) {
      int c = compare_by(a, b, key);
      if (c != 0) return asc ? c < 0 : c > 0;
    }
    return false;
  });
  size_t begin = 0;
  if (!query.marker.empty()) {
    auto it = std::find_if(sorted.begin(), sorted.end(),
                           [&](const Json& j) { return j.value("id", "") == query.marker; });
    if (it == sorted.end()) {
      return Status::Invalid("marker " + query.marker + " could not be found");
    }
    begin = static_cast<size_t>(it - sorted.begin()) + 1;
  }
  begin += query.offset;
  Json out = Json::array();
  *more = false;
  for (size_t i = begin; i < sorted.size(); ++i) {
    if (query.limit && out.size() >= *query.limit) {
      *more = true;
      break;
    }
    out.push_back(std::move(sorted[i]));
  }
  return out;
}

Json next_links(const Call& call, const std::string& collection, const ListQuery& query,
                const std::string& last_id) {
  std::string href = call.request.base_url + call.prefix + "/" + collection;
  if (!call.rest.empty() && call.rest.back() == "detail") href += "/detail";
  href += "?limit=" + std::to_string(query.limit.value_or(0)) + "&marker=" + url_encode(last_id);
  for (const auto& [key, value] : query.filters)
    href += "&" + url_encode(key) + "=" + url_encode(value);
  if (!query.sort.empty()) {
    std::string sort;
    for (const auto& [key, asc] : query.sort)
      sort += (sort.empty() ? "" : ",") + key + (asc ? ":asc" : ":desc");
    href += "&sort=" + url_encode(sort);
  }
  return Json::array({{{"rel", "next"}, {"href", href}}});
}

}  // namespace rbdvol::service::cinder
