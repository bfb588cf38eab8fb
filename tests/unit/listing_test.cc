// The listing's pure parts (records/directory.h): the request's filters,
// sort and page, and the shard a key lands in.
#include <catch2/catch.hpp>

#include <set>

#include "plugin/records/directory.h"

using nlohmann::json;
using rbdvol::plugin::apply_listing_page;
using rbdvol::plugin::directory_shard_of;
using rbdvol::plugin::DirectoryKind;
using rbdvol::plugin::ListingQuery;
using rbdvol::plugin::parse_listing_query;

namespace {

const std::vector<ListingQuery::Key> kByName = {{"name"}, {"id"}};

ListingQuery query(const json& request, bool volumes = true) {
  auto q = parse_listing_query(request, kByName, volumes);
  INFO(q.status().message());
  REQUIRE(q.ok());
  return *q;
}

std::vector<json> items(int n) {
  std::vector<json> out;
  for (int i = 0; i < n; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "id%02d", i);
    // Names repeat (every third), sizes run backwards, times forwards.
    out.push_back({{"id", id},
                   {"name", "vol" + std::to_string(i % 3)},
                   {"size", uint64_t(1000 - i)},
                   {"created_at", "2026-12-05T00:00:" + std::string(i < 10 ? "0" : "") +
                                      std::to_string(i) + "Z"}});
  }
  return out;
}

std::vector<std::string> ids_of(const std::vector<json>& page) {
  std::vector<std::string> out;
  for (const auto& j : page) out.push_back(j.at("id"));
  return out;
}

// Every page of `all` under `q` (limit set), following next_marker.
std::vector<std::string> walk(ListingQuery q, const std::vector<json>& all, int* pages) {
  std::vector<std::string> seen;
  *pages = 0;
  for (;;) {
    auto page = all;
    std::string next;
    REQUIRE(apply_listing_page(q, &page, &next).ok());
    ++*pages;
    for (auto& id : ids_of(page)) seen.push_back(id);
    if (next.empty()) return seen;
    REQUIRE(page.size() == q.limit);
    REQUIRE(next == page.back().at("id"));
    q.marker = next;
    REQUIRE(*pages < 100);
  }
}

}  // namespace

TEST_CASE("an empty listing is one empty page without a next marker") {
  std::vector<json> none;
  std::string next = "stale";
  REQUIRE(apply_listing_page(query({{"limit", 5}}), &none, &next).ok());
  REQUIRE(none.empty());
  REQUIRE(next.empty());
}

TEST_CASE("exactly one page's worth gives one page and no next marker") {
  auto all = items(5);
  std::string next;
  REQUIRE(apply_listing_page(query({{"limit", 5}}), &all, &next).ok());
  REQUIRE(all.size() == 5);
  REQUIRE(next.empty());
}

TEST_CASE("pages follow each other through the marker, each item once") {
  const auto all = items(10);
  for (uint64_t limit : {1, 3, 4, 9, 10, 11}) {
    INFO("limit " << limit);
    ListingQuery q = query({{"limit", limit}});
    int pages = 0;
    auto seen = walk(q, all, &pages);
    REQUIRE(seen.size() == 10);
    REQUIRE(std::set<std::string>(seen.begin(), seen.end()).size() == 10);
    REQUIRE(pages == static_cast<int>((10 + limit - 1) / limit));
  }
}

TEST_CASE("a marker at the last item gives an empty page") {
  auto all = items(4);
  auto sorted = all;
  std::string next;
  REQUIRE(apply_listing_page(query({}), &sorted, &next).ok());
  ListingQuery q = query({{"limit", 2}});
  q.marker = sorted.back().at("id");
  REQUIRE(apply_listing_page(q, &all, &next).ok());
  REQUIRE(all.empty());
  REQUIRE(next.empty());
}

TEST_CASE("an unknown marker is EINVAL naming it") {
  auto all = items(4);
  ListingQuery q = query({{"marker", "no-such-id"}});
  std::string next;
  auto s = apply_listing_page(q, &all, &next);
  REQUIRE(s.err() == EINVAL);
  REQUIRE(s.message().find("no-such-id") != std::string::npos);
}

TEST_CASE("sorting by name, then id, by created_at descending, and by size") {
  auto all = items(6);  // names vol0 vol1 vol2 vol0 vol1 vol2
  auto by_name = all;
  std::string next;
  REQUIRE(apply_listing_page(query({}), &by_name, &next).ok());
  REQUIRE(ids_of(by_name) ==
          std::vector<std::string>{"id00", "id03", "id01", "id04", "id02", "id05"});

  auto newest_first = all;
  REQUIRE(apply_listing_page(query({{"sort", "created_at:desc"}}), &newest_first, &next).ok());
  REQUIRE(ids_of(newest_first) ==
          std::vector<std::string>{"id05", "id04", "id03", "id02", "id01", "id00"});

  auto smallest_first = all;  // sizes are numbers: 995 < 1000
  REQUIRE(apply_listing_page(query({{"sort", "size:asc"}}), &smallest_first, &next).ok());
  REQUIRE(smallest_first.front().at("id") == "id05");

  auto two_keys = all;
  REQUIRE(
      apply_listing_page(query({{"sort", "name:desc,created_at:desc"}}), &two_keys, &next).ok());
  REQUIRE(ids_of(two_keys) ==
          std::vector<std::string>{"id05", "id02", "id04", "id01", "id03", "id00"});
}

TEST_CASE("the request's listing fields are checked, each error naming its field") {
  struct Bad {
    json request;
    std::string names;
  };
  for (const auto& bad : std::vector<Bad>{{{{"limit", 0}}, "limit"},
                                          {{{"limit", -3}}, "limit"},
                                          {{{"limit", "10"}}, "limit"},
                                          {{{"marker", 7}}, "marker"},
                                          {{{"sort", "colour"}}, "colour"},
                                          {{{"sort", "name:sideways"}}, "sideways"},
                                          {{{"status", "lost"}}, "status"},
                                          {{{"name", json::array()}}, "name"}}) {
    INFO(bad.request.dump());
    auto q = parse_listing_query(bad.request, kByName, true);
    REQUIRE(q.status().err() == EINVAL);
    REQUIRE(q.status().message().find(bad.names) != std::string::npos);
  }
  // Volume-only filters are not read for images.
  REQUIRE(parse_listing_query({{"status", "lost"}}, kByName, false).ok());
}

TEST_CASE("keys spread over every shard, each key always to the same one") {
  std::set<int> used;
  for (int i = 0; i < 2000; ++i) {
    const std::string key = "3f1c2a4e-0000-4000-8000-" + std::to_string(100000000000 + i);
    const int shard = directory_shard_of(key);
    REQUIRE(shard >= 0);
    REQUIRE(shard < rbdvol::plugin::kDirectoryShards);
    REQUIRE(directory_shard_of(key) == shard);
    used.insert(shard);
  }
  REQUIRE(used.size() == static_cast<size_t>(rbdvol::plugin::kDirectoryShards));
  // Fixed values: a shard a key was written to is where every later rbdvol
  // looks for it (FNV-1a, not std::hash, which may differ between builds).
  REQUIRE(directory_shard_of("") == static_cast<int>(2166136261u % 32));
  REQUIRE(rbdvol::plugin::directory_shard_oid(DirectoryKind::kVolumes, "") ==
          "rbdvol_volume_directory." + std::to_string(2166136261u % 32));
}
