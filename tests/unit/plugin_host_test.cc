// Loading the plugin through the C ABI, as a volume service does.
#include <catch2/catch.hpp>

#include <stdlib.h>
#include <unistd.h>

#include "host/plugin_host.h"

using rbdvol::host::PluginHost;

TEST_CASE("a plugin built for another ABI version is refused with both versions named", "[abi]") {
  auto host = PluginHost::load(RBDVOL_WRONG_ABI_PLUGIN);
  REQUIRE_FALSE(host.ok());
  CHECK(host.status().err() == EPROTO);
  CHECK(host.status().message().find("ABI version 99") != std::string::npos);
  CHECK(host.status().message().find("needs ABI version 1") != std::string::npos);
  CHECK(host.status().message().find(RBDVOL_WRONG_ABI_PLUGIN) != std::string::npos);
}

TEST_CASE("a plugin whose table is shorter than the first ABI-1 table is refused, sizes named",
          "[abi]") {
  auto host = PluginHost::load(RBDVOL_SHORT_TABLE_PLUGIN);
  REQUIRE_FALSE(host.ok());
  CHECK(host.status().err() == EPROTO);
  CHECK(host.status().message().find("table of 8 bytes") != std::string::npos);
  CHECK(host.status().message().find("shorter than the " +
                                     std::to_string(RBDVOL_DRIVER_OPS_V1_SIZE) +
                                     " bytes of the first ABI-1 table") != std::string::npos);
}

TEST_CASE("a plugin whose table is exactly the first ABI-1 table, or longer, is accepted",
          "[abi]") {
  for (const char* path : {RBDVOL_EXACT_V1_TABLE_PLUGIN, RBDVOL_LONG_TABLE_PLUGIN}) {
    CAPTURE(path);
    auto host = PluginHost::load(path);
    REQUIRE(host.ok());
    // The host calls through the table it accepted: the stand-in's open()
    // refuses on purpose with its own message.
    rbdvol::Status s = (*host)->open("/any/config");
    REQUIRE_FALSE(s.ok());
    CHECK(s.err() == ENOSYS);
    CHECK(s.message() == "stand-in plugin: open refused on purpose");
  }
}

TEST_CASE("RBDVOL_DRIVER_OPS_HAS says whether a table is long enough for a member", "[abi]") {
  rbdvol_driver_ops ops{};
  ops.abi_version = RBDVOL_DRIVER_ABI_VERSION;
  ops.struct_size = static_cast<uint32_t>(RBDVOL_DRIVER_OPS_V1_SIZE);
  CHECK(RBDVOL_DRIVER_OPS_HAS(&ops, open));
  CHECK(RBDVOL_DRIVER_OPS_HAS(&ops, free_string));
  ops.struct_size = static_cast<uint32_t>(offsetof(rbdvol_driver_ops, free_string));
  CHECK(RBDVOL_DRIVER_OPS_HAS(&ops, call));
  CHECK_FALSE(RBDVOL_DRIVER_OPS_HAS(&ops, free_string));
  ops.struct_size = 8;
  CHECK_FALSE(RBDVOL_DRIVER_OPS_HAS(&ops, open));
  // The first ABI-1 table ends with free_string, whatever is appended later.
  CHECK(RBDVOL_DRIVER_OPS_V1_SIZE ==
        offsetof(rbdvol_driver_ops, free_string) + sizeof(ops.free_string));
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

TEST_CASE("a driver opened without a config checksums a file and refuses what needs a backend",
          "[abi]") {
  auto host = PluginHost::load(RBDVOL_PLUGIN_PATH);
  REQUIRE(host.ok());
  REQUIRE((*host)->open_without_config().ok());

  char path[] = "/tmp/rbdvol-abi-XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  const std::string bytes(5000, 'x');
  REQUIRE(write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
  close(fd);
  auto sum = (*host)->call("image.checksum", {{"path", path}, {"chunk_size", 4096}});
  unlink(path);
  REQUIRE(sum.ok());
  // Two chunks: 4096 bytes of 'x', then 904 of them (the last chunk is short).
  CHECK(sum->at("chunks") == 2);
  CHECK(sum->at("checksum").get<std::string>().rfind("sha256-chunks-4096:", 0) == 0);

  for (const char* op : {"backend.list", "image.list", "volume.create"}) {
    auto r = (*host)->call(op, nlohmann::json::object());
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().err() == EINVAL);
    CHECK(r.status().message() ==
          std::string(op) + " needs a config: the driver was opened without one");
  }
}

TEST_CASE("call_stream on a plugin whose table predates it is EOPNOTSUPP naming the plugin",
          "[abi]") {
  auto host = PluginHost::load(RBDVOL_EXACT_V1_TABLE_PLUGIN);
  REQUIRE(host.ok());
  CHECK_FALSE((*host)->has_call_stream());
  auto r = (*host)->call_stream("image.write", nlohmann::json::object(), nullptr, nullptr);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().err() == EOPNOTSUPP);
  CHECK(r.status().message().find(RBDVOL_EXACT_V1_TABLE_PLUGIN) != std::string::npos);
  // A longer table has it.
  auto longer = PluginHost::load(RBDVOL_LONG_TABLE_PLUGIN);
  REQUIRE(longer.ok());
  CHECK((*longer)->has_call_stream());
}

TEST_CASE("call_stream runs any operation, and the streaming ones only through it", "[abi]") {
  auto host = PluginHost::load(RBDVOL_PLUGIN_PATH);
  REQUIRE(host.ok());
  REQUIRE((*host)->has_call_stream());
  REQUIRE((*host)->open_without_config().ok());
  char path[] = "/tmp/rbdvol-abi-XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  const std::string bytes(5000, 'x');
  REQUIRE(write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
  close(fd);
  auto sum = (*host)->call_stream("image.checksum", {{"path", path}, {"chunk_size", 4096}}, nullptr,
                                  nullptr);
  unlink(path);
  REQUIRE(sum.ok());
  CHECK(sum->at("chunks") == 2);
  // Without a config a stream operation is refused before it reads a byte.
  bool read = false;
  auto w = (*host)->call_stream(
      "image.write", {{"id", "x"}, {"offset", 0}},
      [&](void*, uint64_t) -> int64_t {
        read = true;
        return 0;
      },
      nullptr);
  REQUIRE_FALSE(w.ok());
  CHECK(w.status().err() == EINVAL);
  CHECK_FALSE(read);
}
