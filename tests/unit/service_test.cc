// rbdvold's pure parts: errno to HTTP, microversions, request targets,
// paging, auth tokens.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>

#include "service/api_request.h"
#include "service/auth.h"
#include "service/cinder/errors.h"
#include "service/cinder/microversion.h"
#include "service/cinder/paging.h"
#include "service/cinder/volume_listing.h"
#include "service/glance/image_transfer.h"
#include "service/http_server.h"

using namespace rbdvol;
using namespace rbdvol::service;
using namespace rbdvol::service::cinder;

TEST_CASE("a plugin errno becomes Cinder's status and fault", "[service]") {
  struct Row {
    int err;
    int status;
    std::string kind;
  };
  for (const Row& row :
       {Row{ENOENT, 404, "itemNotFound"}, Row{EINVAL, 400, "badRequest"},
        Row{EEXIST, 409, "conflictingRequest"}, Row{EBUSY, 409, "conflictingRequest"},
        Row{EAGAIN, 409, "conflictingRequest"}, Row{ENOSPC, 413, "overLimit"},
        Row{EDQUOT, 413, "overLimit"}, Row{EACCES, 403, "forbidden"},
        Row{EHOSTUNREACH, 503, "serviceUnavailable"}, Row{ETIMEDOUT, 503, "serviceUnavailable"},
        Row{ENOSYS, 501, "notImplemented"}, Row{EIO, 500, "computeFault"}}) {
    INFO("errno " << row.err);
    CHECK(http_error_for(row.err).status == row.status);
    CHECK(http_error_for(row.err).kind == row.kind);
    ApiResponse r = error_response(Status::Error(row.err, "volume x: what is wrong"));
    auto body = nlohmann::json::parse(r.body);
    CHECK(r.status == row.status);
    CHECK(body[row.kind]["code"] == row.status);
    CHECK(body[row.kind]["message"] == "volume x: what is wrong");
  }
}

TEST_CASE("the microversion comes from OpenStack-API-Version", "[service]") {
  CHECK(requested_microversion("")->text() == "3.0");
  CHECK(requested_microversion("volume 3.50")->text() == "3.50");
  CHECK(requested_microversion("Volume  3.27")->text() == "3.27");
  CHECK(requested_microversion("compute 2.1, volume 3.44")->text() == "3.44");
  CHECK(requested_microversion("compute 2.90")->text() == "3.0");
  CHECK(requested_microversion("volume latest")->minor == kMaxMinor);
  CHECK_FALSE(requested_microversion("volume 3.71"));
  CHECK_FALSE(requested_microversion("volume 2.0"));
  CHECK_FALSE(requested_microversion("volume 3"));
  CHECK_FALSE(requested_microversion("volume 3.x"));
  CHECK_FALSE(requested_microversion("volume 3.99999999999"));
}

TEST_CASE("request targets are split and decoded, hostile ones refused", "[service]") {
  ApiRequest r;
  REQUIRE(parse_target("/v3/p1/volumes/detail?limit=2&name=a+b&marker=x%2Fy", &r));
  CHECK(r.segments == std::vector<std::string>{"v3", "p1", "volumes", "detail"});
  CHECK(r.param("limit") == "2");
  CHECK(r.param("name") == "a b");
  CHECK(r.param("marker") == "x/y");
  REQUIRE(parse_target("/v3/volumes/..%2f..%2fetc", &r));
  CHECK(r.segments.back() == "../../etc");  // one segment: never a path
  CHECK_FALSE(parse_target("/v3/volumes/a%00b", &r));
  CHECK_FALSE(parse_target("/v3/volumes/a%0d%0ab", &r));
  CHECK_FALSE(parse_target("/v3/volumes/%1b", &r));
  CHECK_FALSE(parse_target("/v3/volumes/%zz", &r));
  CHECK_FALSE(parse_target("/v3/volumes/%4", &r));
  CHECK_FALSE(parse_target("v3/volumes", &r));
  CHECK_FALSE(parse_target("", &r));
}

TEST_CASE("log lines escape what a client sent", "[service]") {
  CHECK(printable("GET /a\r\nX: y\x1b[31m") == "GET /a\\x0d\\x0aX: y\\x1b[31m");
  CHECK(printable(std::string(300, 'a'), 10) == "aaaaaaaaaa...");
}

namespace {

ApiRequest with_query(const std::string& target) {
  ApiRequest r;
  REQUIRE(parse_target(target, &r));
  return r;
}

}  // namespace

TEST_CASE("lists are filtered, sorted and paged by marker and limit", "[service]") {
  Json items = Json::array();
  for (int i = 0; i < 5; ++i) {
    items.push_back({{"id", "id" + std::to_string(i)},
                     {"name", i % 2 ? "odd" : "even"},
                     {"size", 5 - i},
                     {"created_at", "2026-01-0" + std::to_string(i + 1)}});
  }
  bool more = false;
  SECTION("default order is newest first") {
    auto q = parse_list_query(with_query("/v3/volumes"), {"name"}, {"id", "size", "created_at"});
    REQUIRE(q.ok());
    auto page = page_items(items, *q, &more);
    REQUIRE(page.ok());
    CHECK((*page)[0]["id"] == "id4");
    CHECK_FALSE(more);
  }
  SECTION("limit and marker walk every item once") {
    std::vector<std::string> seen;
    std::string marker;
    for (int n = 0; n < 10; ++n) {
      auto q = parse_list_query(with_query("/v3/volumes?limit=2&sort=size:asc" +
                                           (marker.empty() ? "" : "&marker=" + marker)),
                                {"name"}, {"id", "size", "created_at"});
      REQUIRE(q.ok());
      auto page = page_items(items, *q, &more);
      REQUIRE(page.ok());
      for (const auto& v : *page) seen.push_back(v["id"]);
      if (!more) break;
      marker = page->back()["id"];
    }
    CHECK(seen == std::vector<std::string>{"id4", "id3", "id2", "id1", "id0"});
  }
  SECTION("filters match exactly") {
    auto q = parse_list_query(with_query("/v3/volumes?name=odd&sort=id:asc"), {"name"}, {"id"});
    REQUIRE(q.ok());
    auto page = page_items(items, *q, &more);
    REQUIRE(page.ok());
    REQUIRE(page->size() == 2);
    CHECK((*page)[0]["id"] == "id1");
  }
  SECTION("bad values are refused") {
    CHECK(parse_list_query(with_query("/v3/volumes?limit=-1"), {}, {"id"}).status().err() ==
          EINVAL);
    CHECK(
        parse_list_query(with_query("/v3/volumes?limit=99999999999"), {}, {"id"}).status().err() ==
        EINVAL);
    CHECK(parse_list_query(with_query("/v3/volumes?sort=evil:asc"), {}, {"id"}).status().err() ==
          EINVAL);
    CHECK(parse_list_query(with_query("/v3/volumes?sort=id:sideways"), {}, {"id"}).status().err() ==
          EINVAL);
    auto q = parse_list_query(with_query("/v3/volumes?marker=nope"), {}, {"id"});
    REQUIRE(q.ok());
    CHECK(page_items(items, *q, &more).status().err() == EINVAL);
  }
}

namespace {

// A volume as volume.list or the journal gives it, and a view of it with
// `status`.
ListedVolume listed(const std::string& id, const std::string& created_at,
                    const std::string& status = "available") {
  return {{{"id", id}, {"created_at", created_at}, {"size", uint64_t{1} << 30}},
          {{"id", id}, {"status", status}}};
}

std::vector<std::string> ids_of(const VolumePage& page) {
  std::vector<std::string> out;
  for (const auto& v : page.views) out.push_back(v["id"]);
  return out;
}

ListQuery volume_query(const std::string& target) {
  auto q = parse_list_query(with_query(target), {"name", "status"},
                            {"id", "name", "size", "created_at"});
  REQUIRE(q.ok());
  return *q;
}

}  // namespace

TEST_CASE("a directory page and the journal's volumes merge in one order", "[service]") {
  // The plugin's times end in Z, the journal's in .000000: the same order.
  const auto a = listed("a", "2026-12-05T08:00:01Z");
  const auto c = listed("c", "2026-12-05T08:00:03Z");
  const auto e = listed("e", "2026-12-05T08:00:05Z");
  const auto b = listed("b", "2026-12-05T08:00:02.000000", "creating");
  const auto d = listed("d", "2026-12-05T08:00:04.000000", "creating");

  SECTION("newest first, the journal's between the directory's") {
    auto page =
        merge_volume_page({e, c, a}, false, {b, d}, std::nullopt, volume_query("/v3/volumes"));
    CHECK(ids_of(page) == std::vector<std::string>{"e", "d", "c", "b", "a"});
    CHECK(page.next_marker.empty());
  }
  SECTION("a limit cuts the merged list and names the next marker") {
    auto page = merge_volume_page({e, c, a}, false, {b, d}, std::nullopt,
                                  volume_query("/v3/volumes?limit=2"));
    CHECK(ids_of(page) == std::vector<std::string>{"e", "d"});
    CHECK(page.next_marker == "d");
  }
  SECTION("when the directory left volumes out, no journal volume past its last is shown") {
    auto page =
        merge_volume_page({e, c}, true, {b, d}, std::nullopt, volume_query("/v3/volumes?limit=5"));
    CHECK(ids_of(page) == std::vector<std::string>{"e", "d", "c"});
    CHECK(page.next_marker == "c");
  }
  SECTION("after a marker, only the journal's volumes after it") {
    // The page after "e" (created_at desc): the directory gave c, a.
    auto page =
        merge_volume_page({c, a}, false, {b, d}, e.record, volume_query("/v3/volumes?marker=e"));
    CHECK(ids_of(page) == std::vector<std::string>{"d", "c", "b", "a"});
    page = merge_volume_page({a}, false, {b, d}, c.record, volume_query("/v3/volumes?marker=c"));
    CHECK(ids_of(page) == std::vector<std::string>{"b", "a"});
  }
  SECTION("a status filter looks at the view, the journal's status included") {
    const auto busy = listed("x", "2026-12-05T08:00:06Z", "extending");
    auto page = merge_volume_page({busy, e, c, a}, false, {b, d}, std::nullopt,
                                  volume_query("/v3/volumes?status=available&sort=id:asc"));
    CHECK(ids_of(page) == std::vector<std::string>{"a", "c", "e"});
  }
  SECTION("a page emptied by filters still leads on") {
    const auto busy = listed("x", "2026-12-05T08:00:06Z", "extending");
    auto page = merge_volume_page({busy}, true, {}, std::nullopt,
                                  volume_query("/v3/volumes?status=available&limit=1"));
    CHECK(page.views.empty());
    CHECK(page.next_marker == "x");
  }
  SECTION("ascending sizes, then ids") {
    auto big = listed("0", "2026-12-05T08:00:00Z");
    big.record["size"] = uint64_t{2} << 30;
    auto page = merge_volume_page({a, c, e, big}, false, {b, d}, std::nullopt,
                                  volume_query("/v3/volumes?sort=size:asc"));
    CHECK(ids_of(page) == std::vector<std::string>{"e", "d", "c", "b", "a", "0"});
  }
}

TEST_CASE("token auth: the file must be private, tokens must match", "[service]") {
  char path[] = "/tmp/rbdvold-tokens-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  {
    std::ofstream f(path);
    f << "# comment\n\nfirst-token\nsecond-token  \n";
  }
  config::Service s;
  s.auth_strategy = "token";
  s.token_file = path;
  chmod(path, 0644);
  CHECK(Authenticator::make(s, true).status().err() == EACCES);
  chmod(path, 0600);
  auto auth = Authenticator::make(s, false);
  REQUIRE(auth.ok());
  ApiRequest r;
  CHECK_FALSE(auth->allows(r));
  r.headers["x-auth-token"] = "first-token";
  CHECK(auth->allows(r));
  r.headers["x-auth-token"] = "second-token";
  CHECK(auth->allows(r));
  r.headers["x-auth-token"] = "first-toke";
  CHECK_FALSE(auth->allows(r));
  r.headers["x-auth-token"] = "# comment";
  CHECK_FALSE(auth->allows(r));
  std::remove(path);

  config::Service noauth;
  CHECK(Authenticator::make(noauth, true).ok());
  CHECK(Authenticator::make(noauth, false).status().err() == EINVAL);
}

TEST_CASE("a transfer's Content-Range is bytes FIRST-LAST/SIZE, nothing else", "[service]") {
  using rbdvol::service::glance::parse_content_range;
  auto r = parse_content_range("bytes 4194304-8388607/10485760");
  REQUIRE(r.ok());
  CHECK(r->first == 4194304);
  CHECK(r->last == 8388607);
  CHECK(r->size == 10485760);
  CHECK(r->length() == 4194304);
  CHECK(parse_content_range("bytes 0-0/1")->length() == 1);
  for (const char* bad :
       {"", "bytes */10", "bytes -1-5/10", "bytes 5-1/10", "bytes 0-5", "bytes 0-5/", "bytes 0-/10",
        "bytes=0-5/10", "items 0-5/10", "bytes +0-5/10", "bytes 0-5/1x", "bytes 0 - 5/10",
        "bytes 0-99999999999999999999/10", "bytes 0/5-10"}) {
    INFO(bad);
    auto p = parse_content_range(bad);
    REQUIRE_FALSE(p.ok());
    CHECK(p.status().err() == EINVAL);
  }
}
