#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "plugin/ops/request.h"
#include "plugin/records/naming.h"

using rbdvol::plugin::check_name;
using rbdvol::plugin::kMaxVolumeBytes;
using rbdvol::plugin::new_uuid;
using rbdvol::plugin::optional_name;
using rbdvol::plugin::optional_volume_size;
using Json = nlohmann::json;

TEST_CASE("names with control characters, invalid UTF-8, no bytes or too many are refused",
          "[request]") {
  CHECK(check_name("volume", "db-01").ok());
  CHECK(check_name("volume", "données ünïcode ✓").ok());
  CHECK(check_name("volume", std::string(255, 'a')).ok());

  auto too_long = check_name("volume", std::string(256, 'a'));
  CHECK(too_long.err() == EINVAL);
  CHECK(too_long.message() == "volume name is 256 bytes long; at most 255 are allowed");

  auto empty = check_name("image", "");
  CHECK(empty.err() == EINVAL);
  CHECK(empty.message() == "image name is empty");

  SECTION("C0 and C1 control characters") {
    auto newline = check_name("volume", "a\nb");
    CHECK(newline.err() == EINVAL);
    CHECK(newline.message() ==
          "volume name holds the control character U+000A at byte 1; names may not hold "
          "control characters");
    CHECK(check_name("volume", "\x1b[31mred").message().find("U+001B at byte 0") !=
          std::string::npos);
    CHECK(check_name("volume", "del\x7f").err() == EINVAL);
    CHECK(check_name("volume", std::string("nul\0x", 5)).err() == EINVAL);
    // U+009B, the one-byte CSI of some terminals, written as UTF-8.
    CHECK(check_name("volume", "csi\xc2\x9b").message().find("U+009B") != std::string::npos);
  }
  SECTION("bytes that are not UTF-8") {
    CHECK(check_name("volume", "\xff").message() == "volume name is not valid UTF-8 (at byte 0)");
    CHECK(check_name("volume", "ab\xc3").message() == "volume name is not valid UTF-8 (at byte 2)");
    CHECK(check_name("volume", "\xc0\xaf").err() == EINVAL);          // overlong '/'
    CHECK(check_name("volume", "\xed\xa0\x80").err() == EINVAL);      // a surrogate
    CHECK(check_name("volume", "\xf4\x90\x80\x80").err() == EINVAL);  // past U+10FFFF
  }
}

TEST_CASE("a name field is optional, but an empty or hostile one is refused", "[request]") {
  CHECK(optional_name(Json::object(), "name", "volume").value().empty());
  CHECK(optional_name(Json{{"name", nullptr}}, "name", "volume").value().empty());
  CHECK(optional_name(Json{{"name", "x"}}, "name", "volume").value() == "x");
  CHECK(optional_name(Json{{"name", ""}}, "name", "volume").status().message() ==
        "volume name is empty");
  CHECK(optional_name(Json{{"name", 3}}, "name", "volume").status().err() == EINVAL);
}

TEST_CASE("volume sizes are whole sectors and at most what an RBD object map covers", "[request]") {
  auto size = [](Json v) { return optional_volume_size(Json{{"size", v}}, "size"); };
  CHECK(*size("1G").value() == 1ULL << 30);
  CHECK(*size(512).value() == 512);
  CHECK(*size(kMaxVolumeBytes).value() == kMaxVolumeBytes);
  CHECK(!optional_volume_size(Json::object(), "size").value().has_value());

  CHECK(size("1B").status().message() ==
        "request field 'size': size 1 bytes is not a multiple of 512 (a disk sector)");
  CHECK(size("513B").status().err() == EINVAL);
  CHECK(size(kMaxVolumeBytes + 512)
            .status()
            .message()
            .find("is larger than the largest volume, 1073741824000000 bytes (976.5 TiB") !=
        std::string::npos);
  CHECK(size("16384T").status().err() == EINVAL);
  CHECK(size("18446744073709551615B").status().err() == EINVAL);
  CHECK(size("18446744073709551616B").status().err() == EINVAL);
  CHECK(size("0").status().err() == EINVAL);
}

TEST_CASE("ids are version 4 uuids that do not repeat", "[naming]") {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    const std::string id = new_uuid();
    REQUIRE(rbdvol::plugin::is_uuid(id));
    CHECK(id[14] == '4');
    CHECK(std::string("89ab").find(id[19]) != std::string::npos);
    seen.insert(id);
  }
  CHECK(seen.size() == 10000);
}

TEST_CASE("a size field takes a non-negative JSON integer or a size text", "[request]") {
  auto size = [](Json v) { return rbdvol::plugin::optional_size(Json{{"size", v}}, "size"); };
  CHECK(*size(4096).value() == 4096);  // a signed JSON integer, as a host may build it
  CHECK(*size(Json::parse("4096")).value() == 4096);
  CHECK(size(-512).status().message() == "request field 'size' must not be negative");
  CHECK(size(1.5).status().err() == EINVAL);
  CHECK(size(true).status().err() == EINVAL);
}
