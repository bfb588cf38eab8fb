// The volume and image directories (records/directory.h) over the in-memory
// Env: operations run through the operation table (PluginTest::call), which
// brings the directory up to date after each; listings read it; a fault at
// directory.after-operation leaves the difference backend.check mends.
#include <catch2/catch.hpp>

#include <algorithm>

#include "plugin/abi/operation_table.h"
#include "plugin/ceph/omap_read.h"
#include "plugin/fault_injection.h"
#include "plugin/records/directory.h"
#include "plugin/records/naming.h"
#include "tests/unit/plugin_test_env.h"

namespace rbdvol::plugin::testing {
namespace {

// The item of volume `id` in a volume.list answer; null when not listed.
Json listed_volume(PluginTest& t, const std::string& id) {
  const Json listing = t.call_ok("volume.list", Json::object());
  for (const auto& v : listing["volumes"]) {
    if (v["id"] == id) return v;
  }
  return nullptr;
}

bool image_listed(PluginTest& t, const std::string& id) {
  const Json listing = t.call_ok("image.list", Json::object());
  for (const auto& i : listing["images"]) {
    if (i["id"] == id) return true;
  }
  return false;
}

// Volume `id`'s entry in fast's volume directory, read from its shard
// object; null when it has none.
Json volume_entry(PluginTest& t, const std::string& id) {
  auto pool = t.driver->cluster("fast")->open_volume_pool();
  REQUIRE(pool.ok());
  auto entry = directory_get(**pool, DirectoryKind::kVolumes, id);
  if (!entry.ok()) {
    REQUIRE(entry.status().err() == ENOENT);
    return nullptr;
  }
  return *entry;
}

bool has(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

TEST_CASE("listings follow create, extend and delete through the directory",
          "[plugin][directory]") {
  PluginTest t;
  const std::string id =
      t.call_ok("volume.create", {{"disk_type", "ssd"}, {"size", "8M"}, {"name", "listed"}})["id"];
  CHECK(volume_entry(t, id)["size"] == 8u << 20);
  Json item = listed_volume(t, id);
  REQUIRE(item.is_object());
  CHECK(item["name"] == "listed");
  CHECK(item["size"] == 8u << 20);
  CHECK(item["backend"] == "fast");
  CHECK(item["status"] == "available");

  t.call_ok("volume.extend", {{"id", id}, {"size", "16M"}});
  CHECK(volume_entry(t, id)["size"] == 16u << 20);
  CHECK(listed_volume(t, id)["size"] == 16u << 20);

  // Found by name through the name index.
  Json named = t.call_ok("volume.list", {{"name", "listed"}});
  REQUIRE(named["volumes"].size() == 1);
  CHECK(named["volumes"][0]["id"] == id);

  t.call_ok("volume.delete", {{"id", id}});
  CHECK(volume_entry(t, id).is_null());
  CHECK(listed_volume(t, id).is_null());

  const std::string image =
      t.call_ok("image.upload", {{"path", t.file(4 << 20)}, {"name", "dir-img"}})["id"];
  CHECK(image_listed(t, image));
  t.call_ok("image.delete", {{"id", image}});
  CHECK_FALSE(image_listed(t, image));
}

TEST_CASE("a fault at directory.after-operation leaves a difference that backend.check mends",
          "[plugin][directory][check]") {
  PluginTest t;
  t.call_ok("volume.list", Json::object());  // the directory is built (empty)

  std::string id;
  {
    ScopedFaultPoints faults("directory.after-operation");
    Json made = t.call_ok("volume.create", {{"disk_type", "ssd"}, {"size", "8M"}, {"name", "f"}});
    id = made["id"];
    // The volume exists; the answer says its entry was not written.
    REQUIRE(made["warnings"].size() == 1);
    CHECK(made["warnings"][0].get<std::string>().find("directory.after-operation") !=
          std::string::npos);
  }
  CHECK(t.ok(volume_show, {{"id", id}})["id"] == id);
  CHECK(listed_volume(t, id).is_null());
  Json found = t.call_ok("backend.check", {{"min_age", 0}});
  CHECK(PluginTest::finding_kinds(found) == std::vector<std::string>{"directory_missing"});
  CHECK(t.call_ok("backend.check", {{"min_age", 0}, {"repair", true}})["repaired"] == 1);
  CHECK(listed_volume(t, id)["size"] == 8u << 20);

  {
    ScopedFaultPoints faults("directory.after-operation");
    t.call_ok("volume.extend", {{"id", id}, {"size", "12M"}});
  }
  CHECK(listed_volume(t, id)["size"] == 8u << 20);  // the entry is out of date
  found = t.call_ok("backend.check", {{"min_age", 0}});
  CHECK(PluginTest::finding_kinds(found) == std::vector<std::string>{"directory_stale"});
  t.call_ok("backend.check", {{"min_age", 0}, {"repair", true}});
  CHECK(listed_volume(t, id)["size"] == 12u << 20);

  {
    ScopedFaultPoints faults("directory.after-operation");
    t.call_ok("volume.delete", {{"id", id}});
  }
  // The entry stays, naming nothing; listings leave it out.
  CHECK(volume_entry(t, id).is_object());
  CHECK(listed_volume(t, id).is_null());
  found = t.call_ok("backend.check", {{"min_age", 0}});
  CHECK(PluginTest::finding_kinds(found) == std::vector<std::string>{"directory_orphan"});
  t.call_ok("backend.check", {{"min_age", 0}, {"repair", true}});
  CHECK(volume_entry(t, id).is_null());
  CHECK(t.call_ok("backend.check", {{"min_age", 0}})["findings"].empty());
}

// The backends image `id` is listed in (image.list's "locations").
std::vector<std::string> listed_locations(PluginTest& t, const std::string& id) {
  std::vector<std::string> out;
  const Json listing = t.call_ok("image.list", Json::object());
  for (const auto& i : listing["images"]) {
    if (i["id"] != id) continue;
    for (const auto& l : i["locations"]) out.push_back(l["backend"]);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// A volume made from an image in a backend that holds no copy of it copies
// the image there first: that copy is listed as any other (the soak's
// unexplained directory_missing of an image).
TEST_CASE("a volume made from an image in another backend lists the image copy it made",
          "[plugin][directory]") {
  PluginTest t;
  const std::string image =
      t.call_ok("image.upload",
                {{"path", t.file(4 << 20)}, {"name", "elsewhere"}, {"backend", "fast"}})["id"];
  // Both backends' image directories are built.
  CHECK(listed_locations(t, image) == std::vector<std::string>{"fast"});

  SECTION("the volume is made") {
    Json made = t.call_ok("volume.create", {{"disk_type", "hdd"}, {"image", image}});
    REQUIRE(made["backend"] == "capacity");
    REQUIRE(has(made["steps"].get<std::vector<std::string>>(), "copy"));
    CHECK_FALSE(made.contains("warnings"));
  }
  SECTION("the volume fails after the copy was made") {
    ScopedFaultPoints faults("volume.create:after-create");
    auto made = t.call("volume.create", {{"disk_type", "hdd"}, {"image", image}});
    REQUIRE_FALSE(made.ok());
    REQUIRE(has(t.images(kCapacity, "images"), kImagePrefix + image));
  }
  CHECK(listed_locations(t, image) == std::vector<std::string>{"capacity", "fast"});
  // (The failed create leaves the copy's snapshot without a clone: an
  // unused_image_snapshot, not the directory's.)
  for (const auto& kind : PluginTest::finding_kinds(t.call_ok("backend.check", {{"min_age", 0}}))) {
    CHECK(kind.rfind("directory_", 0) != 0);
  }
}

// Two processes touching one volume at once: this one's operation reads the
// image for its directory refresh; right then, before it writes the entry,
// another process changes the volume and writes its own entry. The refresh
// that read first must not write its older entry over the newer one.
TEST_CASE("a directory refresh that read the image before another process changed it loses",
          "[plugin][directory]") {
  PluginTest t;
  t.call_ok("volume.list", Json::object());  // the directory is built
  const std::string id =
      t.call_ok("volume.create", {{"disk_type", "ssd"}, {"size", "8M"}, {"name", "raced"}})["id"];
  auto other = t.another_process();
  // The other process acts at this process's first write to the directory.
  Result<Json> others = Status::Error(EINVAL, "the other process did not run");
  auto meanwhile = [&](const std::string& op, const Json& request) {
    t.env.before_next_write(
        kFast, "volumes", directory_header_oid(DirectoryKind::kVolumes) + ".",
        [&, op, request] { others = call_operation(*other, op, request, Progress()); });
  };

  SECTION("two extends: the entry says the later size") {
    meanwhile("volume.extend", {{"id", id}, {"size", "16M"}});
    Json mine = t.call_ok("volume.extend", {{"id", id}, {"size", "12M"}});
    INFO((others.ok() ? others->dump() : others.status().message()));
    REQUIRE(others.ok());
    CHECK_FALSE(mine.contains("warnings"));
    CHECK(t.ok(volume_show, {{"id", id}})["size"] == 16u << 20);
    CHECK(volume_entry(t, id)["size"] == 16u << 20);
    CHECK(listed_volume(t, id)["size"] == 16u << 20);
  }
  SECTION("an extend and a delete: no entry comes back for the deleted volume") {
    meanwhile("volume.delete", {{"id", id}});
    t.call_ok("volume.extend", {{"id", id}, {"size", "12M"}});
    INFO((others.ok() ? others->dump() : others.status().message()));
    REQUIRE(others.ok());
    CHECK(t.images(kFast, "volumes").empty());
    CHECK(volume_entry(t, id).is_null());
  }
  SECTION("a rename and a rename back: the entry has the name the volume has") {
    t.call_ok("volume.update", {{"id", id}, {"name", "second"}});
    meanwhile("volume.update", {{"id", id}, {"name", "raced"}});
    t.call_ok("volume.update", {{"id", id}, {"name", "third"}});
    REQUIRE(others.ok());
    const std::string name = t.ok(volume_show, {{"id", id}})["name"];
    CHECK(volume_entry(t, id)["name"] == name);
    CHECK(t.call_ok("volume.list", {{"name", name}})["volumes"].size() == 1);
  }
  // Whatever happened, the directory agrees with the pool.
  CHECK(t.call_ok("backend.check", {{"min_age", 0}})["findings"].empty());
}

TEST_CASE("a pool without a directory gets one from its volumes on the first listing",
          "[plugin][directory]") {
  PluginTest t;
  // Made without the operation table: no directory update, as on a cluster
  // whose volumes are older than the directory.
  const std::string a = t.volume();
  const std::string b = t.volume("ssd", "4M");
  const std::string header = directory_header_oid(DirectoryKind::kVolumes);
  REQUIRE_FALSE(has(t.objects(kFast, "volumes"), header));

  CHECK(listed_volume(t, a).is_object());
  CHECK(listed_volume(t, b)["size"] == 4u << 20);
  REQUIRE(has(t.objects(kFast, "volumes"), header));
  CHECK(t.env.omap(kFast, "volumes", header).count("built") == 1);
  CHECK(volume_entry(t, a).is_object());
  CHECK(volume_entry(t, b)["size"] == 4u << 20);

  // From now on listings read the directory, not the pool: a volume made
  // behind its back is not listed until backend.check writes its entry.
  const std::string c = t.volume();
  CHECK(listed_volume(t, c).is_null());
  Json found = t.call_ok("backend.check", {{"min_age", 0}, {"repair", true}});
  CHECK(PluginTest::finding_kinds(found) == std::vector<std::string>{"directory_missing"});
  CHECK(listed_volume(t, c).is_object());
}

TEST_CASE("omap reads page through objects larger than a page, many objects at once",
          "[plugin][directory]") {
  PluginTest t;
  auto pool = t.driver->cluster("fast")->open_volume_pool();
  REQUIRE(pool.ok());
  // "big" holds 2.5 pages under the prefix and keys on both sides of it;
  // "small" one key; "absent" does not exist.
  ObjectWrite big, small;
  const uint64_t n = kOmapReadPage * 5 / 2;
  for (uint64_t i = 0; i < n; ++i) big.omap_set["k." + std::to_string(100000 + i)] = "v";
  big.omap_set["a"] = "before";
  big.omap_set["z"] = "after";
  small.omap_set["k.only"] = "1";
  REQUIRE((*pool)->operate("big", big).ok());
  REQUIRE((*pool)->operate("small", small).ok());

  auto one = omap_read_all(**pool, "big", "k.");
  REQUIRE(one.ok());
  CHECK(one->size() == n);
  CHECK(one->count("a") == 0);
  CHECK(one->count("z") == 0);
  CHECK(omap_read_all(**pool, "absent", "").status().err() == ENOENT);

  auto many = omap_read_all_of(**pool, {"small", "absent", "big"}, "k.");
  REQUIRE(many.ok());
  REQUIRE(many->size() == 3);
  CHECK((*many)[0] == std::map<std::string, std::string>{{"k.only", "1"}});
  CHECK((*many)[1].empty());
  CHECK((*many)[2] == *one);
}

}  // namespace
}  // namespace rbdvol::plugin::testing
