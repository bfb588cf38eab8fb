// The text conversions shared by the command, the plugin and the tests.
#include <catch2/catch.hpp>

#include <cstdint>

#include "text/byte_size.h"
#include "text/hex.h"
#include "text/monitor_address.h"

using namespace rbdvol::text;

TEST_CASE("human_bytes gives binary units with one decimal", "[text]") {
  CHECK(human_bytes(0) == "0 B");
  CHECK(human_bytes(1023) == "1023 B");
  CHECK(human_bytes(1024) == "1.0 KiB");
  CHECK(human_bytes(1536) == "1.5 KiB");
  CHECK(human_bytes(64ull << 20) == "64.0 MiB");
  CHECK(human_bytes(6442413056ull) == "6.0 GiB");
  CHECK(human_bytes(3ull << 50) == "3.0 PiB");
  CHECK(human_bytes(UINT64_MAX) == "16384.0 PiB");
}

TEST_CASE("hex_of writes two lowercase digits per byte", "[text]") {
  const unsigned char bytes[] = {0x00, 0x0f, 0xa0, 0xff, 0x5c};
  CHECK(hex_of(bytes, sizeof bytes) == "000fa0ff5c");
  CHECK(hex_of(bytes, 0).empty());
}

TEST_CASE("split_monitor_address reads the monitor map's and people's spellings", "[text]") {
  struct Row {
    const char* given;
    const char* host;
    const char* port;
  };
  for (const Row& row :
       {Row{"127.0.0.1:6789/0", "127.0.0.1", "6789"}, Row{"127.0.0.1:6789", "127.0.0.1", "6789"},
        Row{"[::1]:6790/0", "::1", "6790"}, Row{"[fe80::1]", "fe80::1", ""},
        Row{"fe80::1", "fe80::1", ""}, Row{"mon1.example", "mon1.example", ""},
        Row{"mon1:3300", "mon1", "3300"}}) {
    CAPTURE(row.given);
    auto m = split_monitor_address(row.given);
    REQUIRE(m.ok());
    CHECK(m->host == row.host);
    CHECK(m->port == row.port);
  }
  for (const char* bad : {"[::1:6789", "", ":6789"}) {
    CAPTURE(bad);
    auto m = split_monitor_address(bad);
    REQUIRE_FALSE(m.ok());
    CHECK(m.status().err() == EINVAL);
  }
}
