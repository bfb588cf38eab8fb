// The pure parts of `rbdvol image upload --url`: the URL, HTTP errors, and
// the range arithmetic of a parallel ranged upload (cli/upload_ranges.h).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli/http_url.h"
#include "cli/upload_ranges.h"

using namespace rbdvol::cli;
using Ranges = std::vector<ByteRange>;

constexpr uint64_t KiB = 1024, MiB = 1024 * KiB;

TEST_CASE("ranges are merged sorted, touching and overlapping ones joined, empty ones dropped",
          "[ranged_upload]") {
  CHECK(merge_ranges({}) == Ranges{});
  CHECK(merge_ranges({{10, 5}, {0, 5}, {5, 0}, {5, 5}}) == Ranges{{0, 15}});
  CHECK(merge_ranges({{0, 10}, {2, 3}, {20, 1}}) == Ranges{{0, 10}, {20, 1}});
  CHECK(merge_ranges({{0, 10}, {5, 10}}) == Ranges{{0, 15}});
  CHECK(total_length({{0, 10}, {20, 1}}) == 11);
}

TEST_CASE("data extents are widened to whole chunks, the last one short at the file's end",
          "[ranged_upload]") {
  const uint64_t c = 4 * MiB;
  SECTION("within one chunk") {
    CHECK(round_out_to_chunks({{1, 1}}, c, 100 * MiB) == Ranges{{0, c}});
  }
  SECTION("across a chunk boundary") {
    CHECK(round_out_to_chunks({{c - 1, 2}}, c, 100 * MiB) == Ranges{{0, 2 * c}});
  }
  SECTION("already aligned") {
    CHECK(round_out_to_chunks({{c, c}}, c, 100 * MiB) == Ranges{{c, c}});
  }
  SECTION("extents in neighbouring chunks merge") {
    CHECK(round_out_to_chunks({{10, 1}, {c + 10, 1}, {5 * c, 1}}, c, 100 * MiB) ==
          Ranges{{0, 2 * c}, {5 * c, c}});
  }
  SECTION("the last chunk ends at the file's size") {
    const uint64_t size = 3 * c + 12345;
    CHECK(round_out_to_chunks({{3 * c + 5, 1}}, c, size) == Ranges{{3 * c, 12345}});
    CHECK(round_out_to_chunks({{0, size}}, c, size) == Ranges{{0, size}});
  }
  SECTION("an extent past the size is cut or left out") {
    CHECK(round_out_to_chunks({{c, 10 * c}}, c, 2 * c) == Ranges{{c, c}});
    CHECK(round_out_to_chunks({{5 * c, c}}, c, 2 * c) == Ranges{});
  }
}

TEST_CASE("what ranges leave uncovered of a file", "[ranged_upload]") {
  CHECK(uncovered({}, 100) == Ranges{{0, 100}});
  CHECK(uncovered({{0, 100}}, 100) == Ranges{});
  CHECK(uncovered({{10, 10}, {50, 10}}, 100) == Ranges{{0, 10}, {20, 30}, {60, 40}});
  CHECK(uncovered({{90, 50}}, 100) == Ranges{{0, 90}});
  CHECK(uncovered({}, 0) == Ranges{});
}

TEST_CASE("confirmed ranges are subtracted from what is to send", "[ranged_upload]") {
  SECTION("nothing confirmed") { CHECK(subtract_ranges({{0, 100}}, {}) == Ranges{{0, 100}}); }
  SECTION("all confirmed") { CHECK(subtract_ranges({{0, 100}}, {{0, 100}}) == Ranges{}); }
  SECTION("a hole punched in the middle") {
    CHECK(subtract_ranges({{0, 100}}, {{40, 20}}) == Ranges{{0, 40}, {60, 40}});
  }
  SECTION("the ends cut") {
    CHECK(subtract_ranges({{10, 80}}, {{0, 20}, {80, 50}}) == Ranges{{20, 60}});
  }
  SECTION("several ranges against several confirmed, unsorted") {
    CHECK(subtract_ranges({{200, 100}, {0, 100}}, {{250, 10}, {0, 10}, {90, 120}}) ==
          Ranges{{10, 80}, {210, 40}, {260, 40}});
  }
  SECTION("a confirmed range touching but not overlapping takes nothing") {
    CHECK(subtract_ranges({{10, 10}}, {{0, 10}, {20, 10}}) == Ranges{{10, 10}});
  }
}

TEST_CASE("ranges are cut into pieces that stay chunk-aligned", "[ranged_upload]") {
  const uint64_t c = 64 * KiB;
  CHECK(split_ranges({{0, 10 * c}}, 4 * c) == Ranges{{0, 4 * c}, {4 * c, 4 * c}, {8 * c, 2 * c}});
  CHECK(split_ranges({{c, c}, {5 * c, 3 * c + 7}}, 2 * c) ==
        Ranges{{c, c}, {5 * c, 2 * c}, {7 * c, c + 7}});
  CHECK(split_ranges({}, c) == Ranges{});
  for (const auto& p : split_ranges({{3 * c, 100 * c}}, 8 * c)) {
    CHECK(p.offset % c == 0);
    CHECK(p.length % c == 0);
    CHECK(p.length <= 8 * c);
  }
}

TEST_CASE("the piece size gives each connection about four pieces, within bounds",
          "[ranged_upload]") {
  const uint64_t c = 4 * MiB;
  // 1 GiB over 4 connections: 16 pieces of 64 MiB.
  CHECK(piece_size_for(1024 * MiB, 4, c) == 64 * MiB);
  // Never above 64 MiB.
  CHECK(piece_size_for(100 * 1024 * MiB, 4, c) == 64 * MiB);
  // 64 MiB over 4: 4 MiB pieces; never below a chunk.
  CHECK(piece_size_for(64 * MiB, 4, c) == 4 * MiB);
  CHECK(piece_size_for(1, 32, c) == c);
  CHECK(piece_size_for(0, 4, c) == c);
  // A multiple of an odd chunk size, and at most the largest such multiple in 64 MiB.
  const uint64_t odd = 3 * 64 * KiB;
  CHECK(piece_size_for(100 * MiB, 1, odd) % odd == 0);
  CHECK(piece_size_for(100 * 1024 * MiB, 1, odd) == (64 * MiB) / odd * odd);
  CHECK(piece_size_for(1024 * MiB, 1, 64 * MiB) == 64 * MiB);
}

TEST_CASE("an upload's plan: data chunks to send, empty chunks to zero, confirmed ones left out",
          "[ranged_upload]") {
  const uint64_t c = 4 * MiB, size = 64 * MiB + 100;
  SECTION("a fresh transfer") {
    auto plan = plan_upload({{5 * MiB, 10}, {40 * MiB - 1, 2}, {64 * MiB + 50, 50}}, size, c, {});
    CHECK(plan.data == Ranges{{4 * MiB, 4 * MiB}, {36 * MiB, 8 * MiB}, {64 * MiB, 100}});
    CHECK(plan.zero == Ranges{{0, 4 * MiB}, {8 * MiB, 28 * MiB}, {44 * MiB, 20 * MiB}});
    CHECK(plan.confirmed_bytes == 0);
    CHECK(total_length(plan.data) + total_length(plan.zero) == size);
  }
  SECTION("a resumed one sends and zeroes only what is not confirmed") {
    auto plan = plan_upload({{5 * MiB, 10}, {40 * MiB - 1, 2}}, size, c,
                            {{0, 4 * MiB}, {36 * MiB, 4 * MiB}, {60 * MiB, 4 * MiB + 100}});
    CHECK(plan.data == Ranges{{4 * MiB, 4 * MiB}, {40 * MiB, 4 * MiB}});
    CHECK(plan.zero == Ranges{{8 * MiB, 28 * MiB}, {44 * MiB, 16 * MiB}});
    CHECK(plan.confirmed_bytes == 12 * MiB + 100);
    CHECK(total_length(plan.data) + total_length(plan.zero) + plan.confirmed_bytes == size);
  }
  SECTION("everything confirmed: nothing to do") {
    auto plan = plan_upload({{0, size}}, size, c, {{0, size}});
    CHECK(plan.data.empty());
    CHECK(plan.zero.empty());
    CHECK(plan.confirmed_bytes == size);
  }
  SECTION("a confirmed range past the size counts only within it") {
    auto plan = plan_upload({}, size, c, {{60 * MiB, 100 * MiB}});
    CHECK(plan.confirmed_bytes == 4 * MiB + 100);
    CHECK(plan.zero == Ranges{{0, 60 * MiB}});
  }
  SECTION("a dense file") {
    auto plan = plan_upload({{0, size}}, size, c, {});
    CHECK(plan.data == Ranges{{0, size}});
    CHECK(plan.zero.empty());
  }
}

TEST_CASE("Content-Range names the first and last byte and the size", "[ranged_upload]") {
  CHECK(content_range({0, 4 * MiB}, 64 * MiB) == "bytes 0-4194303/67108864");
  CHECK(content_range({64 * MiB, 100}, 64 * MiB + 100) == "bytes 67108864-67108963/67108964");
  CHECK(content_range({7, 1}, 8) == "bytes 7-7/8");
}

TEST_CASE("a sparse file's data extents are read with SEEK_DATA and SEEK_HOLE", "[ranged_upload]") {
  char path[] = "/tmp/rbdvol-extents-XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  unlink(path);
  const uint64_t size = 64 * MiB;
  REQUIRE(ftruncate(fd, static_cast<off_t>(size)) == 0);
  SECTION("a file of holes has no data") {
    auto e = data_extents(fd, size);
    REQUIRE(e.ok());
    CHECK(e->empty());
  }
  SECTION("written places are data, within the file system's block") {
    const std::string block(4096, 'x');
    REQUIRE(pwrite(fd, block.data(), block.size(), 8 * MiB) == 4096);
    REQUIRE(pwrite(fd, block.data(), block.size(), 40 * MiB) == 4096);
    REQUIRE(pwrite(fd, block.data(), 10, static_cast<off_t>(size - 10)) == 10);
    auto e = data_extents(fd, size);
    REQUIRE(e.ok());
    REQUIRE(e->size() == 3);
    // A file system may allocate more than was written, never less.
    CHECK((*e)[0].offset <= 8 * MiB);
    CHECK((*e)[0].end() >= 8 * MiB + 4096);
    CHECK((*e)[0].end() <= 40 * MiB);
    CHECK((*e)[1].offset <= 40 * MiB);
    CHECK((*e)[1].end() >= 40 * MiB + 4096);
    CHECK((*e)[2].end() == size);
    CHECK(total_length(*e) < 8 * MiB);
    // And rounded to 4 MiB chunks: three chunks to send, the rest holes.
    auto plan = plan_upload(*e, size, 4 * MiB, {});
    CHECK(plan.data == Ranges{{8 * MiB, 4 * MiB}, {40 * MiB, 4 * MiB}, {60 * MiB, 4 * MiB}});
  }
  SECTION("only the first `size` bytes are looked at") {
    const std::string block(4096, 'x');
    REQUIRE(pwrite(fd, block.data(), block.size(), 32 * MiB) == 4096);
    auto e = data_extents(fd, 16 * MiB);
    REQUIRE(e.ok());
    CHECK(e->empty());
  }
  close(fd);
}

TEST_CASE("the image API's URL: scheme, host, port, and a base without /v2", "[ranged_upload]") {
  SECTION("host and port") {
    auto e = parse_http_url("http://127.0.0.1:9292");
    REQUIRE(e.ok());
    CHECK_FALSE(e->tls);
    CHECK(e->host == "127.0.0.1");
    CHECK(e->port == "9292");
    CHECK(e->base_path.empty());
    CHECK(e->host_header == "127.0.0.1:9292");
  }
  SECTION("a trailing / or /v2 or /v2/ is the same base") {
    for (const char* url : {"http://h:1/", "http://h:1/v2", "http://h:1/v2/", "http://h:1//"}) {
      CAPTURE(url);
      auto e = parse_http_url(url);
      REQUIRE(e.ok());
      CHECK(e->base_path.empty());
    }
  }
  SECTION("a prefix is kept") {
    auto e = parse_http_url("https://images.example/image/v2");
    REQUIRE(e.ok());
    CHECK(e->tls);
    CHECK(e->host == "images.example");
    CHECK(e->port == "443");
    CHECK(e->base_path == "/image");
    CHECK(e->host_header == "images.example");
  }
  SECTION("default port of http") {
    auto e = parse_http_url("http://h");
    REQUIRE(e.ok());
    CHECK(e->port == "80");
  }
  SECTION("IPv6") {
    auto e = parse_http_url("http://[::1]:9292/v2");
    REQUIRE(e.ok());
    CHECK(e->host == "::1");
    CHECK(e->port == "9292");
    CHECK(e->host_header == "[::1]:9292");
    auto d = parse_http_url("https://[fe80::1]");
    REQUIRE(d.ok());
    CHECK(d->port == "443");
  }
  SECTION("refused") {
    for (const char* url :
         {"ftp://h/", "h:9292", "http://", "http://:80", "http://h:", "http://h:x", "http://h:0",
          "http://h:65536", "http://h:123456", "http://u:p@h/", "http://h/?a=b", "http://h/#f",
          "http://h /", "http://h\n/", "http://[::1", "http://[::1]x"}) {
      CAPTURE(url);
      auto e = parse_http_url(url);
      REQUIRE_FALSE(e.ok());
      CHECK(e.status().err() == EINVAL);
    }
  }
}

TEST_CASE("a query value is percent-escaped byte by byte", "[ranged_upload]") {
  CHECK(query_escaped("plain-name_1.2~") == "plain-name_1.2~");
  CHECK(query_escaped("a b&c=d/e") == "a%20b%26c%3Dd%2Fe");
  CHECK(query_escaped("\xc3\xa9") == "%C3%A9");
  CHECK(query_escaped("%") == "%25");
}

TEST_CASE("an HTTP error answer becomes an errno and the server's message", "[ranged_upload]") {
  struct Row {
    unsigned status;
    int err;
  };
  const Row table[] = {{400, EINVAL}, {401, EACCES},       {403, EACCES},    {404, ENOENT},
                       {409, EBUSY},  {413, EFBIG},        {416, ERANGE},    {500, EIO},
                       {501, ENOSYS}, {503, EHOSTUNREACH}, {504, ETIMEDOUT}, {302, EPROTO},
                       {418, EPROTO}};
  for (const Row& row : table) {
    CAPTURE(row.status);
    CHECK(http_error(row.status, "", "GET /x").err() == row.err);
  }
  SECTION("Glance's error body") {
    auto s = http_error(
        409,
        R"({"error": {"message": "chunks 3-4 are confirmed", "code": 409, "title": "Conflict"}})",
        "PUT /v2/images/i/transfer");
    CHECK(s.message() == "PUT /v2/images/i/transfer: 409: chunks 3-4 are confirmed");
  }
  SECTION("Cinder's") {
    auto s = http_error(401, R"({"unauthorized": {"message": "bad token", "code": 401}})", "GET /");
    CHECK(s.message() == "GET /: 401: bad token");
  }
  SECTION("a body that is not JSON is quoted, cut") {
    auto s = http_error(502, std::string(500, 'z') + "\n", "GET /");
    CHECK(s.message() == "GET /: 502: " + std::string(200, 'z'));
    CHECK(http_error(500, "", "GET /").message() == "GET /: 500");
  }
}
