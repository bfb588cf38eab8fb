#include "tests/unit/plugin_test_env.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "config/config.h"
#include "plugin/abi/operation_table.h"
#include "plugin/ceph/rbd_image.h"
#include "plugin/records/naming.h"
#include "plugin/transfer/chunk_record.h"

namespace rbdvol::plugin::testing {

namespace {

const char* kConfig = R"(
[fast]
ceph_conf = /memory/fast.conf
volume_pool = volumes
image_pool = images
tags = media:ssd
weight = 2
libvirt_secret_uuid = 5f0c3a56-1b2c-4d5e-8f90-a1b2c3d4e5f6

[capacity]
ceph_conf = /memory/capacity.conf
volume_pool = volumes
image_pool = images
tags = media:hdd
weight = 1
libvirt_secret_uuid = 0d1e2f30-4a5b-4c6d-8e7f-901a2b3c4d5e

[disk_type:ssd]
tags = media:ssd

[disk_type:hdd]
tags = media:hdd

[disk_type:shared]
tags = media:ssd
multiattach = true
)";

}  // namespace

PluginTest::PluginTest(const std::string& defaults) {
  env.add_cluster(kFast, {"volumes", "images"});
  env.add_cluster(kCapacity, {"volumes", "images"});
  const std::string text =
      "[DEFAULT]\nenabled_backends = fast, capacity\ndefault_backend = fast\n" + defaults + "\n" +
      kConfig;
  config_text_ = text;
  driver = another_process();
  char dir[] = "/tmp/rbdvol-plugin-test-XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  dir_ = dir;
}

std::unique_ptr<Driver> PluginTest::another_process() {
  auto config = config::parse_config(config_text_, "memory.conf");
  INFO((config.ok() ? std::string() : config.status().message()));
  REQUIRE(config.ok());
  return Driver::open_with_env(std::move(config).value(), env);
}

PluginTest::~PluginTest() {
  driver.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

Result<Json> PluginTest::run(Operation op, const Json& request) {
  return op(*driver, request, Progress());
}

Json PluginTest::ok(Operation op, const Json& request) {
  auto answer = run(op, request);
  INFO(request.dump() << " -> " << (answer.ok() ? std::string("ok") : answer.status().message()));
  REQUIRE(answer.ok());
  return *answer;
}

Result<Json> PluginTest::call(const std::string& op, const Json& request) {
  return call_operation(*driver, op, request, Progress());
}

Json PluginTest::call_ok(const std::string& op, const Json& request) {
  auto answer = call(op, request);
  INFO(op << " " << request.dump() << " -> "
          << (answer.ok() ? std::string("ok") : answer.status().message()));
  REQUIRE(answer.ok());
  return *answer;
}

std::vector<std::string> PluginTest::finding_kinds(const Json& check) {
  std::vector<std::string> kinds;
  for (const auto& f : check["findings"]) kinds.push_back(f["kind"]);
  std::sort(kinds.begin(), kinds.end());
  return kinds;
}

std::string PluginTest::volume(const std::string& disk_type, const std::string& size) {
  return ok(volume_create, {{"disk_type", disk_type}, {"size", size}, {"name", "v"}})["id"];
}

std::string PluginTest::file(uint64_t size) {
  static int n = 0;
  const std::string path = dir_ + "/file" + std::to_string(n++) + ".raw";
  std::ofstream out(path, std::ios::binary);
  std::string block(4096, '\0');
  for (uint64_t at = 0; at < size; at += block.size()) {
    // A pattern that names its offset; the second MiB is a hole.
    const bool hole = at >= (1 << 20) && at < (2 << 20);
    for (size_t i = 0; i < block.size(); ++i) {
      block[i] = hole ? '\0' : static_cast<char>('a' + (at / 4096 + i) % 26);
    }
    out.write(block.data(), static_cast<std::streamsize>(std::min<uint64_t>(4096, size - at)));
  }
  out.close();
  REQUIRE(out.good());
  return path;
}

std::string PluginTest::image(const std::string& backend, uint64_t size) {
  return ok(image_upload, {{"path", file(size)}, {"name", "img"}, {"backend", backend}})["id"];
}

void PluginTest::make_dead_partial(const std::string& backend, const std::string& image) {
  auto io = driver->cluster(backend)->open_image_pool();
  REQUIRE(io.ok());
  const std::string rbd = kImagePrefix + image;
  {
    auto opened = open_image(**io, rbd, false);
    REQUIRE(opened.ok());
    REQUIRE((*opened)->metadata_remove(meta::kComplete).ok());
  }
  auto header = read_chunk_record_header(**io, rbd);
  REQUIRE(header.ok());
  REQUIRE(header->has_value());
  ChunkRecordHeader h = **header;
  h.state = "incomplete";
  h.completed_at.clear();
  // This host, a pid no process has (above any pid_max), whose client still
  // holds the image's lock, as a kill leaves it.
  const std::string self = this_process_owner();
  h.owner = self.substr(0, self.rfind(':')) + ":2147483647";
  h.client = env.leave_dead_lock(backend == "fast" ? kFast : kCapacity, "images", rbd);
  REQUIRE(!h.client.empty());
  REQUIRE(write_chunk_record_header(**io, rbd, h, false).ok());
}

std::string PluginTest::record_owner(const std::string& backend, const std::string& image) {
  auto io = driver->cluster(backend)->open_image_pool();
  REQUIRE(io.ok());
  auto header = read_chunk_record_header(**io, kImagePrefix + image);
  REQUIRE(header.ok());
  return header->has_value() ? (*header)->owner : std::string();
}

}  // namespace rbdvol::plugin::testing
