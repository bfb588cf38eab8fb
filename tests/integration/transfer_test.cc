// Streamed transfers through the plugin's ABI (call_stream: image.transfer_begin,
// image.write, image.transfer_zero, image.transfer_finish, image.read)
// against the sandbox's real clusters, as rbdvold's image API drives them.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "host/plugin_host.h"
#include "tests/integration/sandbox.h"

using namespace rbdvol::test;
using rbdvol::host::PluginHost;

namespace {

constexpr uint64_t kChunk = 4 << 20;  // the clusters' default object size

std::string random_bytes(uint64_t size, uint32_t seed) {
  std::mt19937_64 gen(seed);
  std::string out(size, '\0');
  for (uint64_t i = 0; i + 8 <= size; i += 8) {
    const uint64_t v = gen();
    std::memcpy(&out[i], &v, 8);
  }
  for (uint64_t i = size & ~uint64_t{7}; i < size; ++i) out[i] = static_cast<char>(gen() | 1);
  return out;
}

std::unique_ptr<PluginHost> open_plugin() {
  const char* config = std::getenv("RBDVOL_CONFIG");
  REQUIRE(config != nullptr);
  auto host = PluginHost::load(RBDVOL_PLUGIN_PATH);
  REQUIRE(host.ok());
  REQUIRE((*host)->has_call_stream());
  REQUIRE((*host)->open(config).ok());
  return std::move(host).value();
}

// Writes `data` at `offset` of transfer `id`, handed out in pieces of an odd
// size, as an HTTP body arrives.
rbdvol::Result<nlohmann::json> write_range(PluginHost& host, const std::string& id, uint64_t offset,
                                           const std::string& data) {
  size_t at = 0;
  return host.call_stream(
      "image.write", {{"id", id}, {"offset", offset}},
      [&](void* buf, uint64_t len) -> int64_t {
        const size_t n = std::min<size_t>({len, 100003, data.size() - at});
        std::memcpy(buf, data.data() + at, n);
        at += n;
        return static_cast<int64_t>(n);
      },
      nullptr);
}

std::string file_content(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// `rbd export` of pool/image of backend `b` into a new file: its content.
std::string rbd_export(const rbdvol::config::Backend& b, const std::string& pool,
                       const std::string& image) {
  char path[] = "/tmp/rbdvol-transfer-export-XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  unlink(path);
  CommandResult r = run({"rbd", "-c", b.ceph_conf, "--id", b.rbd_user, "--keyring", b.keyring,
                         "export", pool + "/" + image, path});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::string content = file_content(path);
  unlink(path);
  return content;
}

}  // namespace

TEST_CASE("a transfer written from two threads out of order, with a hole, finishes and reads back",
          "[integration][transfer]") {
  auto host = open_plugin();
  const auto& config = sandbox_config();
  const std::string backend = config.default_backend;
  const rbdvol::config::Backend* b = config.find_backend(backend);
  REQUIRE(b != nullptr);
  const uint64_t size = 6 * kChunk + 12345;
  std::string bytes = random_bytes(size, 19);
  std::fill(bytes.begin() + 2 * kChunk, bytes.begin() + 3 * kChunk, '\0');

  auto begun =
      host->call("image.transfer_begin",
                 {{"name", "transfer-test-two-writers"}, {"size", size}, {"backend", backend}});
  REQUIRE(begun.ok());
  const std::string id = begun->at("id");
  const std::string rbd_name = begun->at("rbd_name");
  REQUIRE(begun->at("chunk_size") == kChunk);
  // Lock features off while it is written.
  CephView ceph(backend);
  CHECK((ceph.features(b->image_pool, rbd_name) & (1u << 2)) == 0);  // exclusive-lock

  REQUIRE(
      host->call("image.transfer_zero", {{"id", id}, {"offset", 2 * kChunk}, {"length", kChunk}})
          .ok());
  auto refused = host->call("image.transfer_finish", {{"id", id}, {"size", size}});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().err() == EAGAIN);
  CHECK(refused.status().message().find("[0, 8388608), [12582912, 25178169)") != std::string::npos);

  // The second range first, both at once from two threads.
  rbdvol::Result<nlohmann::json> high = rbdvol::Status::Ok(), low = rbdvol::Status::Ok();
  std::thread second([&] { high = write_range(*host, id, 3 * kChunk, bytes.substr(3 * kChunk)); });
  std::thread first([&] { low = write_range(*host, id, 0, bytes.substr(0, 2 * kChunk)); });
  second.join();
  first.join();
  REQUIRE(high.ok());
  REQUIRE(low.ok());
  CHECK(high->at("chunks") == nlohmann::json::array({3, 6}));
  CHECK(low->at("chunks") == nlohmann::json::array({0, 1}));
  auto status = host->call("image.transfer_status", {{"id", id}});
  REQUIRE(status.ok());
  CHECK(status->at("confirmed") == nlohmann::json::array({nlohmann::json::array({0, size})}));

  auto done = host->call("image.transfer_finish", {{"id", id}, {"size", size}, {"hash", "sha256"}});
  INFO((done.ok() ? std::string() : done.status().message()));
  REQUIRE(done.ok());
  CHECK(done->at("hash_algo") == "sha256");
  CHECK(ceph.metadata(b->image_pool, rbd_name, "rbdvol.sha256") == done->at("hash_value"));
  CHECK((ceph.features(b->image_pool, rbd_name) & (1u << 2)) != 0);  // back on
  CHECK(ceph.size(b->image_pool, rbd_name) == size);

  std::string back;
  auto read =
      host->call_stream("image.read", {{"id", id}}, nullptr, [&](const void* buf, uint64_t len) {
        back.append(static_cast<const char*>(buf), len);
        return 0;
      });
  REQUIRE(read.ok());
  CHECK(back.size() == size);
  CHECK(back == bytes);
  CHECK(rbd_export(*b, b->image_pool, rbd_name) == bytes);
  auto shown = host->call("image.show", {{"id", id}});
  REQUIRE(shown.ok());
  CHECK(shown->at("size") == size);

  REQUIRE(host->call("image.delete", {{"id", id}}).ok());
  CHECK_FALSE(ceph.image_exists(b->image_pool, rbd_name));
}

TEST_CASE(
    "a write killed by image.write:kill-after-chunk leaves a partial that image partials "
    "lists and image delete removes",
    "[integration][transfer]") {
  auto host = open_plugin();
  const auto& config = sandbox_config();
  const std::string backend = config.default_backend;
  const rbdvol::config::Backend* b = config.find_backend(backend);
  REQUIRE(b != nullptr);
  auto begun =
      host->call("image.transfer_begin", {{"name", "transfer-test-killed"}, {"size", 8 * kChunk}});
  REQUIRE(begun.ok());
  const std::string id = begun->at("id");
  const std::string rbd_name = begun->at("rbd_name");
  CephView ceph(backend);

  // The C host streams stdin into image.write, and dies after two chunks.
  TempFile data(8 * kChunk);
  const char* config_path = std::getenv("RBDVOL_CONFIG");
  const std::string request = nlohmann::json({{"id", id}, {"offset", 0}}).dump();
  CommandResult killed =
      run({"sh", "-c",
           "RBDVOL_FAULT=image.write:kill-after-chunk=2 exec \"$0\" \"$1\" \"$2\" image.write "
           "\"$3\" < \"$4\"",
           RBDVOL_C_HOST_PATH, RBDVOL_PLUGIN_PATH, config_path, request, data.path()});
  INFO(killed.err);
  REQUIRE(killed.exit_code != 0);

  auto partial_of = [&]() -> nlohmann::json {
    nlohmann::json listed = rbdvol_json({"image", "partials", "--backend", backend});
    for (const auto& p : listed.at("partials")) {
      if (p.at("id") == id) return p;
    }
    return nullptr;
  };
  nlohmann::json partial = partial_of();
  REQUIRE(partial.is_object());
  CHECK(partial.at("kind") == "transfer");
  CHECK(partial.at("chunks_confirmed").get<uint64_t>() >= 2);
  CHECK(partial.at("chunks_confirmed").get<uint64_t>() < 8);
  auto status = host->call("image.transfer_status", {{"id", id}});
  REQUIRE(status.ok());
  CHECK(status->at("missing_bytes").get<uint64_t>() > 0);

  // The dead writer still watches the image until the OSDs time its watch
  // out: fenced, as an operator does, it is gone at once.
  for (const auto& watcher : ceph.watchers(b->image_pool, rbd_name)) ceph.blocklist(watcher);
  for (int i = 0; i < 100 && !ceph.watchers(b->image_pool, rbd_name).empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE(ceph.watchers(b->image_pool, rbd_name).empty());
  partial = partial_of();
  REQUIRE(partial.is_object());
  CHECK(partial.at("running") == false);
  // The text listing names it as a transfer too.
  CommandResult text = run_rbdvol({"image", "partials", "--backend", backend});
  CHECK(text.out.find(id) != std::string::npos);
  CHECK(text.out.find("transfer") != std::string::npos);

  nlohmann::json deleted = rbdvol_json({"image", "delete", id});
  CHECK(deleted.at("partials_removed") == nlohmann::json::array({backend}));
  CHECK_FALSE(ceph.image_exists(b->image_pool, rbd_name));
  CHECK_FALSE(ceph.object_exists(b->image_pool, "rbdvol_chunks." + rbd_name));
}
