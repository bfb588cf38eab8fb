// Streamed transfers into and out of an image (image.transfer_begin,
// image.write, image.transfer_zero, image.transfer_status,
// image.transfer_finish, image.read) over the in-memory Env, called by name
// through the operation table with a stream, as a host's call_stream does.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "plugin/abi/operation_table.h"
#include "plugin/fault_injection.h"
#include "plugin/records/naming.h"
#include "plugin/transfer/image_transfer.h"
#include "plugin/transfer/sha256.h"
#include "tests/unit/plugin_test_env.h"

namespace rbdvol::plugin::testing {
namespace {

constexpr uint64_t kChunk = 64 << 10;

// Bytes that differ from chunk to chunk and are never all zeros.
std::string pattern(uint64_t size, uint64_t seed = 1) {
  std::string s(size, '\0');
  for (uint64_t i = 0; i < size; ++i) s[i] = static_cast<char>((i * 131 + seed * 7 + i / 4096) | 1);
  return s;
}

// The request's data, handed out in pieces of `piece` bytes (not a divisor
// of the chunk size, so the driver must gather each chunk), and a hook run
// on each read.
struct Source {
  std::string data;
  size_t at = 0;
  size_t piece = 7001;
  std::function<void()> on_read;
  static int64_t read(void* ctx, void* buf, uint64_t len) {
    auto* s = static_cast<Source*>(ctx);
    if (s->on_read) s->on_read();
    const size_t n = std::min<size_t>({len, s->piece, s->data.size() - s->at});
    std::memcpy(buf, s->data.data() + s->at, n);
    s->at += n;
    return static_cast<int64_t>(n);
  }
};

struct Sink {
  std::string data;
  uint64_t largest = 0;
  static int write(void* ctx, const void* buf, uint64_t len) {
    auto* s = static_cast<Sink*>(ctx);
    s->data.append(static_cast<const char*>(buf), len);
    s->largest = std::max(s->largest, len);
    return 0;
  }
};

Result<Json> write(PluginTest& t, const Json& request, const std::string& data,
                   std::function<void()> on_read = nullptr) {
  Source source{data, 0, 7001, std::move(on_read)};
  DataStream stream(Source::read, &source, nullptr, nullptr);
  return call_operation(*t.driver, "image.write", request, Progress(), &stream);
}

Json write_ok(PluginTest& t, const Json& request, const std::string& data) {
  auto answer = write(t, request, data);
  INFO(request.dump() << " -> " << (answer.ok() ? std::string("ok") : answer.status().message()));
  REQUIRE(answer.ok());
  return *answer;
}

Result<std::string> read(PluginTest& t, const Json& request, uint64_t* largest = nullptr) {
  Sink sink;
  DataStream stream(nullptr, nullptr, Sink::write, &sink);
  auto answer = call_operation(*t.driver, "image.read", request, Progress(), &stream);
  if (!answer.ok()) return answer.status();
  if (largest) *largest = sink.largest;
  return sink.data;
}

std::string sha256_hex(const std::string& data) {
  Sha256 sha;
  sha.update(data.data(), data.size());
  return hex_of(sha.finish());
}

// A file of the fixture's (removed with it) holding `data`.
std::string file_of(PluginTest& t, const std::string& data) {
  const std::string path = t.file(1);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
  return path;
}

TEST_CASE("a transfer written out of order with a hole finishes into a complete image",
          "[plugin][transfer]") {
  PluginTest t;
  const uint64_t size = 5 * kChunk + 1000;  // the last chunk is short
  std::string bytes = pattern(size);
  std::fill(bytes.begin() + 4 * kChunk, bytes.begin() + 5 * kChunk, '\0');  // the hole

  Json begun = t.call_ok("image.transfer_begin",
                         {{"name", "streamed"}, {"size", size}, {"chunk_size", kChunk}});
  const std::string id = begun["id"];
  CHECK(begun["backend"] == "fast");
  CHECK(begun["rbd_name"] == kImagePrefix + id);
  CHECK(begun["chunk_size"] == kChunk);
  CHECK(begun["size"] == size);
  auto meta = t.env.metadata(kFast, "images", kImagePrefix + id);
  CHECK(meta.count("rbdvol.transfer_features") == 1);
  CHECK(meta["rbdvol.incomplete"].rfind("transfer of image " + id, 0) == 0);

  // Not listed while partial; image.partials shows it as a transfer, idle.
  CHECK(t.call_ok("image.list", Json::object())["images"].empty());
  Json partials = t.call_ok("image.partials", Json::object())["partials"];
  REQUIRE(partials.size() == 1);
  CHECK(partials[0]["kind"] == "transfer");
  CHECK(partials[0]["running"] == false);

  Json second =
      write_ok(t, {{"id", id}, {"offset", 2 * kChunk}}, bytes.substr(2 * kChunk, 2 * kChunk));
  CHECK(second["written"] == 2 * kChunk);
  CHECK(second["chunks"] == Json::array({2, 3}));
  Json first = write_ok(t, {{"id", id}, {"offset", 0}}, bytes.substr(0, 2 * kChunk));
  CHECK(first["chunks"] == Json::array({0, 1}));
  Json status = t.call_ok("image.transfer_status", {{"id", id}});
  CHECK(status["confirmed"] == Json::array({Json::array({0, 4 * kChunk})}));
  CHECK(status["missing_bytes"] == kChunk + 1000);
  CHECK(status["state"] == "incomplete");

  Json zeroed =
      t.call_ok("image.transfer_zero", {{"id", id}, {"offset", 4 * kChunk}, {"length", kChunk}});
  CHECK(zeroed["chunks"] == Json::array({4, 4}));
  write_ok(t, {{"id", id}, {"offset", 5 * kChunk}}, bytes.substr(5 * kChunk));
  status = t.call_ok("image.transfer_status", {{"id", id}, {"backend", "fast"}});
  CHECK(status["confirmed"] == Json::array({Json::array({0, size})}));
  CHECK(status["missing_bytes"] == 0);

  Json done = t.call_ok("image.transfer_finish", {{"id", id}, {"size", size}, {"hash", "sha256"}});
  CHECK(done["size"] == size);
  CHECK(done["hash_algo"] == "sha256");
  CHECK(done["hash_value"] == sha256_hex(bytes));
  // The same checksum image.checksum gives for a file of these bytes.
  Json file_sum =
      t.call_ok("image.checksum", {{"path", file_of(t, bytes)}, {"chunk_size", kChunk}});
  CHECK(done["checksum"] == file_sum["checksum"]);

  meta = t.env.metadata(kFast, "images", kImagePrefix + id);
  CHECK(meta.count("rbdvol.complete") == 1);
  CHECK(meta.count("rbdvol.incomplete") == 0);
  CHECK(meta.count("rbdvol.transfer_features") == 0);
  CHECK(meta["rbdvol.sha256"] == sha256_hex(bytes));
  CHECK(meta["rbdvol.checksum"] == done["checksum"]);
  CHECK(meta["rbdvol.name"] == "streamed");
  Json listed = t.call_ok("image.list", Json::object());
  REQUIRE(listed["images"].size() == 1);
  CHECK(listed["images"][0]["size"] == size);
  CHECK(t.call_ok("image.partials", Json::object())["partials"].empty());

  uint64_t largest = 0;
  auto whole = read(t, {{"id", id}}, &largest);
  REQUIRE(whole.ok());
  CHECK(*whole == bytes);
  CHECK(largest <= (4u << 20));
  auto part = read(t, {{"id", id}, {"offset", kChunk + 10}, {"length", 3 * kChunk}});
  REQUIRE(part.ok());
  CHECK(*part == bytes.substr(kChunk + 10, 3 * kChunk));
  // A volume clones it as any image.
  Json volume = t.call_ok("volume.create", {{"disk_type", "ssd"}, {"image", id}});
  CHECK(volume["method"] == "clone");

  // A second finish answers as the first; writes are refused now.
  Json again = t.call_ok("image.transfer_finish", {{"id", id}, {"size", size}});
  CHECK(again["checksum"] == done["checksum"]);
  CHECK(again["hash_value"] == done["hash_value"]);
  CHECK(write(t, {{"id", id}, {"offset", 0}}, bytes.substr(0, kChunk)).status().err() == EINVAL);
}

TEST_CASE("image.transfer_finish refuses a transfer with missing ranges, naming them",
          "[plugin][transfer]") {
  PluginTest t;
  const uint64_t size = 4 * kChunk;
  const std::string bytes = pattern(size);
  const std::string id =
      t.call_ok("image.transfer_begin",
                {{"size", size}, {"chunk_size", kChunk}, {"backend", "capacity"}})["id"];
  write_ok(t, {{"id", id}, {"offset", kChunk}}, bytes.substr(kChunk, kChunk));
  auto refused = t.call("image.transfer_finish", {{"id", id}, {"size", size}});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().err() == EAGAIN);
  CHECK(refused.status().message().find("[0, 65536), [131072, 262144)") != std::string::npos);
  auto meta = t.env.metadata(kCapacity, "images", kImagePrefix + id);
  CHECK(meta.count("rbdvol.complete") == 0);
  SECTION("another size than the one begun with is refused") {
    auto other = t.call("image.transfer_finish", {{"id", id}, {"size", size - 512}});
    CHECK(other.status().err() == EINVAL);
  }
  SECTION("once the rest is written it finishes") {
    write_ok(t, {{"id", id}, {"offset", 0}}, bytes.substr(0, kChunk));
    write_ok(t, {{"id", id}, {"offset", 2 * kChunk}}, bytes.substr(2 * kChunk));
    t.call_ok("image.transfer_finish", {{"id", id}, {"size", size}});
    auto back = read(t, {{"id", id}, {"backend", "capacity"}});
    REQUIRE(back.ok());
    CHECK(*back == bytes);
  }
}

TEST_CASE("a transfer of unknown size grows in 1 GiB steps and takes its size at the finish",
          "[plugin][transfer]") {
  PluginTest t;
  const std::string id = t.call_ok("image.transfer_begin", {{"chunk_size", kChunk}})["id"];
  const std::string record = "rbdvol_chunks." + kImagePrefix + id;
  auto capacity = [&] {
    return Json::parse(t.env.omap(kFast, "images", record)["header"])["size"].get<uint64_t>();
  };
  CHECK(capacity() == kTransferGrowStep);
  const std::string tail = pattern(1000, 3);
  write_ok(t, {{"id", id}, {"offset", kTransferGrowStep}}, tail);
  CHECK(capacity() == 2 * kTransferGrowStep);
  t.call_ok("image.transfer_zero", {{"id", id}, {"offset", 0}, {"length", kTransferGrowStep}});
  Json status = t.call_ok("image.transfer_status", {{"id", id}});
  CHECK(status["size"] == 0);
  CHECK(status["confirmed"] == Json::array({Json::array({0, kTransferGrowStep + 1000})}));
  CHECK(status["missing_bytes"] == 0);
  SECTION("a size that makes the short chunk not the last is refused") {
    auto bad = t.call("image.transfer_finish", {{"id", id}, {"size", kTransferGrowStep + kChunk}});
    CHECK(bad.status().err() == EINVAL);
    CHECK(bad.status().message().find("only the last chunk may be short") != std::string::npos);
  }
  SECTION("its size") {
    Json done = t.call_ok("image.transfer_finish",
                          {{"id", id}, {"size", kTransferGrowStep + 1000}, {"hash", "sha256"}});
    Sha256 sha;
    sha.update_zeros(kTransferGrowStep);
    sha.update(tail.data(), tail.size());
    CHECK(done["hash_value"] == hex_of(sha.finish()));
    auto back = read(t, {{"id", id}, {"offset", kTransferGrowStep - 10}});
    REQUIRE(back.ok());
    CHECK(*back == std::string(10, '\0') + tail);
    CHECK(read(t, {{"id", id}, {"offset", kTransferGrowStep + 1001}}).status().err() == ERANGE);
    CHECK(
        read(t, {{"id", id}, {"offset", 0}, {"length", kTransferGrowStep + 1001}}).status().err() ==
        ERANGE);
  }
}

TEST_CASE("image.write refuses misaligned offsets, data past the size and a short inner chunk",
          "[plugin][transfer]") {
  PluginTest t;
  const uint64_t size = 3 * kChunk;
  const std::string id =
      t.call_ok("image.transfer_begin", {{"size", size}, {"chunk_size", kChunk}})["id"];
  CHECK(write(t, {{"id", id}, {"offset", 4096}}, pattern(kChunk)).status().err() == EINVAL);
  CHECK(write(t, {{"id", id}, {"offset", size}}, pattern(kChunk)).status().err() == ERANGE);
  CHECK(write(t, {{"id", id}, {"offset", 2 * kChunk}}, pattern(kChunk + 1)).status().err() ==
        ERANGE);
  auto short_inner = write(t, {{"id", id}, {"offset", 0}}, pattern(kChunk + 100));
  CHECK(short_inner.status().err() == EINVAL);
  // The whole chunk before the short one was recorded.
  Json status = t.call_ok("image.transfer_status", {{"id", id}});
  CHECK(status["confirmed"].size() == 2);  // [0, 64K) and [128K, 192K) from above
  CHECK(
      t.call("image.transfer_zero", {{"id", id}, {"offset", 0}, {"length", 100}}).status().err() ==
      EINVAL);
  CHECK(t.call("image.write", {{"id", id}, {"offset", 0}}).status().err() == EINVAL);
  CHECK(t.call("image.read", {{"id", id}}).status().err() == EINVAL);
  CHECK(t.call("image.transfer_begin", {{"chunk_size", 1000}}).status().err() == EINVAL);
  CHECK(t.call("image.transfer_status", {{"id", new_uuid()}}).status().err() == ENOENT);
}

TEST_CASE("a chunk of zeros is recorded without a write, unless it overwrites data",
          "[plugin][transfer]") {
  PluginTest t;
  const std::string id =
      t.call_ok("image.transfer_begin", {{"size", 128 << 20}, {"chunk_size", 4 << 20}})["id"];
  // A zero chunk in an object nothing was written to: no data object.
  write_ok(t, {{"id", id}, {"offset", 64 << 20}}, std::string(4 << 20, '\0'));
  const std::string data = pattern(4 << 20);
  write_ok(t, {{"id", id}, {"offset", 0}}, data);
  // Written again as zeros, the chunk must read as zeros.
  Json z = write_ok(t, {{"id", id}, {"offset", 0}}, std::string(4 << 20, '\0'));
  CHECK(z["chunks_zero"] == 1);
  t.call_ok("image.transfer_zero", {{"id", id}, {"offset", 4 << 20}, {"length", 124 << 20}});
  t.call_ok("image.transfer_finish", {{"id", id}, {"size", 128 << 20}});
  auto back = read(t, {{"id", id}, {"offset", 0}, {"length", 8 << 20}});
  REQUIRE(back.ok());
  CHECK(*back == std::string(8 << 20, '\0'));
}

TEST_CASE("image.transfer_begin refuses an id that names an image, complete or partial",
          "[plugin][transfer]") {
  PluginTest t;
  const std::string complete = t.image("capacity", 1 << 20);
  CHECK(t.call("image.transfer_begin", {{"id", complete}}).status().err() == EEXIST);
  const std::string chosen = new_uuid();
  Json begun = t.call_ok("image.transfer_begin", {{"id", chosen}, {"backend", "capacity"}});
  CHECK(begun["id"] == chosen);
  CHECK(t.call("image.transfer_begin", {{"id", chosen}}).status().err() == EEXIST);
  // An upload's image is not a transfer.
  CHECK(t.call("image.transfer_status", {{"id", complete}}).status().err() == EINVAL);
}

TEST_CASE("image.delete removes an idle transfer, and refuses while a write runs",
          "[plugin][transfer]") {
  PluginTest t;
  const std::string id =
      t.call_ok("image.transfer_begin", {{"size", 2 * kChunk}, {"chunk_size", kChunk}})["id"];
  Result<Json> during = Status::Ok();
  bool asked = false;
  auto w = write(t, {{"id", id}, {"offset", 0}}, pattern(kChunk), [&] {
    if (asked) return;
    asked = true;
    during = t.call("image.delete", {{"id", id}});
    Json partials = t.call_ok("image.partials", Json::object())["partials"];
    REQUIRE(partials.size() == 1);
    CHECK(partials[0]["running"] == true);
  });
  REQUIRE(w.ok());
  CHECK(during.status().err() == EBUSY);
  Json deleted = t.call_ok("image.delete", {{"id", id}});
  CHECK(deleted["partials_removed"] == Json::array({"fast"}));
  CHECK(t.images(kFast, "images").empty());
  // The chunk record went with it (the image directory's shard may stay).
  for (const auto& o : t.objects(kFast, "images")) CHECK(o.rfind("rbdvol_chunks.", 0) != 0);
}

TEST_CASE(
    "image.transfer_finish:before-complete leaves the partial, and a second finish "
    "completes it",
    "[plugin][fault][transfer]") {
  PluginTest t;
  const std::string bytes = pattern(kChunk);
  const std::string id =
      t.call_ok("image.transfer_begin", {{"size", kChunk}, {"chunk_size", kChunk}})["id"];
  write_ok(t, {{"id", id}, {"offset", 0}}, bytes);
  {
    ScopedFaultPoints faults("image.transfer_finish:before-complete");
    auto failed = t.call("image.transfer_finish", {{"id", id}, {"size", kChunk}});
    CHECK(failed.status().err() == EIO);
  }
  CHECK(t.env.metadata(kFast, "images", kImagePrefix + id).count("rbdvol.complete") == 0);
  CHECK(t.call_ok("image.list", Json::object())["images"].empty());
  Json partials = t.call_ok("image.partials", Json::object())["partials"];
  REQUIRE(partials.size() == 1);
  CHECK(partials[0]["kind"] == "transfer");
  Json done = t.call_ok("image.transfer_finish", {{"id", id}, {"size", kChunk}});
  CHECK(t.env.metadata(kFast, "images", kImagePrefix + id).count("rbdvol.complete") == 1);
  CHECK(t.call_ok("image.list", Json::object())["images"].size() == 1);
}

TEST_CASE("image.write:kill-after-chunk=N kills the writer once N chunks are recorded",
          "[plugin][fault][transfer]") {
  PluginTest t;
  const std::string id =
      t.call_ok("image.transfer_begin", {{"size", 8 * kChunk}, {"chunk_size", kChunk}})["id"];
  int pipefd[2];
  REQUIRE(::pipe(pipefd) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(pipefd[0]);
    ScopedFaultPoints faults("image.write:kill-after-chunk=2");
    // The child reports how many bytes the driver had read when it died.
    uint64_t taken = 0;
    Source source{pattern(8 * kChunk), 0, static_cast<size_t>(kChunk), nullptr};
    source.on_read = [&] {
      taken = source.at;
      (void)!::write(pipefd[1], &taken, sizeof(taken));
    };
    DataStream stream(Source::read, &source, nullptr, nullptr);
    auto answer =
        call_operation(*t.driver, "image.write", {{"id", id}, {"offset", 0}}, Progress(), &stream);
    ::_exit(answer.ok() ? 0 : 1);
  }
  ::close(pipefd[1]);
  uint64_t taken = 0, last = 0;
  while (::read(pipefd[0], &taken, sizeof(taken)) == static_cast<ssize_t>(sizeof(taken))) {
    last = taken;
  }
  ::close(pipefd[0]);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
  // Killed after 2 chunks recorded, with at most a few more read.
  CHECK(last >= 2 * kChunk);
  CHECK(last < 8 * kChunk);
}

}  // namespace
}  // namespace rbdvol::plugin::testing
