// Snapshots of volumes: create, list, delete, revert, and volumes made from
// them, against the sandbox's real clusters.
#include <catch2/catch.hpp>

#include <atomic>
#include <cerrno>
#include <thread>
#include <vector>

#include "tests/integration/rbd_bytes.h"
#include "tests/integration/sandbox.h"

using namespace rbdvol::test;

TEST_CASE("a snapshot is created with its name, listed, and deleted", "[integration][snapshots]") {
  ImageCleanup cleanup;
  CephView fast("fast");
  auto volume = rbdvol_json({"volume", "create", "--type", "ssd", "--size", "8M"});
  cleanup.add(volume);
  auto snap = rbdvol_json({"snapshot", "create", volume.at("id"), "--name", "nightly"});
  const std::string id = snap.at("id");
  CHECK(snap.at("name") == "nightly");
  CHECK(snap.at("volume") == volume.at("id"));
  CHECK(snap.at("backend") == "fast");
  CHECK(snap.at("snapshot") == "snapshot-" + id);
  CHECK(snap.at("size") == 8 << 20);
  CHECK(rbd_snapshots(fast, volume.at("image")) == std::vector<std::string>{"snapshot-" + id});
  CHECK(snapshot_directory_entry(fast, id) == volume.at("image"));

  auto listed = rbdvol_json({"snapshot", "list", volume.at("id")});
  CHECK(listed.at("id") == volume.at("id"));
  REQUIRE(listed.at("snapshots").size() == 1);
  CHECK(listed.at("snapshots")[0].at("id") == id);
  CHECK(listed.at("snapshots")[0].at("name") == "nightly");
  CHECK_FALSE(listed.at("snapshots")[0].at("created_at").get<std::string>().empty());

  SECTION("deleted by snapshot-<uuid>, and deleting it again succeeds") {
    auto deleted = rbdvol_json({"snapshot", "delete", "snapshot-" + id});
    CHECK(deleted.at("deleted") == true);
    CHECK(deleted.at("flattened").empty());
    CHECK(rbd_snapshots(fast, volume.at("image")).empty());
    CHECK(rbdvol_json({"snapshot", "list", volume.at("id")}).at("snapshots").empty());
    // Its name went with it: the metadata holds nothing of it any more.
    CHECK(
        run({"rbd", "-c", sandbox_config().find_backend("fast")->ceph_conf, "image-meta", "get",
             "volumes/" + volume.at("image").get<std::string>(), "rbdvol.snapshot." + id + ".name"})
            .exit_code != 0);
    CHECK(snapshot_directory_entry(fast, id).empty());
    CHECK(rbdvol_json({"snapshot", "delete", id}).at("already_gone") == true);
  }
  SECTION("a bad id is EINVAL and an unknown one ENOENT") {
    auto bad = run_rbdvol({"snapshot", "delete", "nightly"});
    CHECK(bad.exit_code != 0);
    CHECK(bad.err.find("snapshot id 'nightly' is not a uuid") != std::string::npos);
    auto unknown = run_rbdvol({"snapshot", "revert", "00000000-0000-4000-8000-000000000000"});
    CHECK(unknown.exit_code != 0);
    CHECK(unknown.err.find("not found in any backend") != std::string::npos);
  }
}

TEST_CASE("reverting a volume to a snapshot brings its bytes and size back",
          "[integration][snapshots]") {
  ImageCleanup cleanup;
  CephView fast("fast");
  auto volume = rbdvol_json({"volume", "create", "--type", "ssd", "--size", "8M"});
  cleanup.add(volume);
  const std::string image = volume.at("image");
  write_bytes(fast, image, 0, std::string(4096, 'a'));
  auto snap = rbdvol_json({"snapshot", "create", volume.at("id")});
  write_bytes(fast, image, 0, std::string(4096, 'b'));
  rbdvol_json({"volume", "extend", volume.at("id"), "--size", "16M"});

  SECTION("while detached") {
    auto reverted = rbdvol_json({"snapshot", "revert", snap.at("id")});
    CHECK(reverted.at("volume") == volume.at("id"));
    CHECK(reverted.at("size") == 8 << 20);
    CHECK(read_bytes(fast, image, 0, 4096) == std::string(4096, 'a'));
  }
  SECTION("refused while a client has it open") {
    rbd_image_t img = nullptr;
    REQUIRE(rbd_open(fast.pool("volumes"), image.c_str(), &img, nullptr) == 0);
    auto r = run_rbdvol({"snapshot", "revert", snap.at("id")});
    rbd_close(img);
    CHECK(r.exit_code != 0);
    CHECK(r.err.find("is open by a client") != std::string::npos);
    CHECK(r.err.find("backend fast") != std::string::npos);
    CHECK(read_bytes(fast, image, 0, 4096) == std::string(4096, 'b'));
  }
}

TEST_CASE("a volume from a snapshot clones it, and deleting the snapshot flattens the clone first",
          "[integration][snapshots]") {
  ImageCleanup cleanup;
  CephView fast("fast");
  auto volume = rbdvol_json({"volume", "create", "--type", "ssd", "--size", "8M"});
  cleanup.add(volume);
  write_bytes(fast, volume.at("image"), 0, std::string(4096, 's'));
  auto snap = rbdvol_json({"snapshot", "create", volume.at("id")});
  write_bytes(fast, volume.at("image"), 0, std::string(4096, 'n'));

  auto clone = rbdvol_json({"volume", "create", "--type", "ssd", "--snapshot", snap.at("id")});
  cleanup.add(clone);
  CHECK(clone.at("method") == "clone");
  CHECK(clone.at("steps") == nlohmann::json{"clone"});
  CHECK(clone.at("source_snapshot") == snap.at("id"));
  CHECK(clone.at("size") == 8 << 20);
  CHECK(fast.parent_of("volumes", clone.at("image")) ==
        "volumes/" + volume.at("image").get<std::string>() + "@snapshot-" +
            snap.at("id").get<std::string>());
  CHECK(read_bytes(fast, clone.at("image"), 0, 4096) == std::string(4096, 's'));
  write_bytes(fast, clone.at("image"), 1 << 20, std::string(4096, 'c'));
  auto listed = rbdvol_json({"snapshot", "list", volume.at("id")});
  CHECK(listed.at("snapshots")[0].at("clones") ==
        nlohmann::json{"volumes/" + clone.at("image").get<std::string>()});

  auto deleted = rbdvol_json({"snapshot", "delete", snap.at("id")});
  CHECK(deleted.at("flattened") ==
        nlohmann::json{"volumes/" + clone.at("image").get<std::string>()});
  CHECK(fast.parent_of("volumes", clone.at("image")).empty());
  CHECK(rbd_snapshots(fast, volume.at("image")).empty());
  CHECK(read_bytes(fast, clone.at("image"), 0, 4096) == std::string(4096, 's'));
  CHECK(read_bytes(fast, clone.at("image"), 1 << 20, 4096) == std::string(4096, 'c'));
}

TEST_CASE("a snapshot create that fails half way leaves no snapshot", "[integration][snapshots]") {
  ImageCleanup cleanup;
  CephView fast("fast");
  auto volume = rbdvol_json({"volume", "create", "--type", "ssd", "--size", "4M"});
  cleanup.add(volume);
  // Before its metadata, and after it, before its directory entry.
  const std::string point = GENERATE(as<std::string>{}, "snapshot.create:after-snapshot",
                                     "snapshot.create:before-directory");
  setenv("RBDVOL_FAULT", point.c_str(), 1);
  auto r = run_rbdvol({"snapshot", "create", volume.at("id"), "--name", "half"});
  unsetenv("RBDVOL_FAULT");
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("injected fault at " + point) != std::string::npos);
  CHECK(r.err.find("(removed again)") != std::string::npos);
  CHECK(rbd_snapshots(fast, volume.at("image")).empty());
  const auto meta = run({"rbd", "-c", sandbox_config().find_backend("fast")->ceph_conf,
                         "image-meta", "list", "volumes/" + volume.at("image").get<std::string>()});
  CHECK(meta.out.find("rbdvol.snapshot.") == std::string::npos);
}

TEST_CASE("a snapshot missing from the snapshot directory, or named wrongly there, is still found",
          "[integration][snapshots]") {
  ImageCleanup cleanup;
  CephView fast("fast");
  auto holder = rbdvol_json({"volume", "create", "--type", "ssd", "--size", "4M"});
  cleanup.add(holder);
  auto other = rbdvol_json({"volume", "create", "--type", "ssd", "--size", "4M"});
  cleanup.add(other);
  const std::string id = rbdvol_json({"snapshot", "create", holder.at("id")}).at("id");
  REQUIRE(snapshot_directory_entry(fast, id) == holder.at("image"));

  SECTION("no entry (a snapshot of an older rbdvol): found, and its entry written") {
    set_snapshot_directory_entry(fast, id, "");
    CHECK(rbdvol_json({"snapshot", "revert", id}).at("volume") == holder.at("id"));
    CHECK(snapshot_directory_entry(fast, id) == holder.at("image"));
  }
  SECTION("an entry naming another volume: found where it is, and the entry put right") {
    set_snapshot_directory_entry(fast, id, other.at("image"));
    CHECK(rbdvol_json({"snapshot", "revert", id}).at("volume") == holder.at("id"));
    CHECK(snapshot_directory_entry(fast, id) == holder.at("image"));
  }
  SECTION("an entry for a snapshot that is gone: already gone, and the entry removed") {
    const std::string gone = "00000000-0000-4000-8000-00000000beef";
    set_snapshot_directory_entry(fast, gone, other.at("image"));
    CHECK(rbdvol_json({"snapshot", "delete", gone}).at("already_gone") == true);
    CHECK(snapshot_directory_entry(fast, gone).empty());
  }
}

// librbd 16.2 given a snapshot name by open_read_only aborts the process now
// and then (an uncaught std::system_error on a librados thread): 4 threads,
// each opening an image at its snapshot and at a missing one in turn, took
// a test program down within 0.2 s. The plugin opens at the head and then
// sets the snapshot; these are the same opens through it, in this process.
TEST_CASE("opening images at snapshots from several threads at once keeps the process up",
          "[integration][snapshots]") {
  ImageCleanup cleanup;
  CephView fast("fast");
  auto volume = rbdvol_json({"volume", "create", "--type", "ssd", "--size", "4M"});
  cleanup.add(volume);
  const std::string id = rbdvol_json({"snapshot", "create", volume.at("id")}).at("id");
  const std::string image = volume.at("image");
  rbdvol::plugin::Pool& pool = fast.plugin_pool("volumes");
  constexpr int kThreads = 4, kOpens = 150;
  std::atomic<int> at_snapshot{0}, missing_refused{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kOpens; ++i) {
        const bool missing = i % 2 == 1;
        auto opened = pool.open_image(image, missing ? "no-such-snapshot" : "snapshot-" + id, true);
        if (!missing && opened.ok()) {
          ++at_snapshot;
        } else if (missing && !opened.ok() && opened.status().err() == ENOENT) {
          ++missing_refused;
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(at_snapshot == kThreads * kOpens / 2);
  CHECK(missing_refused == kThreads * kOpens / 2);
  CHECK(other == 0);
}
