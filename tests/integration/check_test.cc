// rbdvol check: each thing a crash, a kill or an outside tool leaves is
// planted on the sandbox's real clusters, found with its kind and suggested
// repair, mended by --repair, and gone from a second check. Other tests run
// on the same clusters at the same time, so every check here is scoped with
// --only to the ids planted (or only looks for what it planted).
#include <signal.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>

#include "tests/integration/rbd_bytes.h"
#include "tests/integration/sandbox.h"

using namespace rbdvol::test;
using nlohmann::json;

namespace {

std::string join(const std::vector<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) out += (out.empty() ? "" : ",") + id;
  return out;
}

// `rbdvol --json [--config C] check --min-age 0 --only IDS ARGS...`: its
// answer and exit code.
struct CheckRun {
  int exit_code = -1;
  json answer;
};
CheckRun run_check(const std::vector<std::string>& ids, const std::vector<std::string>& args = {},
                   const std::string& config = "") {
  std::vector<std::string> argv = {"--json"};
  if (!config.empty()) argv.insert(argv.end(), {"--config", config});
  argv.insert(argv.end(), {"check", "--min-age", "0", "--only", join(ids)});
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run_rbdvol(argv);
  INFO("rbdvol check: " << r.out << "\nstderr: " << r.err);
  REQUIRE(!r.out.empty());
  return {r.exit_code, json::parse(r.out)};
}

// The findings of `kind` that name `id`.
std::vector<json> findings_of(const json& answer, const std::string& kind, const std::string& id) {
  std::vector<json> out;
  for (const auto& f : answer.at("findings")) {
    const auto& ids = f.at("ids");
    if (f.at("kind") == kind && std::find(ids.begin(), ids.end(), id) != ids.end()) {
      out.push_back(f);
    }
  }
  return out;
}

void rbd(const std::string& backend, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"rbd", "-c", ceph_conf_of(backend)};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run(argv);
  INFO("rbd " << args.front() << ": " << r.err);
  REQUIRE(r.exit_code == 0);
}

// The volume-<uuid> images of fast's volume pool.
std::vector<std::string> fast_volumes() {
  auto r = run({"rbd", "-c", ceph_conf_of("fast"), "ls", "volumes"});
  REQUIRE(r.exit_code == 0);
  std::vector<std::string> out;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("volume-", 0) == 0) out.push_back(line);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// A killed process's watch on an image lingers until the OSDs time it out
// (30 s): a snapshot made meanwhile waits for it to answer, and so does the
// cleanup's removal. An operator fences a dead host; so does this.
void fence_killed_writer(CephView& ceph, const std::string& pool, const std::string& image) {
  if (!ceph.image_exists(pool, image)) return;
  for (const auto& watcher : ceph.watchers(pool, image)) ceph.blocklist(watcher);
}

}  // namespace

TEST_CASE(
    "check finds each planted leftover with its repair, --repair mends it, and a second check "
    "is clean",
    "[integration][check]") {
  ImageCleanup cleanup;
  CephView fast("fast"), capacity("capacity");
  std::vector<std::string> ids;

  // 1. A copy killed half way: a partial image in capacity whose writer is dead.
  const std::string copied = upload_random_image(12 << 20, "fast", "check-partial");
  cleanup.add("fast", "images", "image-" + copied);
  cleanup.add("capacity", "images", "image-" + copied);
  copy_to_capacity_killed(copied, "image.copy:kill-after-chunk=1");
  fence_killed_writer(capacity, "images", "image-" + copied);
  ids.push_back(copied);

  // 2. A hidden clone snapshot whose clone is gone; 3. a snapshot.create
  // killed before its directory entry; 4. an entry naming a snapshot no
  // volume has.
  auto volume = rbdvol_json({"volume", "create", "--type", "ssd", "--size", "8M"});
  cleanup.add(volume);
  const std::string vol_id = volume.at("id"), vol_image = volume.at("image");
  ids.push_back(vol_id);
  const std::string gone_clone = random_uuid();
  rbd("fast", {"snap", "create", "volumes/" + vol_image + "@rbdvol-clone-" + gone_clone});
  run_killed({"snapshot", "create", vol_id}, "snapshot.create:before-directory=kill");
  fence_killed_writer(fast, "volumes", vol_image);
  std::string killed_snap;
  for (const auto& s : fast.snapshots("volumes", vol_image)) {
    if (s.rfind("snapshot-", 0) == 0) killed_snap = s.substr(9);
  }
  REQUIRE(!killed_snap.empty());
  REQUIRE(snapshot_directory_entry(fast, killed_snap).empty());
  const std::string ghost_snap = random_uuid();
  set_snapshot_directory_entry(fast, ghost_snap, vol_image);
  ids.push_back(ghost_snap);
  // A snapshot someone made with rbd on an rbdvol volume is not rbdvol's.
  rbd("fast", {"snap", "create", "volumes/" + vol_image + "@operator-made"});

  // 5. A stale attachment record: vm3 has no disk of this volume.
  rbd("fast",
      {"image-meta", "set", "volumes/" + vol_image, "rbdvol.attachments",
       R"([{"domain":"vm3","state":"attached","target_dev":"sdy","since":"2020-01-01T00:00:00Z"}])"});

  // 6. A multiattach volume whose exclusive-lock came back.
  auto shared = rbdvol_json({"volume", "create", "--type", "shared", "--size", "8M"});
  cleanup.add(shared);
  const std::string shared_id = shared.at("id"), shared_image = shared.at("image");
  ids.push_back(shared_id);
  rbd("fast", {"feature", "enable", "volumes/" + shared_image, "exclusive-lock"});
  REQUIRE((fast.features("volumes", shared_image) & RBD_FEATURE_EXCLUSIVE_LOCK) != 0);

  // 7. A first clone that failed after making the image's `snap` (undone:
  // `snap` stays, with no clone).
  const std::string failed_first = upload_random_image(4 << 20, "fast", "check-first-clone");
  cleanup.add("fast", "images", "image-" + failed_first);
  ids.push_back(failed_first);
  setenv("RBDVOL_FAULT", "volume.create:after-create", 1);
  auto failed = run_rbdvol({"volume", "create", "--type", "ssd", "--image", failed_first});
  unsetenv("RBDVOL_FAULT");
  REQUIRE(failed.exit_code != 0);
  REQUIRE(fast.snapshot_protected("images", "image-" + failed_first, "snap"));

  // 8. A first clone killed after its clone: an unfinished volume, whose
  // removal leaves the image's `snap` without a clone in turn.
  const std::string killed_first = upload_random_image(4 << 20, "fast", "check-killed-clone");
  cleanup.add("fast", "images", "image-" + killed_first);
  ids.push_back(killed_first);
  const auto before = fast_volumes();
  run_killed({"volume", "create", "--type", "ssd", "--image", killed_first},
             "volume.create:after-create=kill");
  std::string unfinished;
  for (const auto& v : fast_volumes()) {
    if (std::binary_search(before.begin(), before.end(), v)) continue;
    if (fast.parent_of("volumes", v).find("image-" + killed_first) != std::string::npos)
      unfinished = v.substr(7);
  }
  REQUIRE(!unfinished.empty());
  fence_killed_writer(fast, "volumes", "volume-" + unfinished);
  cleanup.add("fast", "volumes", "volume-" + unfinished);
  ids.push_back(unfinished);

  // 9. A volume whose disk type the config no longer has.
  auto orphan_type = rbdvol_json({"volume", "create", "--type", "hdd", "--size", "4M"});
  cleanup.add(orphan_type);
  const std::string orphan_id = orphan_type.at("id");
  ids.push_back(orphan_id);
  rbd(orphan_type.at("backend").get<std::string>(),
      {"image-meta", "set", "volumes/" + orphan_type.at("image").get<std::string>(),
       "rbdvol.disk_type", "retired-type"});

  // 10. A clone chain deeper than max_clone_depth (1 in this config).
  auto v1 = rbdvol_json({"volume", "create", "--type", "ssd", "--size", "4M"});
  cleanup.add(v1);
  auto v2 = rbdvol_json({"volume", "create", "--type", "ssd", "--source-volume", v1.at("id")});
  cleanup.add(v2);
  auto v3 = rbdvol_json({"volume", "create", "--type", "ssd", "--source-volume", v2.at("id")});
  cleanup.add(v3);
  REQUIRE(v3.at("clone_depth") == 2);
  const std::string deep_id = v3.at("id");
  ids.push_back(deep_id);
  ids.push_back(v2.at("id"));
  ConfigCopy shallow("max_clone_depth = 1");

  // The foreign: an image made with `rbd create` in rbdvol's pools, with a
  // snapshot carrying rbdvol's hidden prefix and a uuid the check is asked
  // about; none of it is reported or touched.
  const std::string foreign = "check-foreign-" + std::to_string(::getpid());
  rbd("fast", {"create", "--size", "4M", "volumes/" + foreign});
  cleanup.add("fast", "volumes", foreign);
  const std::string foreign_uuid = random_uuid();
  rbd("fast", {"snap", "create", "volumes/" + foreign + "@rbdvol-clone-" + foreign_uuid});
  rbd("fast", {"create", "--size", "4M", "images/" + foreign});
  cleanup.add("fast", "images", foreign);
  rbd("fast", {"snap", "create", "images/" + foreign + "@snap"});
  rbd("fast", {"snap", "protect", "images/" + foreign + "@snap"});
  ids.push_back(foreign_uuid);

  auto found = run_check(ids, {}, shallow.path());
  const json& a = found.answer;
  INFO(a.dump(2));
  CHECK(found.exit_code == 1);
  CHECK(a.at("libvirt").at("checked") == true);
  struct Expect {
    std::string kind, id, repair_has;
  };
  const std::vector<Expect> expected = {
      {"dead_partial_image", copied, "remove it"},
      {"childless_hidden_snapshot", gone_clone, "remove snapshot"},
      {"snapshot_without_entry", killed_snap, "set its entry"},
      {"entry_without_snapshot", ghost_snap, "remove the entry"},
      {"stale_attachment", vol_id, "remove the record of domain vm3"},
      {"multiattach_lock_features", shared_id, "exclusive-lock"},
      {"unused_image_snapshot", failed_first, "unprotect and remove"},
      {"unfinished_volume", unfinished, "remove"},
      {"unknown_disk_type", orphan_id, ""},
      {"deep_clone_chain", deep_id, ""},
  };
  for (const auto& e : expected) {
    INFO(e.kind << " naming " << e.id);
    auto fs = findings_of(a, e.kind, e.id);
    REQUIRE(fs.size() == 1);
    CHECK(fs[0].at("repaired") == false);
    if (e.repair_has.empty()) {
      CHECK(fs[0].at("repair") == "");
      CHECK_FALSE(fs[0].at("left").get<std::string>().empty());
    } else {
      CHECK(fs[0].at("repair").get<std::string>().find(e.repair_has) != std::string::npos);
    }
  }
  CHECK(findings_of(a, "deep_clone_chain", v2.at("id")).empty());  // 1 deep: allowed
  // Nothing names the foreign image, nor the uuid its snapshot carries.
  for (const auto& f : a.at("findings")) {
    CHECK(f.at("image") != foreign);
    CHECK(f.at("snapshot") != "operator-made");
  }

  auto repaired = run_check(ids, {"--repair"}, shallow.path());
  const json& r = repaired.answer;
  INFO(r.dump(2));
  // What stays: the two report-only findings.
  CHECK(repaired.exit_code == 1);
  CHECK(r.at("remaining") == 2);
  for (const auto& e : expected) {
    INFO(e.kind << " naming " << e.id);
    auto fs = findings_of(r, e.kind, e.id);
    REQUIRE(fs.size() == 1);
    CHECK(fs[0].at("repaired") == !e.repair_has.empty());
  }
  // The unfinished volume's removal left killed_first's `snap` without a
  // clone: found and removed in the same run.
  auto cascade = findings_of(r, "unused_image_snapshot", killed_first);
  REQUIRE(cascade.size() == 1);
  CHECK(cascade[0].at("repaired") == true);

  // Mended in Ceph itself.
  CHECK_FALSE(capacity.image_exists("images", "image-" + copied));
  CHECK_FALSE(capacity.object_exists("images", "rbdvol_chunks.image-" + copied));
  const auto snaps = fast.snapshots("volumes", vol_image);
  CHECK(std::find(snaps.begin(), snaps.end(), "rbdvol-clone-" + gone_clone) == snaps.end());
  CHECK(std::find(snaps.begin(), snaps.end(), "operator-made") != snaps.end());
  CHECK(snapshot_directory_entry(fast, killed_snap) == vol_image);
  CHECK(snapshot_directory_entry(fast, ghost_snap).empty());
  CHECK(fast.metadata("volumes", vol_image, "rbdvol.attachments") == "[]");
  CHECK((fast.features("volumes", shared_image) & RBD_FEATURE_EXCLUSIVE_LOCK) == 0);
  CHECK(fast.snapshots("images", "image-" + failed_first).empty());
  CHECK(fast.snapshots("images", "image-" + killed_first).empty());
  CHECK_FALSE(fast.image_exists("volumes", "volume-" + unfinished));
  // The foreign image and its snapshots are as they were.
  CHECK(fast.snapshots("volumes", foreign) ==
        std::vector<std::string>{"rbdvol-clone-" + foreign_uuid});
  CHECK(fast.snapshot_protected("images", foreign, "snap"));

  auto again = run_check(ids, {}, shallow.path());
  INFO(again.answer.dump(2));
  CHECK(again.answer.at("findings").size() == 2);
  CHECK(findings_of(again.answer, "unknown_disk_type", orphan_id).size() == 1);
  CHECK(findings_of(again.answer, "deep_clone_chain", deep_id).size() == 1);
  // With the sandbox's own config (max_clone_depth 5) and the disk type
  // given back, nothing is left.
  rbd(orphan_type.at("backend").get<std::string>(),
      {"image-meta", "set", "volumes/" + orphan_type.at("image").get<std::string>(),
       "rbdvol.disk_type", "hdd"});
  // That outside edit leaves the volume's directory entry out of date:
  // reported, and mended by a repair.
  auto outside = run_check(ids, {"--repair"});
  INFO(outside.answer.dump(2));
  CHECK(findings_of(outside.answer, "directory_stale", orphan_id).size() == 1);
  auto clean = run_check(ids);
  INFO(clean.answer.dump(2));
  CHECK(clean.exit_code == 0);
  CHECK(clean.answer.at("findings").empty());
}

TEST_CASE("check reports nothing for healthy volumes, images and snapshots",
          "[integration][check]") {
  ImageCleanup cleanup;
  const std::string image = upload_random_image(4 << 20, "fast", "check-healthy");
  cleanup.add("fast", "images", "image-" + image);
  auto from_image = rbdvol_json({"volume", "create", "--type", "ssd", "--image", image});
  cleanup.add(from_image);
  auto shared = rbdvol_json({"volume", "create", "--type", "shared", "--size", "4M"});
  cleanup.add(shared);
  auto snap = rbdvol_json({"snapshot", "create", from_image.at("id")});
  auto clone =
      rbdvol_json({"volume", "create", "--type", "ssd", "--source-volume", shared.at("id")});
  cleanup.add(clone);
  auto result =
      run_check({image, from_image.at("id"), shared.at("id"), snap.at("id"), clone.at("id")});
  INFO(result.answer.dump(2));
  CHECK(result.exit_code == 0);
  CHECK(result.answer.at("findings").empty());
  CHECK(result.answer.at("remaining") == 0);
  CHECK(result.answer.at("unreachable").empty());
  CHECK(result.answer.at("backends") == json::array({"fast", "capacity"}));
}

TEST_CASE("check leaves a record of an unknown domain, and says so when libvirt is unreachable",
          "[integration][check]") {
  ImageCleanup cleanup;
  CephView fast("fast");
  auto volume = rbdvol_json({"volume", "create", "--type", "ssd", "--size", "4M"});
  cleanup.add(volume);
  const std::string id = volume.at("id"), image = volume.at("image");
  const std::string domain = "check-no-such-domain-" + std::to_string(::getpid());
  rbd("fast", {"image-meta", "set", "volumes/" + image, "rbdvol.attachments",
               R"([{"domain":")" + domain +
                   R"(","state":"attached","target_dev":"vdb","since":"2020-01-01T00:00:00Z"}])"});
  // The outside edit leaves the volume's directory entry out of date: found
  // and mended, so that below only the attachment record is judged.
  auto outside = run_check({id}, {"--repair"});
  INFO(outside.answer.dump(2));
  REQUIRE(findings_of(outside.answer, "directory_stale", id).size() == 1);
  REQUIRE(findings_of(outside.answer, "directory_stale", id)[0].at("repaired") == true);

  SECTION("an unknown domain may live on another host: reported, never removed") {
    auto r = run_check({id}, {"--repair"});
    INFO(r.answer.dump(2));
    CHECK(r.exit_code == 1);
    auto fs = findings_of(r.answer, "stale_attachment", id);
    REQUIRE(fs.size() == 1);
    CHECK(fs[0].at("domain") == domain);
    CHECK(fs[0].at("repaired") == false);
    CHECK(fs[0].at("left").get<std::string>().find("another host") != std::string::npos);
    CHECK(fast.metadata("volumes", image, "rbdvol.attachments").find(domain) != std::string::npos);
  }
  SECTION("without libvirt, no record is judged and the answer says why") {
    auto r = run_check({id}, {"--connect", "qemu+unix:///system?socket=/nonexistent/sock"});
    INFO(r.answer.dump(2));
    CHECK(r.exit_code == 0);
    CHECK(r.answer.at("libvirt").at("checked") == false);
    CHECK_FALSE(r.answer.at("libvirt").at("error").get<std::string>().empty());
    CHECK(r.answer.at("findings").empty());
    CHECK(r.answer.at("attachments").size() == 1);
    auto human = run_rbdvol({"--connect", "qemu+unix:///system?socket=/nonexistent/sock", "check",
                             "--min-age", "0", "--only", id});
    CHECK(human.out.find("attachment records not checked: libvirt is unreachable") !=
          std::string::npos);
  }
}
