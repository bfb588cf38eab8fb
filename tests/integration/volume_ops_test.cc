// Volumes made from other volumes, extend, list, retype and delete, against
// the sandbox's two real clusters.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "tests/integration/rbd_bytes.h"
#include "tests/integration/sandbox.h"

using namespace rbdvol::test;

namespace {

bool lists(const nlohmann::json& answer, const nlohmann::json& volume) {
  const auto& vs = answer.at("volumes");
  return std::any_of(vs.begin(), vs.end(),
                     [&](const nlohmann::json& v) { return v.at("id") == volume.at("id"); });
}

}  // namespace

TEST_CASE("a volume grows with extend and is never shrunk", "[integration][volumes]") {
  ImageCleanup cleanup;
  auto volume = rbdvol_json({"volume", "create", "--type", "ssd", "--size", "8M"});
  cleanup.add(volume);
  auto grown = rbdvol_json({"volume", "extend", volume.at("id"), "--size", "16M"});
  CHECK(grown.at("id") == volume.at("id"));
  CHECK(grown.at("old_size") == 8 << 20);
  CHECK(grown.at("size") == 16 << 20);  // read back from the image
  CHECK(grown.at("requested_size") == 16 << 20);
  CHECK(rbdvol_json({"volume", "show", volume.at("id")}).at("size") == 16 << 20);

  SECTION("a smaller or equal size is refused, naming both sizes") {
    for (const char* size : {"4M", "16M"}) {
      auto r = run_rbdvol({"volume", "extend", volume.at("id"), "--size", size});
      CHECK(r.exit_code == 5);  // invalid input
      CHECK(r.err.find("is already 16777216 bytes; " +
                       std::to_string(std::string(size) == "4M" ? 4 << 20 : 16 << 20) +
                       " bytes would not grow it (volumes only grow)") != std::string::npos);
      CHECK(r.err.find("backend fast") != std::string::npos);
    }
    CHECK(rbdvol_json({"volume", "show", volume.at("id")}).at("size") == 16 << 20);
  }
}

TEST_CASE("volume list finds the volumes of every backend and filters by backend and type",
          "[integration][volumes]") {
  ImageCleanup cleanup;
  auto ssd = rbdvol_json({"volume", "create", "--type", "ssd", "--size", "4M", "--name", "l-ssd"});
  cleanup.add(ssd);
  auto hdd = rbdvol_json({"volume", "create", "--type", "hdd", "--size", "4M", "--name", "l-hdd"});
  cleanup.add(hdd);
  CHECK(hdd.at("backend") == "capacity");

  auto all = rbdvol_json({"volume", "list"});
  CHECK(all.contains("id"));
  CHECK(all.at("unreachable").empty());
  CHECK(lists(all, ssd));
  CHECK(lists(all, hdd));
  auto on_capacity = rbdvol_json({"volume", "list", "--backend", "capacity"});
  CHECK(lists(on_capacity, hdd));
  CHECK_FALSE(lists(on_capacity, ssd));
  auto of_ssd = rbdvol_json({"volume", "list", "--type", "ssd"});
  CHECK(lists(of_ssd, ssd));
  CHECK_FALSE(lists(of_ssd, hdd));
  for (const auto& v : of_ssd.at("volumes")) CHECK(v.at("disk_type") == "ssd");

  auto unknown = run_rbdvol({"volume", "list", "--backend", "nosuch"});
  CHECK(unknown.exit_code != 0);
  CHECK(unknown.err.find("unknown backend 'nosuch'") != std::string::npos);
}

TEST_CASE("a volume made from another volume clones a hidden snapshot that goes with the clone",
          "[integration][volumes]") {
  ImageCleanup cleanup;
  CephView fast("fast");
  auto source = rbdvol_json({"volume", "create", "--type", "ssd", "--size", "8M"});
  cleanup.add(source);
  const std::string source_image = source.at("image");
  write_bytes(fast, source_image, 0, std::string(4096, 'A'));

  auto copy = rbdvol_json({"volume", "create", "--type", "ssd", "--source-volume",
                           "volume-" + source.at("id").get<std::string>(), "--name", "c"});
  cleanup.add(copy);
  const std::string hidden = "rbdvol-clone-" + copy.at("id").get<std::string>();
  CHECK(copy.at("method") == "clone");
  CHECK(copy.at("backend") == "fast");
  CHECK(copy.at("source_volume") == source.at("id"));
  CHECK(copy.at("steps") == nlohmann::json{"snapshot", "clone"});
  CHECK(copy.at("reason").get<std::string>().find("already holds volume") != std::string::npos);
  CHECK(copy.at("flattened") == false);
  CHECK(copy.at("clone_depth") == 1);
  CHECK(fast.parent_of("volumes", copy.at("image")) == "volumes/" + source_image + "@" + hidden);
  CHECK(read_bytes(fast, copy.at("image"), 0, 4096) == std::string(4096, 'A'));
  // The clone's metadata is its own, not inherited from the source.
  auto shown = rbdvol_json({"volume", "show", copy.at("id")});
  CHECK(shown.at("name") == "c");
  CHECK(shown.at("attachments").empty());

  // Hidden from the user, who never made it.
  CHECK(rbdvol_json({"snapshot", "list", source.at("id")}).at("snapshots").empty());
  CHECK(rbd_snapshots(fast, source_image) == std::vector<std::string>{hidden});

  SECTION("deleting the clone removes the hidden snapshot") {
    rbdvol_json({"volume", "delete", copy.at("id")});
    CHECK(rbd_snapshots(fast, source_image).empty());
  }
  SECTION("the source can be deleted without cascade: the clone is flattened first") {
    auto deleted = rbdvol_json({"volume", "delete", source.at("id")});
    CHECK(deleted.at("flattened") ==
          nlohmann::json{"volumes/" + copy.at("image").get<std::string>()});
    CHECK_FALSE(fast.image_exists("volumes", source_image));
    CHECK(fast.parent_of("volumes", copy.at("image")).empty());
    CHECK(read_bytes(fast, copy.at("image"), 0, 4096) == std::string(4096, 'A'));
  }
}

TEST_CASE("a clone chain deeper than max_clone_depth is flattened", "[integration][volumes]") {
  ConfigCopy config("max_clone_depth = 2");
  ImageCleanup cleanup;
  CephView fast("fast");
  auto create_from = [&](const nlohmann::json& source) {
    auto v = rbdvol_json({"--config", config.path(), "volume", "create", "--type", "ssd",
                          "--source-volume", source.at("id")});
    cleanup.add(v);
    return v;
  };
  auto v0 = rbdvol_json({"volume", "create", "--type", "ssd", "--size", "4M"});
  cleanup.add(v0);
  write_bytes(fast, v0.at("image"), 0, std::string(512, 'z'));
  auto v1 = create_from(v0);
  auto v2 = create_from(v1);
  CHECK(v1.at("clone_depth") == 1);
  CHECK(v2.at("clone_depth") == 2);
  CHECK(v2.at("flattened") == false);
  CHECK_FALSE(fast.parent_of("volumes", v2.at("image")).empty());

  // Made with its stderr kept: not a terminal, so the flatten's progress is
  // plain lines, the last at 100% of the volume's size.
  auto made = run_rbdvol({"--json", "--config", config.path(), "volume", "create", "--type", "ssd",
                          "--source-volume", v2.at("id")});
  REQUIRE(made.exit_code == 0);
  const auto v3 = nlohmann::json::parse(made.out);
  cleanup.add(v3);
  CHECK_THAT(made.err, Catch::Contains("flatten the new volume: 100% 4.0 MiB of 4.0 MiB"));
  CHECK(v3.at("method") == "clone");
  CHECK(v3.at("flattened") == true);
  CHECK(v3.at("flatten_reason").get<std::string>().find("max_clone_depth 2") != std::string::npos);
  CHECK(v3.at("steps").back() == "flatten");
  CHECK(fast.parent_of("volumes", v3.at("image")).empty());
  CHECK(read_bytes(fast, v3.at("image"), 0, 512) == std::string(512, 'z'));
  // Its hidden snapshot on v2 went with the flatten.
  CHECK(rbd_snapshots(fast, v2.at("image")).empty());

  SECTION("with the default limit (5) the same chain stays a clone") {
    auto v3b = rbdvol_json({"volume", "create", "--type", "ssd", "--source-volume", v2.at("id")});
    cleanup.add(v3b);
    CHECK(v3b.at("flattened") == false);
    CHECK(v3b.at("clone_depth") == 3);
  }
}

TEST_CASE("deleting a volume with --cascade keeps the data of every clone of its snapshots",
          "[integration][volumes]") {
  ImageCleanup cleanup;
  CephView fast("fast");
  auto parent = rbdvol_json({"volume", "create", "--type", "ssd", "--size", "8M"});
  cleanup.add(parent);
  const std::string parent_image = parent.at("image");
  write_bytes(fast, parent_image, 0, std::string(8192, 'P'));
  auto snap = rbdvol_json({"snapshot", "create", parent.at("id"), "--name", "before"});
  auto from_snap = rbdvol_json({"volume", "create", "--type", "ssd", "--snapshot", snap.at("id")});
  cleanup.add(from_snap);
  auto from_volume =
      rbdvol_json({"volume", "create", "--type", "ssd", "--source-volume", parent.at("id")});
  cleanup.add(from_volume);
  // The clone's own bytes, on top of what it shares with its parent.
  write_bytes(fast, from_snap.at("image"), 1 << 20, std::string(4096, 'C'));

  auto refused = run_rbdvol({"volume", "delete", parent.at("id")});
  CHECK(refused.exit_code != 0);
  CHECK(refused.err.find("has snapshots: snapshot-" + snap.at("id").get<std::string>()) !=
        std::string::npos);
  CHECK(refused.err.find("backend fast") != std::string::npos);
  CHECK(fast.image_exists("volumes", parent_image));

  auto deleted = rbdvol_json({"volume", "delete", parent.at("id"), "--cascade"});
  CHECK(deleted.at("deleted") == true);
  CHECK(deleted.at("flattened").size() == 2);
  CHECK(deleted.at("snapshots_removed").size() == 2);
  CHECK_FALSE(deleted.contains("warning"));
  CHECK(snapshot_directory_entry(fast, snap.at("id")).empty());
  CHECK_FALSE(fast.image_exists("volumes", parent_image));
  for (const auto& clone : {from_snap, from_volume}) {
    CHECK(fast.parent_of("volumes", clone.at("image")).empty());
    CHECK(read_bytes(fast, clone.at("image"), 0, 8192) == std::string(8192, 'P'));
  }
  CHECK(read_bytes(fast, from_snap.at("image"), 1 << 20, 4096) == std::string(4096, 'C'));
  CHECK(rbdvol_json({"volume", "delete", parent.at("id")}).at("already_gone") == true);
}

TEST_CASE("retype between shared and not shared turns the multiattach features off and back on",
          "[integration][volumes]") {
  ImageCleanup cleanup;
  CephView fast("fast");
  auto volume = rbdvol_json({"volume", "create", "--type", "ssd", "--size", "8M"});
  cleanup.add(volume);
  const std::string image = volume.at("image");
  const uint64_t original = fast.features("volumes", image);
  REQUIRE((original & RBD_FEATURE_OBJECT_MAP) != 0);

  auto shared = rbdvol_json({"volume", "retype", volume.at("id"), "--type", "shared"});
  CHECK(shared.at("old_disk_type") == "ssd");
  CHECK(shared.at("disk_type") == "shared");
  const uint64_t off = fast.features("volumes", image);
  CHECK((off & (RBD_FEATURE_EXCLUSIVE_LOCK | RBD_FEATURE_OBJECT_MAP | RBD_FEATURE_FAST_DIFF)) == 0);
  CHECK(rbdvol_json({"volume", "show", volume.at("id")}).at("disk_type") == "shared");
  // Written while the object map is off: the rebuilt map must know of it.
  write_bytes(fast, image, 2 << 20, std::string(4096, 'm'));

  auto back = rbdvol_json({"volume", "retype", volume.at("id"), "--type", "ssd"});
  CHECK(back.at("disk_type") == "ssd");
  CHECK(fast.features("volumes", image) == original);
  auto shown = rbdvol_json({"volume", "show", volume.at("id")});
  CHECK(shown.at("disk_type") == "ssd");
  CHECK_FALSE(shown.contains("saved_features"));
  {
    rbd_image_t img = nullptr;
    REQUIRE(rbd_open_read_only(fast.pool("volumes"), image.c_str(), &img, nullptr) == 0);
    uint64_t flags = 0;
    CHECK(rbd_get_flags(img, &flags) == 0);
    rbd_close(img);
    CHECK((flags & RBD_FLAG_OBJECT_MAP_INVALID) == 0);
  }
  CHECK(read_bytes(fast, image, 2 << 20, 4096) == std::string(4096, 'm'));

  SECTION("a type whose tags the volume's backend lacks is refused, naming the tags") {
    auto r = run_rbdvol({"volume", "retype", volume.at("id"), "--type", "hdd"});
    CHECK(r.exit_code != 0);
    CHECK(r.err.find("needs tags media:hdd") != std::string::npos);
    CHECK(r.err.find("backend fast has media:ssd") != std::string::npos);
  }
  SECTION("a volume open by a client is refused") {
    rbd_image_t img = nullptr;
    REQUIRE(rbd_open(fast.pool("volumes"), image.c_str(), &img, nullptr) == 0);
    auto r = run_rbdvol({"volume", "retype", volume.at("id"), "--type", "shared"});
    rbd_close(img);
    CHECK(r.exit_code != 0);
    CHECK(r.err.find("is open by a client") != std::string::npos);
    CHECK(fast.features("volumes", image) == original);
  }
}

TEST_CASE("a volume from a source on a backend the type does not match is a copy",
          "[integration][volumes]") {
  ImageCleanup cleanup;
  CephView fast("fast");
  CephView capacity("capacity");
  auto source = rbdvol_json({"volume", "create", "--type", "ssd", "--size", "8M"});
  cleanup.add(source);
  write_bytes(fast, source.at("image"), 4096, std::string(4096, 'x'));

  SECTION("from a volume") {
    auto copy =
        rbdvol_json({"volume", "create", "--type", "hdd", "--source-volume", source.at("id")});
    cleanup.add(copy);
    CHECK(copy.at("method") == "copy");
    CHECK(copy.at("backend") == "capacity");
    CHECK(copy.at("steps") == nlohmann::json{"copy"});
    CHECK(capacity.parent_of("volumes", copy.at("image")).empty());
    CHECK(read_bytes(capacity, copy.at("image"), 4096, 4096) == std::string(4096, 'x'));
    // The temporary snapshot the copy was read from is gone.
    CHECK(rbd_snapshots(fast, source.at("image")).empty());
  }
  SECTION("from a snapshot, at the snapshot's content") {
    auto snap = rbdvol_json({"snapshot", "create", source.at("id")});
    write_bytes(fast, source.at("image"), 4096, std::string(4096, 'y'));
    auto copy = rbdvol_json(
        {"volume", "create", "--type", "hdd", "--snapshot", snap.at("id"), "--size", "16M"});
    cleanup.add(copy);
    CHECK(copy.at("method") == "copy");
    CHECK(copy.at("size") == 16 << 20);
    CHECK(read_bytes(capacity, copy.at("image"), 4096, 4096) == std::string(4096, 'x'));
  }
}

TEST_CASE("a create from a volume that fails half way leaves no image and no snapshot",
          "[integration][volumes]") {
  ImageCleanup cleanup;
  CephView fast("fast");
  auto source = rbdvol_json({"volume", "create", "--type", "ssd", "--size", "4M"});
  cleanup.add(source);
  auto snap = rbdvol_json({"snapshot", "create", source.at("id")});
  const auto snapshots_before = rbd_snapshots(fast, source.at("image"));
  // The id the failing create gives its volume (new-id): only that volume
  // is looked for, not the pool's count, which other tests change.
  const std::string chosen = random_uuid();

  auto fail_at = [&](const char* point, std::vector<std::string> args) {
    auto r = run_rbdvol_with_faults(std::string(point) + ",new-id=" + chosen, args);
    INFO(r.err);
    CHECK(r.exit_code != 0);
    CHECK(r.err.find(std::string("injected fault at ") + point) != std::string::npos);
    CHECK(r.err.find("(removed again)") != std::string::npos);
    CHECK(images_of(fast, "volumes", {chosen}).empty());
    CHECK(rbd_snapshots(fast, source.at("image")) == snapshots_before);
  };
  const std::vector<std::string> from_volume = {"volume", "create",          "--type",
                                                "ssd",    "--source-volume", source.at("id")};
  SECTION("after the hidden snapshot") {
    fail_at("volume.create:after-source-snapshot", from_volume);
  }
  SECTION("after the clone") { fail_at("volume.create:after-create", from_volume); }
  SECTION("before the flatten") {
    ConfigCopy config("max_clone_depth = 1");
    auto middle =
        rbdvol_json({"volume", "create", "--type", "ssd", "--source-volume", source.at("id")});
    cleanup.add(middle);
    auto r = run_rbdvol_with_faults("volume.create:before-flatten,new-id=" + chosen,
                                    {"--config", config.path(), "volume", "create", "--type", "ssd",
                                     "--source-volume", middle.at("id")});
    CHECK(r.exit_code != 0);
    CHECK(r.err.find("(removed again)") != std::string::npos);
    CHECK(images_of(fast, "volumes", {chosen}).empty());
    CHECK(fast.image_exists("volumes", middle.at("image")));
    CHECK(rbd_snapshots(fast, middle.at("image")).empty());
  }
  SECTION("a snapshot protected for the clone is unprotected again") {
    fail_at("volume.create:after-create",
            {"volume", "create", "--type", "ssd", "--snapshot", snap.at("id")});
    rbd_image_t img = nullptr;
    REQUIRE(rbd_open_read_only(fast.pool("volumes"), source.at("image").get<std::string>().c_str(),
                               &img, nullptr) == 0);
    int is_protected = 1;
    CHECK(rbd_snap_is_protected(img, ("snapshot-" + snap.at("id").get<std::string>()).c_str(),
                                &is_protected) == 0);
    rbd_close(img);
    CHECK(is_protected == 0);
  }
}

TEST_CASE("the rbdvol command's exit status tells a script what kind of failure it was",
          "[integration][volumes][exit-status]") {
  // The table is in README.md ("The rbdvol command") and `rbdvol --help`.
  const std::string unknown_id = "00000000-0000-4000-8000-000000000000";
  SECTION("usage: an unknown option, a missing required option, a missing argument") {
    auto bad_flag = run_rbdvol({"volume", "list", "--no-such-flag"});
    CHECK(bad_flag.exit_code == 2);
    CHECK(bad_flag.err.find("unknown option --no-such-flag") != std::string::npos);
    auto no_size = run_rbdvol({"volume", "extend", unknown_id});
    CHECK(no_size.exit_code == 2);
    CHECK(no_size.err.find("--size is required") != std::string::npos);
    CHECK(no_size.err.find("usage: rbdvol volume extend") != std::string::npos);
    CHECK(run_rbdvol({"volume", "show"}).exit_code == 2);
    CHECK(run_rbdvol({"no-such-command"}).exit_code == 2);
  }
  SECTION("not found: an unknown volume id, an unknown disk type") {
    auto r = run_rbdvol({"volume", "show", unknown_id});
    INFO(r.err);
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("not found in any backend") != std::string::npos);
    auto unknown_type = run_rbdvol({"volume", "create", "--type", "nvme", "--size", "4M"});
    INFO(unknown_type.err);
    CHECK(unknown_type.exit_code == 3);
    CHECK(unknown_type.err.find("unknown disk type 'nvme'") != std::string::npos);
  }
  SECTION("invalid input: a size that is not a size") {
    auto r = run_rbdvol({"volume", "create", "--type", "ssd", "--size", "twelve"});
    INFO(r.err);
    CHECK(r.exit_code == 5);
  }
  SECTION("conflict: a volume with snapshots is not deleted") {
    ImageCleanup cleanup;
    auto volume = rbdvol_json({"volume", "create", "--type", "ssd", "--size", "4M"});
    cleanup.add(volume);
    rbdvol_json({"snapshot", "create", volume.at("id")});
    auto r = run_rbdvol({"volume", "delete", volume.at("id")});
    INFO(r.err);
    CHECK(r.exit_code == 4);
    CHECK(r.err.find("has snapshots") != std::string::npos);
    rbdvol_json({"volume", "delete", volume.at("id"), "--cascade"});
  }
  SECTION("unreachable: a backend that does not answer") {
    PausedCluster paused("capacity");  // resumed however the section ends
    auto only_there = run_rbdvol({"volume", "create", "--type", "hdd", "--size", "4M"});
    INFO(only_there.err);
    CHECK(only_there.exit_code == 6);
    CHECK(only_there.err.find("no matching backend is reachable") != std::string::npos);
    // Found in no backend that answered: it may be in the one that did not.
    auto maybe_there = run_rbdvol({"volume", "show", unknown_id});
    INFO(maybe_there.err);
    CHECK(maybe_there.exit_code == 6);
  }
}

TEST_CASE("a backend whose keyring is missing or a directory is named down at once, with the path",
          "[integration][backends][exit-status]") {
  char dir_template[] = "/tmp/rbdvol-keyring-dir-XXXXXX";
  REQUIRE(mkdtemp(dir_template) != nullptr);
  const std::string directory = dir_template;
  struct Case {
    std::string keyring, says;
  };
  for (const Case& c :
       {Case{"/nonexistent/fast.keyring", "keyring /nonexistent/fast.keyring does not exist"},
        Case{directory, "keyring " + directory + " is a directory"}}) {
    CAPTURE(c.keyring);
    ConfigCopy config(ConfigCopy::Set{"fast", "keyring", c.keyring});
    const auto start = std::chrono::steady_clock::now();
    auto backends = run_rbdvol({"--config", config.path(), "backend", "list"});
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    INFO(backends.out << backends.err);
    CHECK(seconds < 5);  // no connect timeout waited out
    CHECK(backends.exit_code == 6);
    CHECK_THAT(backends.out, Catch::Contains("backend fast: " + c.says));
    CHECK(backends.out.find("capacity   up") != std::string::npos);  // the others still printed
    CHECK(backends.out.find("within") == std::string::npos);
    CHECK_THAT(backends.err, Catch::Contains("down: backend fast: " + c.says));

    auto volumes = run_rbdvol({"--config", config.path(), "volume", "list"});
    INFO(volumes.out << volumes.err);
    CHECK(volumes.exit_code == 6);
    CHECK_THAT(volumes.out, Catch::Contains("not listed: backend fast: " + c.says));
    CHECK(volumes.out.find("backend fast: backend fast:") == std::string::npos);
    CHECK_THAT(volumes.err,
               Catch::Contains("the list is incomplete: backend(s) fast could not be listed"));

    auto json = run_rbdvol({"--config", config.path(), "--json", "volume", "list"});
    CHECK(json.exit_code == 6);
    const auto answer = nlohmann::json::parse(json.out);
    REQUIRE(answer.at("unreachable").size() == 1);
    CHECK(answer.at("unreachable")[0].at("backend") == "fast");
  }
  rmdir(directory.c_str());
}
