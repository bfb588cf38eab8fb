// The volume and image directories (plugin/records/directory.h) on the
// sandbox's real clusters: listings agree with what the images say after
// each kind of change, a directory that does not exist is built from the
// pool, pages follow each other, a crash between an operation and its
// directory update is found by check and mended by --repair.
#include <signal.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include "host/plugin_host.h"
#include "plugin/records/directory.h"
#include "tests/integration/sandbox.h"

using namespace rbdvol::test;
using nlohmann::json;
using rbdvol::plugin::DirectoryKind;

namespace {

// The listing's item of volume `id` (`volume list --name NAME`), or null.
json listed_volume(const std::string& name, const std::string& id) {
  auto list = rbdvol_json({"volume", "list", "--name", name});
  for (const auto& v : list.at("volumes")) {
    if (v.at("id") == id) return v;
  }
  return nullptr;
}

// What a listing item must agree on with volume show.
void require_listing_agrees(const std::string& name, const std::string& id) {
  const json item = listed_volume(name, id);
  INFO("volume " << id << " listed as " << item.dump());
  REQUIRE(item.is_object());
  const json shown = rbdvol_json({"volume", "show", id});
  for (const char* field : {"id", "name", "backend", "pool", "image", "size", "disk_type",
                            "multiattach", "cache", "source_image", "created_at", "attachments"}) {
    INFO(field);
    REQUIRE(item.at(field) == shown.at(field));
  }
  REQUIRE(item.at("status") == (shown.at("attachments").empty() ? "available" : "in-use"));
}

// `rbdvol --json check --min-age 0 --only IDS [ARGS]`.
json run_check(const std::string& id, const std::vector<std::string>& args = {}) {
  std::vector<std::string> argv = {"--json", "check", "--min-age", "0", "--only", id};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run_rbdvol(argv);
  INFO("rbdvol check: " << r.out << "\nstderr: " << r.err);
  REQUIRE(!r.out.empty());
  return json::parse(r.out);
}

std::vector<std::string> kinds_for(const json& check, const std::string& id) {
  std::vector<std::string> out;
  for (const auto& f : check.at("findings")) {
    for (const auto& i : f.at("ids")) {
      if (i == id) out.push_back(f.at("kind"));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> ids_of(const json& list, const char* field) {
  std::vector<std::string> out;
  for (const auto& v : list.at(field)) out.push_back(v.at("id"));
  return out;
}

}  // namespace

TEST_CASE("volume listings agree with the images after create, extend, retype, attach, delete",
          "[integration][directory]") {
  ImageCleanup cleanup;
  const std::string name = "dir-" + random_uuid().substr(0, 8);
  auto blank = rbdvol_json({"volume", "create", "--type", "ssd", "--size", "8M", "--name", name});
  cleanup.add(blank);
  const std::string id = blank.at("id");
  require_listing_agrees(name, id);

  rbdvol_json({"volume", "extend", id, "--size", "16M"});
  require_listing_agrees(name, id);
  REQUIRE(listed_volume(name, id).at("size") == 16 << 20);

  rbdvol_json({"volume", "retype", id, "--type", "ssd-writeback"});
  require_listing_agrees(name, id);
  REQUIRE(listed_volume(name, id).at("disk_type") == "ssd-writeback");

  // On virtio-scsi, which QEMU unplugs at once in a guest without an OS
  // (SANDBOX-FACTS), so that the detach below closes the image.
  rbdvol_json({"attach", id, "vm1", "--bus", "scsi"});
  require_listing_agrees(name, id);
  REQUIRE(listed_volume(name, id).at("status") == "in-use");
  // Filters: in-use lists it, available does not.
  auto in_use = rbdvol_json({"volume", "list", "--status", "in-use", "--name", name});
  REQUIRE(ids_of(in_use, "volumes") == std::vector<std::string>{id});
  auto available = rbdvol_json({"volume", "list", "--status", "available", "--name", name});
  REQUIRE(available.at("volumes").empty());
  // A delete refused (attached) leaves it listed.
  REQUIRE(run_rbdvol({"volume", "delete", id}).exit_code != 0);
  require_listing_agrees(name, id);

  rbdvol_json({"detach", id});
  require_listing_agrees(name, id);
  // QEMU closes the image a moment after the disk is gone.
  CommandResult deleted;
  for (int i = 0; i < 50; ++i) {
    deleted = run_rbdvol({"volume", "delete", id});
    if (deleted.exit_code != 4) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  INFO(deleted.err);
  REQUIRE(deleted.exit_code == 0);
  REQUIRE(listed_volume(name, id).is_null());
}

TEST_CASE(
    "a rename through volume.update, and snapshots taken and deleted, show in the directory entry",
    "[integration][directory]") {
  ImageCleanup cleanup;
  const std::string before = "dir-rename-" + random_uuid().substr(0, 8);
  const std::string after = before + "-new";
  auto created =
      rbdvol_json({"volume", "create", "--type", "ssd", "--size", "4M", "--name", before});
  cleanup.add(created);
  const std::string id = created.at("id");
  REQUIRE(!listed_volume(before, id).is_null());

  // volume.update has no rbdvol command: a host (rbdvold) calls it.
  auto host = rbdvol::host::PluginHost::load(RBDVOL_PLUGIN_PATH);
  REQUIRE(host.ok());
  REQUIRE((*host)->open(sandbox_config().path).ok());
  auto updated = (*host)->call(
      "volume.update", {{"id", id}, {"name", after}, {"description", "renamed by the test"}});
  INFO(updated.status().message());
  REQUIRE(updated.ok());
  REQUIRE(!updated->contains("warnings"));

  REQUIRE(listed_volume(before, id).is_null());
  const json item = listed_volume(after, id);
  REQUIRE(item.is_object());
  // volume.show "brief" answers the listing's item, from the directory.
  auto brief = (*host)->call("volume.show", {{"id", id}, {"brief", true}});
  REQUIRE(brief.ok());
  REQUIRE(*brief == item);
  REQUIRE((*host)->call("volume.show", {{"id", random_uuid()}, {"brief", true}}).status().err() ==
          ENOENT);
  REQUIRE(item.at("description") == "renamed by the test");
  require_listing_agrees(after, id);
  // check finds nothing to mend: the entry and the name key followed the image.
  REQUIRE(kinds_for(run_check(id), id).empty());

  // Snapshots taken and deleted show in the entry (a volume service lists
  // snapshots from it).
  auto snapshot = rbdvol_json({"snapshot", "create", id, "--name", "s1"});
  const json with = listed_volume(after, id).at("snapshots");
  REQUIRE(with.size() == 1);
  REQUIRE(with[0].at("name") == "snapshot-" + snapshot.at("id").get<std::string>());
  rbdvol_json({"snapshot", "delete", snapshot.at("id")});
  REQUIRE(listed_volume(after, id).at("snapshots").empty());
  REQUIRE(kinds_for(run_check(id), id).empty());
}

// Several rbdvol processes at once on the same volumes (two extends, or an
// extend and a delete, of each): whichever way their directory refreshes
// interleave, the listing ends as the pool is. (Two `rbdvol volume extend`s
// on one host take turns, ExtendTurn in cli/volume_extend.cc, so only the
// extend and the delete overlap; the test below makes the overlap certain.)
TEST_CASE("concurrent extends and deletes of the same volumes leave listings that match rbd ls",
          "[integration][directory]") {
  ImageCleanup cleanup;
  CephView fast("fast");
  const std::string name = "race-" + random_uuid().substr(0, 8);
  rbdvol_json({"volume", "list", "--name", name});  // the directory is built
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    auto made = rbdvol_json({"volume", "create", "--type", "ssd", "--size", "8M", "--name", name});
    cleanup.add(made);
    ids.push_back(made.at("id"));
  }
  for (int round = 0; round < 3; ++round) {
    // Two extends of each volume; in the last round an extend and a delete
    // of every other one.
    std::vector<std::unique_ptr<BackgroundCommand>> running;
    for (size_t i = 0; i < ids.size(); ++i) {
      const std::string smaller = std::to_string(10 + 4 * round) + "M";
      const std::string larger = std::to_string(12 + 4 * round) + "M";
      running.push_back(std::make_unique<BackgroundCommand>(
          rbdvol_argv({"volume", "extend", ids[i], "--size", smaller})));
      if (round == 2 && i % 2 == 1) {
        running.push_back(
            std::make_unique<BackgroundCommand>(rbdvol_argv({"volume", "delete", ids[i]})));
      } else {
        running.push_back(std::make_unique<BackgroundCommand>(
            rbdvol_argv({"volume", "extend", ids[i], "--size", larger})));
      }
    }
    for (auto& r : running) {
      auto done = r->finish();
      INFO("exit " << done.exit_code << ": " << done.err);
      // Done, gone (deleted first), busy (the other held the image), or
      // refused (5: the other extend grew it further first; volumes only grow).
      CHECK((done.exit_code == 0 || done.exit_code == 3 || done.exit_code == 4 ||
             done.exit_code == 5));
      if (done.exit_code == 5) CHECK(done.err.find("volumes only grow") != std::string::npos);
      CHECK(done.err.find("the directory was not brought up to date") == std::string::npos);
    }

    // What the pool holds, as rbd ls says, against what volume list says.
    auto ls = run({"rbd", "-c", ceph_conf_of("fast"), "ls", "volumes"});
    REQUIRE(ls.exit_code == 0);
    std::set<std::string> in_pool;
    std::istringstream lines(ls.out);
    for (std::string line; std::getline(lines, line);) in_pool.insert(line);
    // The answer is held in a variable: a range-for over a member of the
    // temporary rbdvol_json returns iterates freed memory.
    const json listing = rbdvol_json({"volume", "list", "--name", name});
    CHECK(listing.at("unreachable").empty());
    std::map<std::string, json> listed;
    for (const auto& v : listing.at("volumes")) {
      listed[v.at("id").get<std::string>()] = v;
    }
    for (const auto& id : ids) {
      INFO("round " << round << ", volume " << id);
      const bool held = in_pool.count("volume-" + id) > 0;
      CHECK(listed.count(id) == (held ? 1u : 0u));
      if (held && listed.count(id))
        CHECK(listed[id].at("size") == fast.size("volumes", "volume-" + id));
    }
    // No entry out of date, nor one left for a deleted volume.
    std::string only;
    for (const auto& id : ids) only += (only.empty() ? "" : ",") + id;
    const json checked = run_check(only);
    CHECK(checked.at("unreachable").empty());
    for (const auto& f : checked.at("findings")) {
      INFO(f.dump());
      CHECK(f.at("kind").get<std::string>().rfind("directory_", 0) != 0);
    }
  }
}

// The race made certain, against the real clusters' version assertions: an
// extend stops (directory.refresh:before-put=stop) once it has read the
// image for its refresh, before it writes the entry; another process
// snapshots the volume (its entry then lists the snapshot), or deletes it,
// meanwhile; then the extend goes on. Its older entry must not land over
// the newer one, nor bring the deleted volume's entry back. (The other
// process is not a second extend: `rbdvol volume extend`s on one host take
// turns, ExtendTurn in cli/volume_extend.cc, so it would wait for the
// stopped one.)
TEST_CASE("a directory refresh stopped between its read and its write does not overwrite another's",
          "[integration][directory]") {
  const bool deleting = GENERATE(false, true);
  INFO((deleting ? "delete" : "snapshot") << " meanwhile");
  ImageCleanup cleanup;
  CephView fast("fast");
  const std::string name = "race-stop-" + random_uuid().substr(0, 8);
  rbdvol_json({"volume", "list", "--name", name});  // the directory is built
  auto made = rbdvol_json({"volume", "create", "--type", "ssd", "--size", "8M", "--name", name});
  cleanup.add(made);
  const std::string id = made.at("id");

  setenv("RBDVOL_FAULT", "directory.refresh:before-put=stop", 1);
  BackgroundCommand first(rbdvol_argv({"volume", "extend", id, "--size", "12M"}));
  unsetenv("RBDVOL_FAULT");
  REQUIRE(first.wait_stopped());  // grown to 12M; its entry (12M, no snapshot) not written

  if (deleting) {
    rbdvol_json({"volume", "delete", id});
  } else {
    rbdvol_json({"snapshot", "create", id, "--name", "meanwhile"});
  }
  // Its write fails on the shard's version; it reads the image again (and
  // stops again before each new write).
  first.resume();
  while (first.wait_stopped()) first.resume();
  auto done = first.finish();
  INFO(done.err);
  // A deleted volume: extended, then not found when its attachments are
  // listed (3).
  CHECK((done.exit_code == 0 || (deleting && done.exit_code == 3)));
  CHECK(done.err.find("the directory was not brought up to date") == std::string::npos);

  auto entry =
      rbdvol::plugin::directory_get(fast.plugin_pool("volumes"), DirectoryKind::kVolumes, id);
  if (deleting) {
    CHECK(entry.status().err() == ENOENT);
  } else {
    REQUIRE(entry.ok());
    CHECK(entry->at("size") == 12u << 20);
    CHECK(entry->at("snapshots").size() == 1);
    const json item = listed_volume(name, id);
    REQUIRE(item.is_object());
    CHECK(item.at("snapshots").size() == 1);
  }
  const json checked = run_check(id);
  CHECK(checked.at("unreachable").empty());
  CHECK(kinds_for(checked, id).empty());
}

TEST_CASE("image listings and lookups by name follow uploads, copies and deletes",
          "[integration][directory]") {
  ImageCleanup cleanup;
  const std::string name = "dir-image-" + random_uuid().substr(0, 8);
  const std::string id = upload_random_image(2 << 20, "fast", name);
  cleanup.add("fast", "images", "image-" + id);
  cleanup.add("capacity", "images", "image-" + id);
  auto backends_of = [&]() {
    auto list = rbdvol_json({"image", "list", "--name", name});
    std::vector<std::string> out;
    for (const auto& i : list.at("images")) {
      REQUIRE(i.at("id") == id);
      REQUIRE(i.at("size") == 2 << 20);
      for (const auto& l : i.at("locations")) out.push_back(l.at("backend"));
    }
    return out;
  };
  REQUIRE(backends_of() == std::vector<std::string>{"fast"});
  REQUIRE(rbdvol_json({"image", "show", name}).at("id") == id);

  rbdvol_json({"image", "copy", id, "--to", "capacity"});
  REQUIRE(backends_of() == std::vector<std::string>{"capacity", "fast"});

  // A volume made from the image by its name.
  auto volume = rbdvol_json({"volume", "create", "--type", "hdd", "--image", name});
  cleanup.add(volume);
  REQUIRE(volume.at("source_image") == id);
  rbdvol_json({"volume", "delete", volume.at("id")});

  rbdvol_json({"image", "delete", id, "--backend", "capacity"});
  REQUIRE(backends_of() == std::vector<std::string>{"fast"});
  rbdvol_json({"image", "delete", name});
  REQUIRE(backends_of().empty());
  REQUIRE(run_rbdvol({"image", "show", name}).exit_code == 3);
}

TEST_CASE("pages of a listing follow each other through the marker", "[integration][directory]") {
  ImageCleanup cleanup;
  for (int i = 0; i < 5; ++i) {
    cleanup.add(rbdvol_json({"volume", "create", "--type", "ssd", "--size", "4M", "--name",
                             "dir-page-" + std::to_string(i)}));
  }
  const auto whole = ids_of(rbdvol_json({"volume", "list"}), "volumes");
  REQUIRE(whole.size() >= 5);
  std::vector<std::string> walked;
  std::string marker;
  for (int pages = 0;; ++pages) {
    REQUIRE(pages <= static_cast<int>(whole.size()));
    std::vector<std::string> args = {"volume", "list", "--limit", "2"};
    if (!marker.empty()) args.insert(args.end(), {"--marker", marker});
    auto page = rbdvol_json(args);
    REQUIRE(page.at("volumes").size() <= 2);
    for (auto& id : ids_of(page, "volumes")) walked.push_back(id);
    if (!page.contains("next_marker")) break;
    marker = page.at("next_marker");
    REQUIRE(marker == walked.back());
  }
  REQUIRE(walked == whole);

  auto unknown = run_rbdvol({"volume", "list", "--marker", random_uuid()});
  REQUIRE(unknown.exit_code == 5);
  REQUIRE(unknown.err.find("marker") != std::string::npos);
  REQUIRE(run_rbdvol({"volume", "list", "--limit", "0"}).exit_code == 2);
  auto sorted = run_rbdvol({"volume", "list", "--sort", "colour"});
  REQUIRE(sorted.exit_code == 5);
  REQUIRE(sorted.err.find("colour") != std::string::npos);
}

TEST_CASE("a pool without a directory gets one from what it holds on the first listing",
          "[integration][directory]") {
  ImageCleanup cleanup;
  auto volume =
      rbdvol_json({"volume", "create", "--type", "ssd", "--size", "4M", "--name", "dir-rebuilt"});
  cleanup.add(volume);
  const std::string id = volume.at("id");
  const auto before = ids_of(rbdvol_json({"volume", "list", "--backend", "fast"}), "volumes");
  REQUIRE(std::find(before.begin(), before.end(), id) != before.end());

  // As on a cluster whose volumes were made before the directory existed.
  CephView fast("fast");
  rados_ioctx_t io = fast.pool("volumes");
  REQUIRE(rados_remove(io, "rbdvol_volume_directory") == 0);
  for (int shard = 0; shard < rbdvol::plugin::kDirectoryShards; ++shard) {
    const std::string oid = "rbdvol_volume_directory." + std::to_string(shard);
    int r = rados_remove(io, oid.c_str());
    REQUIRE((r == 0 || r == -ENOENT));
  }
  REQUIRE_FALSE(fast.object_exists("volumes", "rbdvol_volume_directory"));
  const auto after = ids_of(rbdvol_json({"volume", "list", "--backend", "fast"}), "volumes");
  // Everything listed before, and whatever the pool held that the old
  // directory missed (a crash's leftover): each one a volume the pool holds.
  for (const auto& v : before) REQUIRE(std::find(after.begin(), after.end(), v) != after.end());
  for (const auto& v : after) REQUIRE(fast.image_exists("volumes", "volume-" + v));
  REQUIRE(fast.object_exists("volumes", "rbdvol_volume_directory"));
  require_listing_agrees("dir-rebuilt", id);
}

TEST_CASE("a crash between an operation and its directory update is found by check and mended",
          "[integration][directory][check]") {
  ImageCleanup cleanup;
  const std::string name = "dir-crash-" + random_uuid().substr(0, 8);

  // A create killed after the volume exists, before its entry: not listed.
  const std::string id = random_uuid();
  run_killed({"volume", "create", "--type", "ssd", "--size", "8M", "--name", name},
             "new-id=" + id + ",directory.after-operation=kill");
  cleanup.add("fast", "volumes", "volume-" + id);
  REQUIRE(rbdvol_json({"volume", "show", id}).at("id") == id);
  REQUIRE(listed_volume(name, id).is_null());
  REQUIRE(kinds_for(run_check(id), id) == std::vector<std::string>{"directory_missing"});
  auto repaired = run_check(id, {"--repair"});
  REQUIRE(repaired.at("repaired") == 1);
  require_listing_agrees(name, id);
  REQUIRE(kinds_for(run_check(id), id).empty());

  // An extend killed before its entry: the listing shows the old size.
  run_killed({"volume", "extend", id, "--size", "12M"}, "directory.after-operation=kill");
  REQUIRE(listed_volume(name, id).at("size") == 8 << 20);
  REQUIRE(kinds_for(run_check(id), id) == std::vector<std::string>{"directory_stale"});
  run_check(id, {"--repair"});
  require_listing_agrees(name, id);

  // The same failure as an error: the operation is done, its answer warns.
  setenv("RBDVOL_FAULT", "directory.after-operation", 1);
  auto warned = run_rbdvol({"volume", "extend", id, "--size", "16M"});
  unsetenv("RBDVOL_FAULT");
  REQUIRE(warned.exit_code == 0);
  REQUIRE(warned.err.find("warning: the directory was not brought up to date") !=
          std::string::npos);
  REQUIRE(kinds_for(run_check(id), id) == std::vector<std::string>{"directory_stale"});
  run_check(id, {"--repair"});

  // An entry naming a volume the pool does not hold (an outside `rbd rm`),
  // and a name key left by a rename that died: never listed, both dropped.
  const std::string ghost = random_uuid();
  CephView fast("fast");
  REQUIRE(rbdvol::plugin::directory_put(fast.plugin_pool("volumes"), DirectoryKind::kVolumes,
                                        {{"id", ghost}, {"name", name}, {"size", 1}})
              .ok());
  REQUIRE(listed_volume(name, ghost).is_null());
  const std::string stale_key_oid =
      rbdvol::plugin::directory_shard_oid(DirectoryKind::kVolumes, "renamed-away");
  auto set = run({"rados", "-c", ceph_conf_of("fast"), "-p", "volumes", "setomapval", stale_key_oid,
                  "n.renamed-away\x01" + id, id});
  REQUIRE(set.exit_code == 0);
  auto both = kinds_for(run_check(ghost), ghost);
  REQUIRE(both == std::vector<std::string>{"directory_orphan"});
  REQUIRE(kinds_for(run_check(id), id) == std::vector<std::string>{"directory_stale_name"});
  run_check(ghost, {"--repair"});
  run_check(id, {"--repair"});
  REQUIRE(kinds_for(run_check(ghost), ghost).empty());
  REQUIRE(kinds_for(run_check(id), id).empty());
  require_listing_agrees(name, id);
}
