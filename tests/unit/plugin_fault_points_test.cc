// Every fault point of the plugin (docs/driver-abi.md), set in-process with
// ScopedFaultPoints over the in-memory Env: the operation fails there, and
// what it leaves behind is checked. A point that kills or stops the process
// (kill-after-chunk, stop-after-chunk, point=kill) is left to the
// integration tests, which run the rbdvol command.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>

#include "plugin/fault_injection.h"
#include "plugin/records/naming.h"
#include "plugin/transfer/chunk_record.h"
#include "tests/unit/plugin_test_env.h"

namespace rbdvol::plugin::testing {
namespace {

// The operation fails with the injected EIO, naming the point.
void require_injected(const Result<Json>& answer, const std::string& point) {
  REQUIRE_FALSE(answer.ok());
  CHECK(answer.status().err() == EIO);
  CHECK(answer.status().message().find("injected fault at " + point) != std::string::npos);
}

TEST_CASE("fault lists: a scoped list sets points, counts and a forced id, and goes away",
          "[plugin][fault]") {
  CHECK(inject_fault("a:b").ok());
  {
    ScopedFaultPoints faults("a:b,x:kill-after-chunk=7,new-id=1234");
    CHECK(inject_fault("a:b").err() == EIO);
    CHECK(inject_fault("a").ok());
    CHECK(fault_count("x:kill-after-chunk") == 7);
    CHECK(fault_count("y:kill-after-chunk") == 0);
    CHECK(forced_id() == std::optional<std::string>("1234"));
    {
      ScopedFaultPoints inner("");
      CHECK(inject_fault("a:b").ok());
    }
    CHECK(inject_fault("a:b").err() == EIO);
  }
  CHECK(inject_fault("a:b").ok());
  CHECK_FALSE(forced_id().has_value());
}

TEST_CASE("RBDVOL_FAULT is read only by a build with RBDVOL_FAULT_INJECTION", "[plugin][fault]") {
  ::setenv("RBDVOL_FAULT", "env:point", 1);
  const Status s = inject_fault("env:point");
  ::unsetenv("RBDVOL_FAULT");
  CHECK(s.ok() == !reads_fault_environment());
  // A scoped list replaces the environment's.
  ::setenv("RBDVOL_FAULT", "env:point", 1);
  {
    ScopedFaultPoints none("");
    CHECK(inject_fault("env:point").ok());
  }
  ::unsetenv("RBDVOL_FAULT");
}

TEST_CASE("new-id: volume.create and image.upload refuse an id that names something already",
          "[plugin][fault][volume]") {
  PluginTest t;
  const std::string vol = t.volume();
  {
    ScopedFaultPoints faults("new-id=" + vol);
    CHECK(t.run(volume_create, {{"disk_type", "hdd"}, {"size", "8M"}}).status().err() == EEXIST);
  }
  CHECK(t.images(kCapacity, "volumes").empty());
  const std::string image = t.image("fast", 1 << 20);
  {
    ScopedFaultPoints faults("new-id=" + image);
    auto again =
        t.run(image_upload, {{"path", t.file(1 << 20)}, {"name", "x"}, {"backend", "capacity"}});
    CHECK(again.status().err() == EEXIST);
  }
  CHECK(t.images(kCapacity, "images").empty());
}

// --- volume.create -------------------------------------------------------

TEST_CASE("volume.create:after-create leaves no volume", "[plugin][fault][volume]") {
  PluginTest t;
  SECTION("a blank volume") {
    ScopedFaultPoints faults("volume.create:after-create");
    require_injected(t.run(volume_create, {{"disk_type", "ssd"}, {"size", "8M"}}),
                     "volume.create:after-create");
    CHECK(t.images(kFast, "volumes").empty());
  }
  SECTION("a clone of an image: the image's snap stays, nothing else") {
    const std::string image = t.image("fast", 4 << 20);
    ScopedFaultPoints faults("volume.create:after-create");
    require_injected(t.run(volume_create, {{"disk_type", "ssd"}, {"image", image}}),
                     "volume.create:after-create");
    CHECK(t.images(kFast, "volumes").empty());
    CHECK(t.images(kFast, "images") == std::vector<std::string>{kImagePrefix + image});
  }
  SECTION("a copy of a volume into another backend: no copy, no temporary snapshot") {
    const std::string source = t.volume("ssd");
    ScopedFaultPoints faults("volume.create:after-create");
    require_injected(t.run(volume_create, {{"disk_type", "hdd"}, {"source_volume", source}}),
                     "volume.create:after-create");
    CHECK(t.images(kCapacity, "volumes").empty());
    CHECK(t.env.snapshots(kFast, "volumes", kVolumePrefix + source).empty());
  }
}

TEST_CASE("volume.create:after-source-snapshot removes the hidden snapshot it took",
          "[plugin][fault][volume]") {
  PluginTest t;
  const std::string source = t.volume();
  ScopedFaultPoints faults("volume.create:after-source-snapshot");
  require_injected(t.run(volume_create, {{"disk_type", "ssd"}, {"source_volume", source}}),
                   "volume.create:after-source-snapshot");
  CHECK(t.images(kFast, "volumes") == std::vector<std::string>{kVolumePrefix + source});
  CHECK(t.env.snapshots(kFast, "volumes", kVolumePrefix + source).empty());
}

TEST_CASE("volume.create:after-source-snapshot unprotects a user's snapshot it protected",
          "[plugin][fault][volume][snapshot]") {
  PluginTest t;
  const std::string source = t.volume();
  const std::string snap = t.ok(snapshot_create, {{"volume", source}})["id"];
  {
    ScopedFaultPoints faults("volume.create:after-source-snapshot");
    require_injected(t.run(volume_create, {{"disk_type", "ssd"}, {"snapshot", snap}}),
                     "volume.create:after-source-snapshot");
  }
  CHECK(t.images(kFast, "volumes").size() == 1);
  Json listed = t.ok(snapshot_list, {{"volume", source}});
  REQUIRE(listed["snapshots"].size() == 1);
  CHECK(listed["snapshots"][0]["protected"] == false);
  // The snapshot still works as a source afterwards.
  t.ok(volume_create, {{"disk_type", "ssd"}, {"snapshot", snap}});
}

TEST_CASE("volume.create:before-flatten removes the too deep clone and its hidden snapshot",
          "[plugin][fault][volume][clone]") {
  PluginTest t("max_clone_depth = 1");
  const std::string base = t.volume();
  const std::string first =
      t.ok(volume_create, {{"disk_type", "ssd"}, {"source_volume", base}})["id"];
  {
    ScopedFaultPoints faults("volume.create:before-flatten");
    require_injected(t.run(volume_create, {{"disk_type", "ssd"}, {"source_volume", first}}),
                     "volume.create:before-flatten");
  }
  CHECK(t.images(kFast, "volumes").size() == 2);
  CHECK(t.env.snapshots(kFast, "volumes", kVolumePrefix + first).empty());
  // Without the fault the same create flattens the new volume.
  Json deep = t.ok(volume_create, {{"disk_type", "ssd"}, {"source_volume", first}});
  CHECK(deep["flattened"] == true);
  CHECK(t.env.snapshots(kFast, "volumes", kVolumePrefix + first).empty());
}

// --- snapshot.create -----------------------------------------------------

TEST_CASE("snapshot.create fault points leave no snapshot, metadata or directory entry",
          "[plugin][fault][snapshot]") {
  for (const char* point : {"snapshot.create:after-snapshot", "snapshot.create:before-directory"}) {
    DYNAMIC_SECTION(point) {
      PluginTest t;
      const std::string vol = t.volume();
      {
        ScopedFaultPoints faults(point);
        require_injected(t.run(snapshot_create, {{"volume", vol}, {"name", "s"}}), point);
      }
      CHECK(t.env.snapshots(kFast, "volumes", kVolumePrefix + vol).empty());
      for (const auto& [key, value] : t.env.metadata(kFast, "volumes", kVolumePrefix + vol)) {
        CHECK(key.find("snapshot") == std::string::npos);
      }
      for (const auto& oid : t.objects(kFast, "volumes")) {
        CHECK(t.env.omap(kFast, "volumes", oid).empty());
      }
      CHECK(t.ok(snapshot_list, {{"volume", vol}})["snapshots"].empty());
    }
  }
}

// --- image.upload --------------------------------------------------------

TEST_CASE("image.upload fault points remove the partial image and its chunk record",
          "[plugin][fault][image]") {
  for (const char* point : {"image.upload:after-write", "image.upload:before-complete"}) {
    DYNAMIC_SECTION(point) {
      PluginTest t;
      const std::string path = t.file(5 << 20);
      {
        ScopedFaultPoints faults(point);
        require_injected(t.run(image_upload, {{"path", path}, {"name", "x"}}), point);
      }
      CHECK(t.images(kFast, "images").empty());
      CHECK(t.objects(kFast, "images").empty());
      CHECK(t.ok(image_list, Json::object())["images"].empty());
    }
  }
}

TEST_CASE("image.upload:before-claim leaves a dead run's partial upload as it was",
          "[plugin][fault][image]") {
  PluginTest t;
  const std::string path = t.file(5 << 20);
  const std::string id = t.ok(image_upload, {{"path", path}, {"name", "x"}})["id"];
  t.make_dead_partial("fast", id);
  const std::string dead = t.record_owner("fast", id);
  {
    ScopedFaultPoints faults("image.upload:before-claim");
    require_injected(t.run(image_upload, {{"path", path}, {"name", "x"}, {"resume", true}}),
                     "image.upload:before-claim");
  }
  CHECK(t.images(kFast, "images") == std::vector<std::string>{kImagePrefix + id});
  CHECK(t.record_owner("fast", id) == dead);
  CHECK(t.env.metadata(kFast, "images", kImagePrefix + id).count("rbdvol.complete") == 0);
  // Without the fault the upload resumes it and sends nothing again.
  Json resumed = t.ok(image_upload, {{"path", path}, {"name", "x"}, {"resume", true}});
  CHECK(resumed["id"] == id);
  CHECK(resumed["resumed"] == true);
  CHECK(resumed["chunks_written"] == 0);
  CHECK(t.env.metadata(kFast, "images", kImagePrefix + id).count("rbdvol.complete") == 1);
}

// --- image.copy ----------------------------------------------------------

TEST_CASE("image.copy fault points remove the partial copy and keep the source",
          "[plugin][fault][image]") {
  for (const char* point : {"image.copy:after-data", "image.copy:before-complete"}) {
    DYNAMIC_SECTION(point) {
      PluginTest t;
      const std::string id = t.image("fast", 6 << 20);
      {
        ScopedFaultPoints faults(point);
        require_injected(t.run(image_copy, {{"id", id}, {"to", "capacity"}}), point);
      }
      CHECK(t.images(kCapacity, "images").empty());
      CHECK(t.objects(kCapacity, "images").empty());
      CHECK(t.images(kFast, "images") == std::vector<std::string>{kImagePrefix + id});
      CHECK(t.ok(image_show, {{"id", id}})["locations"].size() == 1);
    }
  }
}

TEST_CASE("image.copy:after-data in a volume copied across backends leaves no volume",
          "[plugin][fault][volume]") {
  PluginTest t;
  const std::string source = t.volume("ssd");
  {
    ScopedFaultPoints faults("image.copy:after-data");
    require_injected(t.run(volume_create, {{"disk_type", "hdd"}, {"source_volume", source}}),
                     "image.copy:after-data");
  }
  CHECK(t.images(kCapacity, "volumes").empty());
  CHECK(t.env.snapshots(kFast, "volumes", kVolumePrefix + source).empty());
}

TEST_CASE("image.copy claim fault points and a dead run's partial copy", "[plugin][fault][image]") {
  PluginTest t;
  const std::string id = t.image("fast", 6 << 20);
  t.ok(image_copy, {{"id", id}, {"to", "capacity"}});
  t.make_dead_partial("capacity", id);
  const std::string dead = t.record_owner("capacity", id);
  SECTION("before-claim: the partial copy stays the dead run's") {
    ScopedFaultPoints faults("image.copy:before-claim");
    require_injected(t.run(image_copy, {{"id", id}, {"to", "capacity"}, {"resume", true}}),
                     "image.copy:before-claim");
    CHECK(t.record_owner("capacity", id) == dead);
  }
  SECTION("after-claim: the partial copy is this process's, still not complete") {
    ScopedFaultPoints faults("image.copy:after-claim");
    require_injected(t.run(image_copy, {{"id", id}, {"to", "capacity"}, {"resume", true}}),
                     "image.copy:after-claim");
    CHECK(t.record_owner("capacity", id) == this_process_owner());
  }
  CHECK(t.images(kCapacity, "images") == std::vector<std::string>{kImagePrefix + id});
  CHECK(t.env.metadata(kCapacity, "images", kImagePrefix + id).count("rbdvol.complete") == 0);
  CHECK(t.ok(image_show, {{"id", id}})["locations"].size() == 1);
}

TEST_CASE("image.copy resumes a dead run's partial copy without writing it again",
          "[plugin][image]") {
  PluginTest t;
  const std::string id = t.image("fast", 6 << 20);
  t.ok(image_copy, {{"id", id}, {"to", "capacity"}});
  t.make_dead_partial("capacity", id);
  Json resumed = t.ok(image_copy, {{"id", id}, {"to", "capacity"}, {"resume", true}});
  REQUIRE(resumed["copied"].size() == 1);
  CHECK(resumed["copied"][0]["resumed"] == true);
  CHECK(resumed["copied"][0]["chunks_written"] == 0);
  CHECK(resumed["locations"].size() == 2);
}

// --- image.create_from_volume --------------------------------------------

TEST_CASE("image.create_from_volume fault points leave no image and no snapshot of the volume",
          "[plugin][fault][image][volume]") {
  for (const char* point :
       {"image.create_from_volume:after-clone", "image.create_from_volume:before-complete"}) {
    DYNAMIC_SECTION(point) {
      PluginTest t;
      const std::string vol = t.volume();
      {
        ScopedFaultPoints faults(point);
        require_injected(t.run(image_create_from_volume, {{"volume", vol}, {"name", "i"}}), point);
      }
      CHECK(t.images(kFast, "images").empty());
      CHECK(t.env.snapshots(kFast, "volumes", kVolumePrefix + vol).empty());
      CHECK(t.ok(image_list, Json::object())["images"].empty());
      // The volume is not held: it deletes.
      t.ok(volume_delete, {{"id", vol}});
    }
  }
}

// --- image.download ------------------------------------------------------

TEST_CASE("image.download:after-data removes the partial file", "[plugin][fault][image]") {
  PluginTest t;
  const std::string path = t.file(3 << 20);
  const std::string id = t.ok(image_upload, {{"path", path}, {"name", "x"}})["id"];
  const std::string out = path + ".out";
  {
    ScopedFaultPoints faults("image.download:after-data");
    require_injected(t.run(image_download, {{"id", id}, {"path", out}}),
                     "image.download:after-data");
  }
  CHECK_FALSE(std::ifstream(out).good());
}

// --- image.delete --------------------------------------------------------

TEST_CASE("image.delete:before-remove removes nothing of the image", "[plugin][fault][image]") {
  PluginTest t;
  const std::string id = t.image("fast", 4 << 20);
  {
    ScopedFaultPoints faults("image.delete:before-remove");
    require_injected(t.run(image_delete, {{"id", id}}), "image.delete:before-remove");
  }
  CHECK(t.images(kFast, "images") == std::vector<std::string>{kImagePrefix + id});
  CHECK(t.ok(image_show, {{"id", id}})["id"] == id);
  t.ok(image_delete, {{"id", id}});
  CHECK(t.images(kFast, "images").empty());
}

TEST_CASE("image.delete:before-claim leaves a dead run's partial copy and the image",
          "[plugin][fault][image]") {
  PluginTest t;
  const std::string id = t.image("fast", 4 << 20);
  t.ok(image_copy, {{"id", id}, {"to", "capacity"}});
  t.make_dead_partial("capacity", id);
  const std::string dead = t.record_owner("capacity", id);
  {
    ScopedFaultPoints faults("image.delete:before-claim");
    require_injected(t.run(image_delete, {{"id", id}}), "image.delete:before-claim");
  }
  CHECK(t.images(kFast, "images") == std::vector<std::string>{kImagePrefix + id});
  CHECK(t.images(kCapacity, "images") == std::vector<std::string>{kImagePrefix + id});
  CHECK(t.record_owner("capacity", id) == dead);
  // Without the fault both go, the partial copy with its chunk record.
  Json deleted = t.ok(image_delete, {{"id", id}});
  CHECK(deleted["partials_removed"] == Json::array({"capacity"}));
  CHECK(t.images(kFast, "images").empty());
  CHECK(t.images(kCapacity, "images").empty());
  CHECK(t.objects(kCapacity, "images").empty());
}

}  // namespace
}  // namespace rbdvol::plugin::testing
