// Listings after a kill at each of the plugin's fault points, on the
// sandbox's real clusters: whatever a process killed half way leaves, a
// listing never shows a volume or an image copy the pools do not hold; and
// once `check --repair` has run, the listings show exactly what the pools
// hold (a volume listed as `volume show` describes it, an image at every
// backend that holds a complete copy of it).
//
// The directory's own point, directory.after-operation, is in
// directory_test.cc; the copy engine's counted points (kill-after-chunk) in
// datapath_test.cc.
#include <signal.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

#include "tests/integration/sandbox.h"

using namespace rbdvol::test;
using nlohmann::json;

namespace {

const std::vector<std::string> kBackends = {"fast", "capacity"};

std::string volume_pool(const std::string& backend) {
  return sandbox_config().find_backend(backend)->volume_pool;
}
std::string image_pool(const std::string& backend) {
  return sandbox_config().find_backend(backend)->image_pool;
}

// The backends whose pools hold volume `id` / a complete copy of image `id`.
std::set<std::string> holding_volume(const std::string& id) {
  std::set<std::string> out;
  for (const auto& b : kBackends) {
    if (CephView(b).image_exists(volume_pool(b), "volume-" + id)) out.insert(b);
  }
  return out;
}
std::set<std::string> holding_complete_image(const std::string& id) {
  std::set<std::string> out;
  for (const auto& b : kBackends) {
    CephView ceph(b);
    const std::string image = "image-" + id;
    if (ceph.image_exists(image_pool(b), image) &&
        !ceph.metadata(image_pool(b), image, "rbdvol.complete").empty()) {
      out.insert(b);
    }
  }
  return out;
}

// The backends at which the listings show volume `id` / image `id`.
std::set<std::string> listing_volume(const std::string& id) {
  std::set<std::string> out;
  const json list = rbdvol_json({"volume", "list"});
  for (const auto& v : list.at("volumes")) {
    if (v.at("id") == id) out.insert(v.at("backend").get<std::string>());
  }
  return out;
}
std::set<std::string> listing_image(const std::string& id) {
  std::set<std::string> out;
  const json list = rbdvol_json({"image", "list"});
  for (const auto& i : list.at("images")) {
    if (i.at("id") != id) continue;
    for (const auto& l : i.at("locations")) out.insert(l.at("backend").get<std::string>());
  }
  return out;
}

bool subset(const std::set<std::string>& a, const std::set<std::string>& b) {
  return std::includes(b.begin(), b.end(), a.begin(), a.end());
}

struct Watched {
  std::vector<std::string> volumes, images;
};

// A killed process's watch on an image lingers until the OSDs time it out
// (30 s), and until then its writer counts as alive. An operator who knows
// the host is dead fences it; so does this, for every image of `ids`.
void fence_killed_writers(const Watched& ids) {
  for (const auto& b : kBackends) {
    CephView ceph(b);
    auto fence = [&](const std::string& pool, const std::string& image) {
      if (!ceph.image_exists(pool, image)) return;
      for (const auto& watcher : ceph.watchers(pool, image)) ceph.blocklist(watcher);
    };
    for (const auto& id : ids.volumes) fence(volume_pool(b), "volume-" + id);
    for (const auto& id : ids.images) fence(image_pool(b), "image-" + id);
  }
}

// The listings against the pools for every id in `ids`: before a repair
// nothing listed that is not held; after `check --repair` listed == held,
// and a listed volume agrees with `volume show`.
void require_listings_follow_pools(const Watched& ids) {
  for (const auto& id : ids.volumes) {
    INFO("volume " << id << " before the repair");
    REQUIRE(subset(listing_volume(id), holding_volume(id)));
  }
  for (const auto& id : ids.images) {
    INFO("image " << id << " before the repair");
    REQUIRE(subset(listing_image(id), holding_complete_image(id)));
  }

  fence_killed_writers(ids);
  std::string only;
  for (const auto* list : {&ids.volumes, &ids.images}) {
    for (const auto& id : *list) only += (only.empty() ? "" : ",") + id;
  }
  // Its exit status says whether findings remain: a dead writer's partial
  // copy may be left for a later run; the directory's findings never are.
  auto repaired = run_rbdvol({"--json", "check", "--min-age", "0", "--only", only, "--repair"});
  INFO("check --repair: " << repaired.out << "\nstderr: " << repaired.err);
  REQUIRE((repaired.exit_code == 0 || repaired.exit_code == 1));
  const json findings = json::parse(repaired.out).at("findings");
  for (const auto& f : findings) {
    // A kill before the directory's update leaves a directory finding:
    // each one is repaired in this run.
    if (f.at("kind").get<std::string>().rfind("directory_", 0) == 0) {
      REQUIRE(f.at("repaired") == true);
    }
  }

  for (const auto& id : ids.volumes) {
    INFO("volume " << id << " after the repair");
    const auto held = holding_volume(id);
    REQUIRE(listing_volume(id) == held);
    if (held.empty()) continue;
    const json shown = rbdvol_json({"volume", "show", id});
    const json named = rbdvol_json({"volume", "list", "--name", shown.at("name")});
    int found = 0;
    for (const auto& v : named.at("volumes")) {
      if (v.at("id") != id) continue;
      ++found;
      for (const char* field : {"name", "size", "disk_type", "source_image", "created_at"}) {
        INFO(field);
        REQUIRE(v.at(field) == shown.at(field));
      }
    }
    REQUIRE(found == 1);
  }
  for (const auto& id : ids.images) {
    INFO("image " << id << " after the repair");
    REQUIRE(listing_image(id) == holding_complete_image(id));
  }
}

// Removes, when it goes, every volume and image copy of the watched ids in
// both backends, volumes first (they may be clones of the images).
struct WatchedCleanup {
  Watched* ids;
  ~WatchedCleanup() {
    ImageCleanup cleanup;
    for (const auto& b : kBackends) {
      for (const auto& id : ids->images) cleanup.add(b, image_pool(b), "image-" + id);
    }
    for (const auto& b : kBackends) {
      for (const auto& id : ids->volumes) cleanup.add(b, volume_pool(b), "volume-" + id);
    }
  }
};

std::string new_volume(Watched& ids, const std::string& size = "8M") {
  const std::string id =
      rbdvol_json({"volume", "create", "--type", "ssd", "--size", size}).at("id");
  ids.volumes.push_back(id);
  return id;
}

std::string new_image(Watched& ids) {
  const std::string id = upload_random_image(2 << 20, "fast", "kill-" + random_uuid().substr(0, 8));
  ids.images.push_back(id);
  return id;
}

}  // namespace

TEST_CASE(
    "listings show only what the pools hold after a kill at each fault point, and all of it "
    "after check --repair",
    "[integration][directory][kill]") {
  Watched ids;
  WatchedCleanup cleanup{&ids};
  const std::string name = "kill-" + random_uuid().substr(0, 8);
  const std::string id = random_uuid();  // the id the killed command makes

  SECTION("volume.create:after-create") {
    ids.volumes.push_back(id);
    run_killed({"volume", "create", "--type", "ssd", "--size", "8M", "--name", name},
               "new-id=" + id + ",volume.create:after-create=kill");
  }
  SECTION("volume.create:after-source-snapshot") {
    const std::string source = new_volume(ids);
    ids.volumes.push_back(id);
    run_killed({"volume", "create", "--type", "ssd", "--source-volume", source, "--name", name},
               "new-id=" + id + ",volume.create:after-source-snapshot=kill");
  }
  SECTION("volume.create:before-flatten") {
    // A chain one deeper than max_clone_depth: image, volume, volume.
    ConfigCopy shallow("max_clone_depth = 1\n");
    const std::string image = new_image(ids);
    const std::string first =
        rbdvol_json({"volume", "create", "--type", "ssd", "--image", image}).at("id");
    ids.volumes.push_back(first);
    ids.volumes.push_back(id);
    run_killed({"--config", shallow.path(), "volume", "create", "--type", "ssd", "--source-volume",
                first, "--name", name},
               "new-id=" + id + ",volume.create:before-flatten=kill");
  }
  // The *:before-claim and *:after-claim points are on the way of a run that
  // takes over a partial copy a killed run left: the first kill leaves one.
  for (const char* point :
       {"image.upload:after-write", "image.upload:before-complete", "image.upload:before-claim"}) {
    DYNAMIC_SECTION(point) {
      TempFile file(6 << 20);
      ids.images.push_back(id);
      std::vector<std::string> upload = {"image", "upload",    file.path(), "--name",
                                         name,    "--backend", "fast"};
      const bool resumed = std::string(point).find("claim") != std::string::npos;
      if (resumed) {
        run_killed(upload, "new-id=" + id + ",image.upload:after-write=kill");
        upload.push_back("--resume");
      }
      run_killed(upload, "new-id=" + id + "," + point + "=kill");
    }
  }
  for (const char* point :
       {"image.copy:after-data", "image.copy:before-complete", "image.copy:after-complete",
        "image.copy:before-claim", "image.copy:after-claim"}) {
    DYNAMIC_SECTION(point) {
      const std::string image = new_image(ids);
      std::vector<std::string> copy = {"image", "copy", image, "--to", "capacity"};
      if (std::string(point).find("claim") != std::string::npos) {
        run_killed(copy, "image.copy:after-data=kill");
        copy.push_back("--resume");
      }
      run_killed(copy, std::string(point) + "=kill");
    }
  }
  for (const char* point :
       {"image.create_from_volume:after-clone", "image.create_from_volume:before-complete"}) {
    DYNAMIC_SECTION(point) {
      const std::string source = new_volume(ids);
      ids.images.push_back(id);
      run_killed({"image", "create-from-volume", source, "--name", name},
                 "new-id=" + id + "," + point + "=kill");
    }
  }
  for (const char* point : {"image.delete:before-claim", "image.delete:before-remove"}) {
    DYNAMIC_SECTION(point) {
      // A complete copy in fast, a partial one (a killed copy's) in capacity:
      // the delete claims the partial first.
      const std::string image = new_image(ids);
      run_killed({"image", "copy", image, "--to", "capacity"}, "image.copy:after-data=kill");
      run_killed({"image", "delete", image}, std::string(point) + "=kill");
    }
  }
  for (const char* point : {"snapshot.create:after-snapshot", "snapshot.create:before-directory"}) {
    DYNAMIC_SECTION(point) {
      const std::string volume = new_volume(ids);
      run_killed({"snapshot", "create", volume}, std::string(point) + "=kill");
    }
  }
  SECTION("image.download:after-data") {
    const std::string image = new_image(ids);
    TempFile target(0);
    unlink(target.path().c_str());  // download makes a new file
    run_killed({"image", "download", image, target.path()}, "image.download:after-data=kill");
  }

  require_listings_follow_pools(ids);
}
