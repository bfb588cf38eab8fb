#include <catch2/catch.hpp>

#include "plugin/ops/request.h"
#include "plugin/placement/placement.h"

using rbdvol::plugin::Candidate;
using rbdvol::plugin::pick_backend;

namespace {
Candidate cand(const char* id, double weight, uint64_t free_gib, bool holds = false,
               bool up = true) {
  Candidate c;
  c.backend = id;
  c.weight = weight;
  c.free_bytes = free_gib << 30;
  c.holds_source = holds;
  c.reachable = up;
  if (!up) c.unreachable_reason = std::string(id) + " timed out";
  return c;
}
}  // namespace

TEST_CASE("a backend that holds the source image wins over a larger one that does not",
          "[placement]") {
  auto p = pick_backend({cand("big", 10, 1000), cand("holder", 1, 1, true)}, true, "image X");
  REQUIRE(p.ok());
  CHECK(p->backend == "holder");
  CHECK(p->holds_source);
  CHECK(p->reason.find("already holds image X") != std::string::npos);
  REQUIRE(p->verdicts.size() == 2);
  CHECK_FALSE(p->verdicts[0].chosen);
  CHECK(p->verdicts[0].reason == "does not hold image X");
  CHECK(p->verdicts[1].chosen);
}

TEST_CASE("among equals the larger weight times free capacity wins", "[placement]") {
  SECTION("weight decides when free space is equal") {
    auto p = pick_backend({cand("a", 1, 100), cand("b", 2, 100)}, false, "");
    REQUIRE(p.ok());
    CHECK(p->backend == "b");
    CHECK_FALSE(p->holds_source);
  }
  SECTION("free space decides when weights are equal") {
    auto p = pick_backend({cand("a", 1, 300), cand("b", 1, 100)}, false, "");
    REQUIRE(p.ok());
    CHECK(p->backend == "a");
  }
  SECTION("the product decides: 2 x 100 beats 1 x 150") {
    auto p = pick_backend({cand("a", 1, 150), cand("b", 2, 100)}, false, "");
    REQUIRE(p.ok());
    CHECK(p->backend == "b");
  }
  SECTION("among several holders the product decides too") {
    auto p = pick_backend({cand("a", 1, 150, true), cand("b", 2, 100, true), cand("c", 9, 900)},
                          true, "image X");
    REQUIRE(p.ok());
    CHECK(p->backend == "b");
  }
  SECTION("a tie goes to the earlier backend") {
    auto p = pick_backend({cand("first", 1, 100), cand("second", 1, 100)}, false, "");
    REQUIRE(p.ok());
    CHECK(p->backend == "first");
  }
}

TEST_CASE("an unreachable backend is skipped and its reason kept", "[placement]") {
  auto p = pick_backend({cand("down", 9, 900, true, false), cand("up", 1, 1)}, true, "image X");
  REQUIRE(p.ok());
  CHECK(p->backend == "up");
  CHECK_FALSE(p->holds_source);  // the only holder is down: a copy is needed
  CHECK(p->verdicts[0].reason == "unreachable: down timed out");
}

TEST_CASE("no reachable backend is an error naming every reason", "[placement]") {
  auto p = pick_backend({cand("a", 1, 1, false, false), cand("b", 1, 1, false, false)}, false, "");
  REQUIRE_FALSE(p.ok());
  CHECK(p.status().err() == EHOSTUNREACH);
  CHECK(p.status().message().find("a: a timed out") != std::string::npos);
  CHECK(p.status().message().find("b: b timed out") != std::string::npos);
}

TEST_CASE("sizes are read with binary units and refused when malformed", "[request]") {
  using rbdvol::plugin::parse_size;
  CHECK(*parse_size("10G") == 10ULL << 30);
  CHECK(*parse_size("512M") == 512ULL << 20);
  CHECK(*parse_size("1GiB") == 1ULL << 30);
  CHECK(*parse_size("4096") == 4096);
  CHECK(*parse_size("2T") == 2ULL << 40);
  for (const char* bad :
       {"", "G", "0", "0G", "-1G", "10X", "1.5G", "10 G", "99999999999999999999", "17179869184T"}) {
    INFO(bad);
    auto r = parse_size(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().err() == EINVAL);
    CHECK(r.status().message().find(std::string("'") + bad + "'") != std::string::npos);
  }
}
