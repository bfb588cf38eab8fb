// The plugin's volume, snapshot, image and attachment-record operations over
// the in-memory Env (memory_env.h): what each leaves in the clusters.
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "plugin/records/naming.h"
#include "tests/unit/plugin_test_env.h"

namespace rbdvol::plugin::testing {
namespace {

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST_CASE("a blank volume is created in the backend its disk type matches", "[plugin][volume]") {
  PluginTest t;
  Json ssd = t.ok(volume_create, {{"disk_type", "ssd"}, {"size", "8M"}, {"name", "a"}});
  CHECK(ssd["backend"] == "fast");
  CHECK(ssd["method"] == "blank");
  CHECK(t.images(kFast, "volumes") == std::vector<std::string>{ssd["image"]});
  Json hdd = t.ok(volume_create, {{"disk_type", "hdd"}, {"size", "8M"}});
  CHECK(hdd["backend"] == "capacity");
  CHECK(t.images(kCapacity, "volumes") == std::vector<std::string>{hdd["image"]});
  auto meta = t.env.metadata(kFast, "volumes", ssd["image"]);
  CHECK(meta["rbdvol.disk_type"] == "ssd");
  CHECK(meta["rbdvol.name"] == "a");
  CHECK(meta["rbdvol.attachments"] == "[]");
}

TEST_CASE("volume.create refuses an unknown disk type and a missing size", "[plugin][volume]") {
  PluginTest t;
  CHECK(t.run(volume_create, {{"disk_type", "nope"}, {"size", "8M"}}).status().err() == ENOENT);
  CHECK(t.run(volume_create, {{"disk_type", "ssd"}}).status().err() == EINVAL);
  CHECK(t.images(kFast, "volumes").empty());
}

TEST_CASE("volume.show and volume.list report a created volume", "[plugin][volume]") {
  PluginTest t;
  const std::string id = t.volume();
  Json shown = t.ok(volume_show, {{"id", id}});
  CHECK(shown["id"] == id);
  CHECK(shown["size"] == 8u << 20);
  CHECK(shown["disk_type"] == "ssd");
  Json listed = t.ok(volume_list, Json::object());
  bool found = false;
  for (const auto& v : listed["volumes"]) found = found || v["id"] == id;
  CHECK(found);
}

TEST_CASE("volume.extend grows a volume and never shrinks it", "[plugin][volume]") {
  PluginTest t;
  const std::string id = t.volume();
  Json grown = t.ok(volume_extend, {{"id", id}, {"size", "16M"}});
  CHECK(grown["size"] == 16u << 20);
  auto smaller = t.run(volume_extend, {{"id", id}, {"size", "4M"}});
  CHECK_FALSE(smaller.ok());
  CHECK(t.ok(volume_show, {{"id", id}})["size"] == 16u << 20);
}

TEST_CASE("volume.delete removes the volume and a second delete says it is gone",
          "[plugin][volume]") {
  PluginTest t;
  const std::string id = t.volume();
  t.ok(volume_delete, {{"id", id}});
  CHECK(t.images(kFast, "volumes").empty());
  auto again = t.run(volume_delete, {{"id", id}});
  if (again.ok()) {
    CHECK(again->value("already_gone", false));
  } else {
    CHECK(again.status().err() == ENOENT);
  }
}

TEST_CASE("a volume cloned from a volume gets a hidden snapshot that goes with the clone",
          "[plugin][volume][clone]") {
  PluginTest t;
  const std::string source = t.volume();
  Json clone = t.ok(volume_create, {{"disk_type", "ssd"}, {"source_volume", source}});
  CHECK(clone["method"] == "clone");
  const std::string source_rbd = kVolumePrefix + source;
  auto snaps = t.env.snapshots(kFast, "volumes", source_rbd);
  REQUIRE(snaps.size() == 1);
  CHECK(snaps[0] == "rbdvol-clone-" + clone["id"].get<std::string>());
  // The source cannot go while the clone depends on it, unless cascade.
  t.ok(volume_delete, {{"id", clone["id"]}});
  CHECK(t.env.snapshots(kFast, "volumes", source_rbd).empty());
  t.ok(volume_delete, {{"id", source}});
  CHECK(t.images(kFast, "volumes").empty());
}

TEST_CASE("a volume from an image clones the image's protected snap in the same backend",
          "[plugin][volume][image]") {
  PluginTest t;
  const std::string image = t.image("fast");
  Json vol = t.ok(volume_create, {{"disk_type", "ssd"}, {"image", image}});
  CHECK(vol["method"] == "clone");
  CHECK(vol["backend"] == "fast");
  CHECK(t.env.snapshots(kFast, "images", kImagePrefix + image) ==
        std::vector<std::string>{kImageSnapshot});
  // The clone's metadata is the volume's, not the image's.
  auto meta = t.env.metadata(kFast, "volumes", vol["image"]);
  CHECK(meta.count("rbdvol.complete") == 0);
  CHECK(meta["rbdvol.source_image"] == image);
  // The image cannot be deleted while the volume is its clone.
  auto refused = t.run(image_delete, {{"id", image}});
  CHECK(refused.status().err() == EBUSY);
  CHECK(contains(t.images(kFast, "images"), kImagePrefix + image));
}

TEST_CASE("a volume from an image held by another backend copies the image there first",
          "[plugin][volume][image]") {
  PluginTest t;
  const std::string image = t.image("fast");
  Json vol = t.ok(volume_create, {{"disk_type", "hdd"}, {"image", image}});
  CHECK(vol["method"] == "copy");
  CHECK(vol["backend"] == "capacity");
  CHECK(contains(t.images(kCapacity, "images"), kImagePrefix + image));
  Json shown = t.ok(image_show, {{"id", image}});
  CHECK(shown["locations"].size() == 2);
  // A second volume clones the copy: no second copy.
  Json second = t.ok(volume_create, {{"disk_type", "hdd"}, {"image", image}});
  CHECK(second["method"] == "clone");
}

TEST_CASE("a volume from a snapshot clones it, and the snapshot is protected meanwhile",
          "[plugin][volume][snapshot]") {
  PluginTest t;
  const std::string source = t.volume();
  Json snap = t.ok(snapshot_create, {{"volume", source}, {"name", "s1"}});
  Json clone = t.ok(volume_create, {{"disk_type", "ssd"}, {"snapshot", snap["id"]}});
  CHECK(clone["method"] == "clone");
  CHECK(clone["source_snapshot"] == snap["id"]);
  Json listed = t.ok(snapshot_list, {{"volume", source}});
  REQUIRE(listed["snapshots"].size() == 1);
  CHECK(listed["snapshots"][0]["protected"] == true);
  CHECK(listed["snapshots"][0]["clones"].size() == 1);
}

TEST_CASE("snapshot.create records the snapshot in the directory and its metadata",
          "[plugin][snapshot]") {
  PluginTest t;
  const std::string vol = t.volume();
  Json snap = t.ok(snapshot_create, {{"volume", vol}, {"name", "before"}});
  const std::string uuid = snap["id"];
  CHECK(snap["name"] == "before");
  auto dir = t.env.omap(kFast, "volumes", "rbdvol_snapshots");
  auto objects = t.objects(kFast, "volumes");
  REQUIRE(objects.size() == 1);
  CHECK(t.env.omap(kFast, "volumes", objects[0])[uuid] == kVolumePrefix + vol);
  CHECK(t.env.snapshots(kFast, "volumes", kVolumePrefix + vol) ==
        std::vector<std::string>{"snapshot-" + uuid});
}

TEST_CASE("snapshot.delete removes the snapshot, its metadata and its directory entry",
          "[plugin][snapshot]") {
  PluginTest t;
  const std::string vol = t.volume();
  const std::string uuid = t.ok(snapshot_create, {{"volume", vol}, {"name", "s"}})["id"];
  t.ok(snapshot_delete, {{"id", uuid}});
  CHECK(t.env.snapshots(kFast, "volumes", kVolumePrefix + vol).empty());
  for (const auto& [k, v] : t.env.metadata(kFast, "volumes", kVolumePrefix + vol)) {
    CHECK(k.find(uuid) == std::string::npos);
  }
  for (const auto& oid : t.objects(kFast, "volumes")) {
    CHECK(t.env.omap(kFast, "volumes", oid).count(uuid) == 0);
  }
  Json again = t.ok(snapshot_delete, {{"id", uuid}});
  CHECK(again["already_gone"] == true);
  CHECK(again["deleted"] == false);
}

TEST_CASE("snapshot.delete flattens the clones of the snapshot so they keep their data",
          "[plugin][snapshot][clone]") {
  PluginTest t;
  const std::string vol = t.volume();
  const std::string uuid = t.ok(snapshot_create, {{"volume", vol}})["id"];
  Json clone = t.ok(volume_create, {{"disk_type", "ssd"}, {"snapshot", uuid}});
  CHECK(t.ok(volume_show, {{"id", clone["id"]}})["parent"]["image"] == kVolumePrefix + vol);
  Json deleted = t.ok(snapshot_delete, {{"id", uuid}});
  CHECK(deleted["flattened"].size() == 1);
  CHECK(t.env.snapshots(kFast, "volumes", kVolumePrefix + vol).empty());
  Json shown = t.ok(volume_show, {{"id", clone["id"]}});
  CHECK(shown["parent"].is_null());
}

TEST_CASE("snapshot.revert rolls a volume back, and is refused while it is attached",
          "[plugin][snapshot][attachment]") {
  PluginTest t;
  const std::string vol = t.volume();
  const std::string uuid = t.ok(snapshot_create, {{"volume", vol}})["id"];
  t.ok(volume_extend, {{"id", vol}, {"size", "16M"}});
  t.ok(attachment_create, {{"volume", vol}, {"domain", "guest1"}});
  CHECK(t.run(snapshot_revert, {{"id", uuid}}).status().err() == EBUSY);
  t.ok(attachment_delete, {{"volume", vol}, {"domain", "guest1"}});
  Json reverted = t.ok(snapshot_revert, {{"id", uuid}});
  CHECK(reverted["size"] == 8u << 20);
}

TEST_CASE("attachment records: reserve, mark attached, delete", "[plugin][attachment]") {
  PluginTest t;
  const std::string vol = t.volume();
  Json created = t.ok(attachment_create, {{"volume", vol}, {"domain", "guest1"}});
  CHECK(created["attachments"].size() == 1);
  CHECK(created["connection"].contains("hosts"));
  Json updated =
      t.ok(attachment_update, {{"volume", vol}, {"domain", "guest1"}, {"target_dev", "vdb"}});
  CHECK(updated["attachments"][0]["state"] == "attached");
  CHECK(updated["attachments"][0]["target_dev"] == "vdb");
  auto records =
      Json::parse(t.env.metadata(kFast, "volumes", kVolumePrefix + vol)["rbdvol.attachments"]);
  CHECK(records.size() == 1);
  Json deleted = t.ok(attachment_delete, {{"volume", vol}, {"domain", "guest1"}});
  CHECK(deleted["removed"] == true);
  CHECK(deleted["attachments"].empty());
  CHECK(t.ok(attachment_delete, {{"volume", vol}, {"domain", "guest1"}})["removed"] == false);
}

TEST_CASE("a volume that is not multiattach is attached to one domain only",
          "[plugin][attachment]") {
  PluginTest t;
  const std::string vol = t.volume("ssd");
  t.ok(attachment_create, {{"volume", vol}, {"domain", "guest1"}});
  CHECK(t.run(attachment_create, {{"volume", vol}, {"domain", "guest2"}}).status().err() == EBUSY);
  CHECK(t.run(attachment_create, {{"volume", vol}, {"domain", "guest1"}}).status().err() == EEXIST);
  CHECK(t.run(attachment_update, {{"volume", vol}, {"domain", "guest9"}}).status().err() == ENOENT);
}

TEST_CASE("a multiattach volume has its lock features off and takes several domains",
          "[plugin][attachment]") {
  PluginTest t;
  const std::string vol = t.volume("shared");
  Json shown = t.ok(volume_show, {{"id", vol}});
  for (const auto& f : shown["features"]) {
    CHECK(f != "exclusive-lock");
    CHECK(f != "object-map");
  }
  t.ok(attachment_create, {{"volume", vol}, {"domain", "guest1"}});
  Json second = t.ok(attachment_create, {{"volume", vol}, {"domain", "guest2"}});
  CHECK(second["attachments"].size() == 2);
  CHECK(t.run(volume_delete, {{"id", vol}}).status().err() == EBUSY);
}

TEST_CASE("volume.delete is refused while a client has the volume open", "[plugin][volume]") {
  PluginTest t;
  const std::string vol = t.volume();
  auto pool = t.driver->cluster("fast")->open_volume_pool();
  REQUIRE(pool.ok());
  auto open = (*pool)->open_image(kVolumePrefix + vol, "", false);
  REQUIRE(open.ok());
  CHECK(t.run(volume_delete, {{"id", vol}}).status().err() == EBUSY);
  open->reset();
  t.ok(volume_delete, {{"id", vol}});
}

TEST_CASE("image.upload makes a complete image with a chunk record and a checksum",
          "[plugin][image]") {
  PluginTest t;
  const std::string path = t.file(9 << 20);
  Json up = t.ok(image_upload, {{"path", path}, {"name", "debian"}, {"backend", "capacity"}});
  const std::string rbd = kImagePrefix + up["id"].get<std::string>();
  CHECK(t.images(kCapacity, "images") == std::vector<std::string>{rbd});
  auto meta = t.env.metadata(kCapacity, "images", rbd);
  CHECK(meta.count("rbdvol.complete") == 1);
  CHECK(meta.count("rbdvol.incomplete") == 0);
  CHECK(meta["rbdvol.name"] == "debian");
  CHECK(up["checksum"].get<std::string>().rfind("sha256-chunks-", 0) == 0);
  CHECK(up["chunks_zero"] >= 0);
  CHECK(t.objects(kCapacity, "images") == std::vector<std::string>{"rbdvol_chunks." + rbd});
  Json listed = t.ok(image_list, Json::object());
  REQUIRE(listed["images"].size() == 1);
  CHECK(listed["images"][0]["name"] == "debian");
}

TEST_CASE("an uploaded image downloads to the same bytes and verifies", "[plugin][image]") {
  PluginTest t;
  const std::string path = t.file((5 << 20) + 4096);
  const std::string id = t.ok(image_upload, {{"path", path}, {"name", "x"}})["id"];
  const std::string out = path + ".out";
  t.ok(image_download, {{"id", id}, {"path", out}});
  CHECK(read_file(out) == read_file(path));
  Json verified = t.ok(image_verify, {{"id", id}});
  CHECK(verified["ok"] == true);
}

TEST_CASE("image.copy adds a copy in another backend with the same bytes and checksum",
          "[plugin][image]") {
  PluginTest t;
  const std::string path = t.file(6 << 20);
  const std::string id = t.ok(image_upload, {{"path", path}, {"name", "x"}})["id"];
  Json copied = t.ok(image_copy, {{"id", id}, {"to", "capacity"}});
  CHECK(copied["copied"].size() == 1);
  CHECK(copied["locations"].size() == 2);
  auto fast = t.env.metadata(kFast, "images", kImagePrefix + id);
  auto capacity = t.env.metadata(kCapacity, "images", kImagePrefix + id);
  CHECK(capacity["rbdvol.checksum"] == fast["rbdvol.checksum"]);
  CHECK(capacity.count("rbdvol.complete") == 1);
  Json again = t.ok(image_copy, {{"id", id}, {"to", "capacity"}});
  CHECK(again["skipped"].size() == 1);
  const std::string out = path + ".out";
  t.ok(image_download, {{"id", id}, {"path", out}, {"backend", "capacity"}});
  CHECK(read_file(out) == read_file(path));
}

TEST_CASE("image.delete removes every copy, or one backend's", "[plugin][image]") {
  PluginTest t;
  const std::string id = t.image("fast", 4 << 20);
  t.ok(image_copy, {{"id", id}, {"to", "capacity"}});
  Json one = t.ok(image_delete, {{"id", id}, {"backend", "capacity"}});
  CHECK(one["deleted_from"] == Json::array({"capacity"}));
  CHECK(t.images(kCapacity, "images").empty());
  CHECK(t.objects(kCapacity, "images").empty());
  t.ok(image_delete, {{"id", id}});
  CHECK(t.images(kFast, "images").empty());
  CHECK(t.objects(kFast, "images").empty());
  CHECK(t.run(image_show, {{"id", id}}).status().err() == ENOENT);
}

TEST_CASE("image.delete with force flattens the volumes cloned from it", "[plugin][image]") {
  PluginTest t;
  const std::string id = t.image("fast", 4 << 20);
  Json vol = t.ok(volume_create, {{"disk_type", "ssd"}, {"image", id}});
  CHECK(t.ok(volume_show, {{"id", vol["id"]}})["parent"]["image"] == kImagePrefix + id);
  Json deleted = t.ok(image_delete, {{"id", id}, {"force", true}});
  CHECK(deleted["flattened"].size() == 1);
  CHECK(t.images(kFast, "images").empty());
  CHECK(t.ok(volume_show, {{"id", vol["id"]}})["parent"].is_null());
}

TEST_CASE("image.create_from_volume makes an independent image of the volume",
          "[plugin][image][volume]") {
  PluginTest t;
  const std::string image = t.image("fast", 4 << 20);
  const std::string vol = t.ok(volume_create, {{"disk_type", "ssd"}, {"image", image}})["id"];
  Json made = t.ok(image_create_from_volume, {{"volume", vol}, {"name", "from-vol"}});
  const std::string rbd = kImagePrefix + made["id"].get<std::string>();
  CHECK(contains(t.images(kFast, "images"), rbd));
  auto meta = t.env.metadata(kFast, "images", rbd);
  CHECK(meta["rbdvol.source_volume"] == vol);
  CHECK(meta.count("rbdvol.complete") == 1);
  CHECK(meta.count("rbdvol.disk_type") == 0);  // the volume's keys are not the image's
  // Independent: the volume goes, the image stays; no hidden snapshot is left.
  t.ok(volume_delete, {{"id", vol}});
  CHECK(t.images(kFast, "volumes").empty());
  CHECK(t.ok(image_show, {{"id", made["id"]}})["name"] == "from-vol");
}

TEST_CASE("a backend that does not answer is named, and the other still serves",
          "[plugin][backend]") {
  PluginTest t;
  const std::string vol = t.volume("ssd");
  t.env.set_reachable(kCapacity, false);
  auto hdd = t.run(volume_create, {{"disk_type", "hdd"}, {"size", "8M"}});
  REQUIRE_FALSE(hdd.ok());
  CHECK(hdd.status().message().find("capacity") != std::string::npos);
  CHECK(t.ok(volume_show, {{"id", vol}})["id"] == vol);
}

TEST_CASE("backend.check reports nothing for healthy volumes, images and snapshots",
          "[plugin][check]") {
  PluginTest t;
  const std::string image = t.image("fast", 4 << 20);
  const std::string vol = t.ok(volume_create, {{"disk_type", "ssd"}, {"image", image}})["id"];
  const std::string snap = t.ok(snapshot_create, {{"volume", vol}})["id"];
  t.ok(volume_create, {{"disk_type", "ssd"}, {"source_volume", vol}});
  t.ok(volume_create, {{"disk_type", "ssd"}, {"snapshot", snap}});
  t.ok(image_copy, {{"id", image}, {"to", "capacity"}});
  Json check = t.ok(backend_check, {{"min_age", 0}});
  CHECK(check["findings"].empty());
  CHECK(check["unreachable"].empty());
  CHECK(check["backends"].size() == 2);
}

// What dead runs and outside tools leave in backend fast: a dead run's
// partial upload, and a hidden clone snapshot of volume `source` whose clone
// was removed behind rbdvol's back. Returns `source`.
std::string plant_leftovers(PluginTest& t) {
  t.make_dead_partial("fast", t.image("fast", 4 << 20));
  const std::string source = t.volume();
  const std::string clone =
      t.ok(volume_create, {{"disk_type", "ssd"}, {"source_volume", source}})["id"];
  auto pool = t.driver->cluster("fast")->open_volume_pool();
  REQUIRE(pool.ok());
  REQUIRE((*pool)->remove_image(kVolumePrefix + clone).ok());
  return source;
}

TEST_CASE("backend.check finds what dead runs left, and repair mends it", "[plugin][check]") {
  PluginTest t;
  const std::string source = plant_leftovers(t);
  // A snapshot-directory entry for a snapshot no volume has.
  auto pool = t.driver->cluster("fast")->open_volume_pool();
  REQUIRE(pool.ok());
  ObjectWrite entry;
  entry.omap_set["0b7e8a4c-1d2e-4f60-9a8b-7c6d5e4f3a21"] = kVolumePrefix + source;
  REQUIRE((*pool)->operate("rbdvol_snapshot_directory", entry).ok());

  Json found = t.ok(backend_check, {{"min_age", 0}});
  CHECK(PluginTest::finding_kinds(found) == std::vector<std::string>{"childless_hidden_snapshot",
                                                                     "dead_partial_image",
                                                                     "entry_without_snapshot"});
  CHECK(found["remaining"] == 3);
  // Nothing is touched without repair.
  CHECK(t.env.snapshots(kFast, "volumes", kVolumePrefix + source).size() == 1);

  Json repaired = t.ok(backend_check, {{"min_age", 0}, {"repair", true}});
  CHECK(repaired["repaired"] == 3);
  CHECK(repaired["remaining"] == 0);
  CHECK(t.env.snapshots(kFast, "volumes", kVolumePrefix + source).empty());
  CHECK(t.images(kFast, "images").empty());
  CHECK(t.objects(kFast, "images").empty());
  CHECK(t.env.omap(kFast, "volumes", "rbdvol_snapshot_directory").empty());
  CHECK(t.ok(backend_check, {{"min_age", 0}})["findings"].empty());
}

TEST_CASE("backend.check leaves young things alone: they may be an operation still running",
          "[plugin][check]") {
  PluginTest t;
  const std::string source = plant_leftovers(t);
  Json found = t.ok(backend_check, {{"min_age", 3600}, {"repair", true}});
  CHECK(PluginTest::finding_kinds(found) == std::vector<std::string>{"dead_partial_image"});
  CHECK(t.env.snapshots(kFast, "volumes", kVolumePrefix + source).size() == 1);
}

TEST_CASE("volume.retype to a multiattach type turns the lock features off, and back on",
          "[plugin][volume]") {
  PluginTest t;
  const std::string vol = t.volume("ssd");
  auto has = [&](const std::string& feature) {
    Json features = t.ok(volume_show, {{"id", vol}})["features"];
    return std::find(features.begin(), features.end(), feature) != features.end();
  };
  REQUIRE(has("exclusive-lock"));
  t.ok(volume_retype, {{"id", vol}, {"disk_type", "shared"}});
  CHECK_FALSE(has("exclusive-lock"));
  CHECK_FALSE(has("object-map"));
  CHECK(t.env.metadata(kFast, "volumes", kVolumePrefix + vol).count("rbdvol.saved_features") == 1);
  t.ok(volume_retype, {{"id", vol}, {"disk_type", "ssd"}});
  CHECK(has("exclusive-lock"));
  CHECK(has("object-map"));
  CHECK(t.env.metadata(kFast, "volumes", kVolumePrefix + vol).count("rbdvol.saved_features") == 0);
  // To a type of another backend: refused, nothing changed.
  CHECK_FALSE(t.run(volume_retype, {{"id", vol}, {"disk_type", "hdd"}}).ok());
  CHECK(t.ok(volume_show, {{"id", vol}})["disk_type"] == "ssd");
}

TEST_CASE("volume.connection gives the monitors, the pool and image, and the secret",
          "[plugin][volume]") {
  PluginTest t;
  const std::string vol = t.volume("shared");
  Json c = t.ok(volume_connection, {{"id", vol}});
  INFO(c.dump());
  CHECK(c["hosts"].size() == 1);
  CHECK(c["name"] == "volumes/" + kVolumePrefix + vol);
  CHECK(c["secret_uuid"] == "5f0c3a56-1b2c-4d5e-8f90-a1b2c3d4e5f6");
  CHECK(c["multiattach"] == true);
  CHECK(c["hosts"][0] == "127.0.0.1");
  CHECK(c["ports"][0] == "6789");
}

}  // namespace
}  // namespace rbdvol::plugin::testing
