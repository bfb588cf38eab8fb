// A process that dies holding an image's exclusive lock does not make the
// next one wait for its watch to time out; a live holder's lock is never
// broken.
#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "tests/integration/sandbox.h"

using namespace rbdvol::test;

namespace {

using Clock = std::chrono::steady_clock;

// The entity holding image `image`'s exclusive lock ("client.N"), "" if none.
std::string lock_holder(CephView& ceph, const std::string& pool, const std::string& image) {
  ImagePtr img = ceph.open(pool, image);
  int exclusive = 0;
  char tag[128], clients[256], cookies[256], addrs[256];
  size_t tag_len = sizeof(tag), clients_len = sizeof(clients), cookies_len = sizeof(cookies),
         addrs_len = sizeof(addrs);
  const ssize_t n = rbd_list_lockers(img.get(), &exclusive, tag, &tag_len, clients, &clients_len,
                                     cookies, &cookies_len, addrs, &addrs_len);
  REQUIRE(n >= 0);
  return n == 0 ? std::string() : std::string(clients);
}

// The "client" of the header of images/<image>'s chunk record: the librados
// client of the process that wrote the copy.
std::string record_client(CephView& ceph, const std::string& image) {
  ReadOpPtr op(rados_create_read_op());
  rados_omap_iter_t raw_iter = nullptr;
  int prval = 0;
  const char* keys[] = {"header"};
  const size_t key_lens[] = {6};
  rados_read_op_omap_get_vals_by_keys2(op.get(), keys, 1, key_lens, &raw_iter, &prval);
  const int r =
      rados_read_op_operate(op.get(), ceph.pool("images"), ("rbdvol_chunks." + image).c_str(), 0);
  OmapIterPtr iter(raw_iter);
  REQUIRE(r == 0);
  char* key = nullptr;
  char* val = nullptr;
  size_t len = 0;
  REQUIRE(rados_omap_get_next(iter.get(), &key, &val, &len) == 0);
  REQUIRE(key != nullptr);
  return nlohmann::json::parse(std::string(val, len)).value("client", "");
}

// Runs `rbdvol image copy ID --to capacity` with RBDVOL_FAULT=`fault` in the
// background.
std::unique_ptr<BackgroundCommand> start_copy(const std::string& id, const std::string& fault) {
  setenv("RBDVOL_FAULT", fault.c_str(), 1);
  auto copy =
      std::make_unique<BackgroundCommand>(rbdvol_argv({"image", "copy", id, "--to", "capacity"}));
  unsetenv("RBDVOL_FAULT");
  return copy;
}

}  // namespace

TEST_CASE("the first volume of a copy whose process died holding its lock breaks the lock",
          "[integration][images]") {
  ImageCleanup cleanup;
  TempFile file(8 << 20);
  cleanup.add_file(file.path());
  const std::string id = upload_to_fast(file.path(), "dead-copier", cleanup);
  const std::string image = "image-" + id;
  // The copy is complete, then its process dies with the image still open
  // and locked: the lock's client keeps its watch for 30 s.
  auto killed = start_copy(id, "image.copy:after-complete=kill")->finish();
  REQUIRE(killed.exit_code == 128 + SIGKILL);
  REQUIRE(rbdvol_json({"image", "show", id}).at("locations").size() == 2);
  CephView capacity("capacity");
  const std::string holder = lock_holder(capacity, "images", image);
  REQUIRE(!holder.empty());
  // The record names the dead copier's client, which is the lock's holder.
  CHECK(record_client(capacity, image) == holder);
  REQUIRE(capacity.watcher_count("images", image) == 1);

  // The first volume cloned there makes the copy's snapshot, which needs the
  // lock: the dead holder is blocklisted and its lock broken, not waited out.
  const auto started = Clock::now();
  auto volume = rbdvol_json({"volume", "create", "--type", "hdd", "--image", id});
  const auto took = Clock::now() - started;
  cleanup.add(volume);
  CHECK(volume.at("backend") == "capacity");
  CHECK(volume.at("method") == "clone");
  CHECK(took < std::chrono::seconds(15));
  CHECK(capacity.watcher_count("images", image) == 0);
  rbdvol_json({"volume", "delete", volume.at("id")});
}

TEST_CASE("two volume creates racing on a copy whose process died both succeed at once",
          "[integration][images]") {
  ImageCleanup cleanup;
  TempFile file(8 << 20);
  cleanup.add_file(file.path());
  const std::string id = upload_to_fast(file.path(), "dead-copier-race", cleanup);
  REQUIRE(start_copy(id, "image.copy:after-complete=kill")->finish().exit_code == 128 + SIGKILL);

  // Each may find the dead copier holding the lock; the one that breaks it
  // then takes it to make the snapshot, and the other must leave that live
  // holder alone: a blocklisted create fails with ESHUTDOWN ("Cannot send
  // after transport endpoint shutdown").
  const auto started = Clock::now();
  const auto args = rbdvol_argv({"--json", "volume", "create", "--type", "hdd", "--image", id});
  BackgroundCommand a(args), b(args);
  auto ra = a.finish();
  auto rb = b.finish();
  const auto took = Clock::now() - started;
  for (const auto* r : {&ra, &rb}) {
    INFO("exit " << r->exit_code << ": " << r->out << r->err);
    CHECK(r->err.find("transport endpoint") == std::string::npos);
    REQUIRE(r->exit_code == 0);
    auto created = nlohmann::json::parse(r->out);
    cleanup.add(created);
    CHECK(created.at("backend") == "capacity");
    CHECK(created.at("method") == "clone");
  }
  CHECK(took < std::chrono::seconds(15));
}

TEST_CASE("a live copier holding its complete copy's lock is not blocklisted",
          "[integration][images]") {
  ImageCleanup cleanup;
  TempFile file(8 << 20);
  cleanup.add_file(file.path());
  const std::string id = upload_to_fast(file.path(), "live-copier", cleanup);
  const std::string image = "image-" + id;
  // Stopped, not dead: its process still runs and holds the lock.
  auto copier = start_copy(id, "image.copy:after-complete=stop");
  REQUIRE(copier->wait_stopped());
  CephView capacity("capacity");
  const std::string holder = lock_holder(capacity, "images", image);
  REQUIRE(holder == record_client(capacity, image));

  // A volume create must wait for it (librbd asks the holder for the lock),
  // not fence it.
  BackgroundCommand create(
      rbdvol_argv({"--json", "volume", "create", "--type", "hdd", "--image", id}));
  std::this_thread::sleep_for(std::chrono::seconds(3));
  CHECK(create.running());
  CHECK(lock_holder(capacity, "images", image) == holder);
  copier->resume();
  auto copied = copier->finish();
  INFO(copied.err);
  CHECK(copied.exit_code == 0);
  auto created = create.finish();
  INFO(created.err);
  REQUIRE(created.exit_code == 0);
  auto volume = nlohmann::json::parse(created.out);
  cleanup.add(volume);
  CHECK(volume.at("method") == "clone");
}
