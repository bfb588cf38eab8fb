// Loading the plugin through the C ABI, as a volume service does.
#include <catch2/catch.hpp>

#include "cli/plugin_host.h"

using rbdvol::cli::PluginHost;

TEST_CASE("a plugin built for another ABI version is refused with both versions named", "[abi]") {
  auto host = PluginHost::load(RBDVOL_WRONG_ABI_PLUGIN);
  REQUIRE_FALSE(host.ok());
  CHECK(host.status().err() == EPROTO);
  CHECK(host.status().message().find("ABI version 99") != std::string::npos);
  CHECK(host.status().message().find("needs ABI version 1") != std::string::npos);
  CHECK(host.status().message().find(RBDVOL_WRONG_ABI_PLUGIN) != std::string::npos);
}

TEST_CASE("a plugin whose table is shorter than the host's is refused", "[abi]") {
  auto host = PluginHost::load(RBDVOL_SHORT_TABLE_PLUGIN);
  REQUIRE_FALSE(host.ok());
  CHECK(host.status().err() == EPROTO);
  CHECK(host.status().message().find("table of 8 bytes") != std::string::npos);
}

TEST_CASE("a library without the entry point, or no library at all, is refused", "[abi]") {
  auto no_entry = PluginHost::load(RBDVOL_NOT_A_PLUGIN);
  REQUIRE_FALSE(no_entry.ok());
  CHECK(no_entry.status().err() == ENOEXEC);
  CHECK(no_entry.status().message().find("rbdvol_driver_entry") != std::string::npos);
  auto missing = PluginHost::load("/nonexistent/librbdvol_rbd.so");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().err() == ENOENT);
  CHECK(missing.status().message().find("/nonexistent/librbdvol_rbd.so") != std::string::npos);
}

TEST_CASE("the real plugin loads, and a bad config is refused through the ABI with file and line",
          "[abi]") {
  auto host = PluginHost::load(RBDVOL_PLUGIN_PATH);
  REQUIRE(host.ok());
  SECTION("a missing config file") {
    rbdvol::Status s = (*host)->open("/nonexistent/rbdvol.conf");
    REQUIRE_FALSE(s.ok());
    CHECK(s.err() == ENOENT);
    CHECK(s.message().find("/nonexistent/rbdvol.conf") != std::string::npos);
  }
  SECTION("an operation before open is refused, not crashed") {
    auto r = (*host)->call("backend.list", nlohmann::json::object());
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().err() == EINVAL);
  }
}
