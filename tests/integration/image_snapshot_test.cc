// The snapshot `snap` an image copy gets from the first volume cloned from
// it, not when it is written; rbdvol.complete as the mark of a complete copy;
// and copies, uploads and deletes around both, against the sandbox's two real
// clusters.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <csignal>
#include <cstdlib>

#include "tests/integration/sandbox.h"

using namespace rbdvol::test;

namespace {

bool listed(const std::string& id) {
  const auto list = rbdvol_json({"image", "list"});
  for (const auto& i : list.at("images")) {
    if (i.at("id") == id) return true;
  }
  return false;
}

bool has_step(const nlohmann::json& created, const std::string& step) {
  const auto& steps = created.at("steps");
  return std::find(steps.begin(), steps.end(), step) != steps.end();
}

// `rbdvol --json ARGS` in `count` processes forked one right after the other
// and waited for together, as the racing attach test does.
std::vector<CommandResult> run_at_once(const std::vector<std::string>& args, int count) {
  std::vector<pid_t> pids;
  std::vector<std::string> outs, errs;
  for (int i = 0; i < count; ++i) {
    const std::string base =
        "/tmp/rbdvol-at-once-" + std::to_string(getpid()) + "-" + std::to_string(i);
    outs.push_back(base + ".out");
    errs.push_back(base + ".err");
  }
  std::vector<std::string> argv = {RBDVOL_CLI_PATH, "--json"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> c_argv;
  for (auto& a : argv) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  for (int i = 0; i < count; ++i) {
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      dup2(::open(outs[i].c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600), 1);
      dup2(::open(errs[i].c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600), 2);
      execv(c_argv[0], c_argv.data());
      _exit(127);
    }
    pids.push_back(pid);
  }
  std::vector<CommandResult> results;
  for (int i = 0; i < count; ++i) {
    int status = 0;
    waitpid(pids[i], &status, 0);
    CommandResult r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = read_file(outs[i]);
    r.err = read_file(errs[i]);
    unlink(outs[i].c_str());
    unlink(errs[i].c_str());
    results.push_back(r);
  }
  return results;
}

}  // namespace

TEST_CASE("an uploaded image has no snapshot until the first volume made from it makes it",
          "[integration][images]") {
  ImageCleanup cleanup;
  TempFile file(8 << 20);
  auto up =
      rbdvol_json({"image", "upload", file.path(), "--name", "snap-later", "--backend", "fast"});
  const std::string id = up.at("id");
  const std::string image = "image-" + id;
  cleanup.add("fast", "images", image);
  CHECK(up.at("snapshot") == "snap");  // the name volumes will clone

  CephView fast("fast");
  CHECK(fast.snapshots("images", image).empty());
  CHECK_FALSE(fast.metadata("images", image, "rbdvol.complete").empty());
  CHECK(fast.metadata("images", image, "rbdvol.incomplete").empty());
  CHECK(listed(id));

  // Readers read the head while there is no snapshot: the same bytes.
  const std::string out = file.path() + ".downloaded";
  cleanup.add_file(out);
  rbdvol_json({"image", "download", id, out});
  CHECK(read_file(out) == read_file(file.path()));
  CHECK(rbdvol_json({"image", "verify", id}).at("ok") == true);

  auto first = rbdvol_json({"volume", "create", "--type", "ssd", "--image", id});
  cleanup.add(first);
  CHECK(first.at("method") == "clone");
  CHECK(first.at("steps") == nlohmann::json{"snapshot", "clone"});
  CHECK(fast.snapshots("images", image) == std::vector<std::string>{"snap"});
  CHECK(fast.snapshot_protected("images", image, "snap"));
  CHECK(fast.parent_of("volumes", first.at("image")) == "images/" + image + "@snap");
  CHECK(fast.read("volumes", first.at("image")) == read_file(file.path()));
  // The volume dropped the metadata it inherited, rbdvol.complete included.
  CHECK(fast.metadata("volumes", first.at("image"), "rbdvol.complete").empty());

  auto second = rbdvol_json({"volume", "create", "--type", "ssd", "--image", id});
  cleanup.add(second);
  CHECK(second.at("steps") == nlohmann::json{"clone"});
  CHECK(fast.snapshots("images", image) == std::vector<std::string>{"snap"});
  CHECK(fast.parent_of("volumes", second.at("image")) == "images/" + image + "@snap");

  // Now readers read snap.
  const std::string again = file.path() + ".again";
  cleanup.add_file(again);
  rbdvol_json({"image", "download", id, again});
  CHECK(read_file(again) == read_file(file.path()));
  CHECK(rbdvol_json({"image", "verify", id}).at("ok") == true);
}

TEST_CASE("two volume create processes started at once on a fresh image both succeed",
          "[integration][images]") {
  ImageCleanup cleanup;
  CephView fast("fast");
  for (int round = 0; round < 2; ++round) {
    const std::string id = upload_random_image(4 << 20, "fast", "snap-race");
    const std::string image = "image-" + id;
    cleanup.add("fast", "images", image);
    REQUIRE(fast.snapshots("images", image).empty());

    auto results = run_at_once({"volume", "create", "--type", "ssd", "--image", id}, 2);
    int made_snapshot = 0;
    for (const auto& r : results) {
      INFO("round " << round << ": exit " << r.exit_code << ": " << r.out << r.err);
      REQUIRE(r.exit_code == 0);
      auto created = nlohmann::json::parse(r.out);
      cleanup.add(created);
      CHECK(has_step(created, "clone"));
      made_snapshot += has_step(created, "snapshot");
      CHECK(fast.parent_of("volumes", created.at("image")) == "images/" + image + "@snap");
    }
    // The call that made it says so. The other may say so too: librbd
    // reports a create that found the snapshot made meanwhile by another
    // client as a success (rbd_image.h).
    CHECK(made_snapshot >= 1);
    CHECK(fast.snapshots("images", image) == std::vector<std::string>{"snap"});
    CHECK(fast.snapshot_protected("images", image, "snap"));
  }
}

TEST_CASE("a copy killed just before it is complete is not listed, and --resume finishes it",
          "[integration][images]") {
  ImageCleanup cleanup;
  TempFile file(12 << 20);  // random: 3 chunks of data
  const std::string id = upload_to_fast(file.path(), "snap-killed", cleanup);
  const std::string image = "image-" + id;

  copy_to_capacity_killed(id, "image.copy:before-complete=kill");

  // Data, metadata and a complete chunk record, but no rbdvol.complete.
  CephView capacity("capacity");
  REQUIRE(capacity.image_exists("images", image));
  CHECK(capacity.metadata("images", image, "rbdvol.complete").empty());
  CHECK(capacity.metadata("images", image, "rbdvol.name") == "snap-killed");
  CHECK(capacity.snapshots("images", image).empty());
  CHECK(location_backends(rbdvol_json({"image", "show", id})) == std::vector<std::string>{"fast"});

  // Not clonable either: a volume that needs it in capacity names the partial copy.
  auto volume = run_rbdvol({"volume", "create", "--type", "hdd", "--image", id});
  CHECK(volume.exit_code != 0);
  CHECK(volume.err.find("partial copy") != std::string::npos);
  CHECK(volume.err.find("--resume") != std::string::npos);

  auto resumed = rbdvol_json({"image", "copy", id, "--to", "capacity", "--resume"});
  REQUIRE(resumed.at("copied").size() == 1);
  CHECK(resumed.at("copied")[0].at("chunks_skipped_confirmed") == 3);
  CHECK(resumed.at("copied")[0].at("chunks_written") == 0);
  CHECK(location_backends(resumed) == std::vector<std::string>{"capacity", "fast"});
  CHECK_FALSE(capacity.metadata("images", image, "rbdvol.complete").empty());
  CHECK(capacity.metadata("images", image, "rbdvol.incomplete").empty());
  CHECK(capacity.snapshots("images", image).empty());
  CHECK(capacity.read("images", image) == read_file(file.path()));
  CHECK(run_rbdvol({"image", "verify", id, "--backend", "capacity"}).exit_code == 0);
}

TEST_CASE("an upload killed just before it is complete is not listed, and --resume finishes it",
          "[integration][images]") {
  ImageCleanup cleanup;
  TempFile file(8 << 20);  // random: 2 chunks of data
  const std::string name = "snap-upload-killed-" + std::to_string(getpid());
  // The partial image gets the id chosen here (others may upload too).
  const std::string chosen = random_uuid();
  auto killed =
      run_rbdvol_with_faults("image.upload:before-complete=kill,new-id=" + chosen,
                             {"image", "upload", file.path(), "--name", name, "--backend", "fast"});
  REQUIRE(killed.exit_code == 128 + SIGKILL);

  CephView fast("fast");
  const std::string partial = "image-" + chosen;
  REQUIRE(images_of(fast, "images", {chosen}) == std::vector<std::string>{partial});
  cleanup.add("fast", "images", partial);
  CHECK(fast.metadata("images", partial, "rbdvol.complete").empty());
  CHECK_FALSE(listed(partial.substr(6)));

  auto resumed = rbdvol_json(
      {"image", "upload", file.path(), "--name", name, "--backend", "fast", "--resume"});
  CHECK("image-" + resumed.at("id").get<std::string>() == partial);
  CHECK(resumed.at("resumed") == true);
  CHECK(resumed.at("chunks_skipped_confirmed") == 2);
  CHECK(resumed.at("chunks_written") == 0);
  CHECK(listed(resumed.at("id")));
  CHECK_FALSE(fast.metadata("images", partial, "rbdvol.complete").empty());
  CHECK(fast.snapshots("images", partial).empty());
  CHECK(fast.read("images", partial) == read_file(file.path()));
}

TEST_CASE("image delete leaves nothing in the pool, with or without the snapshot of a volume",
          "[integration][images]") {
  ImageCleanup cleanup;
  CephView fast("fast");
  std::vector<std::string> made;  // the ids of the images this test made

  SECTION("an image no volume was ever made from") {
    const std::string id = upload_random_image(4 << 20, "fast", "snap-delete-never");
    made.push_back(id);
    const std::string image = "image-" + id;
    cleanup.add("fast", "images", image);
    REQUIRE(fast.snapshots("images", image).empty());
    auto deleted = rbdvol_json({"image", "delete", id});
    CHECK(deleted.at("deleted_from") == nlohmann::json{"fast"});
    CHECK(deleted.at("flattened").empty());
    CHECK_FALSE(fast.image_exists("images", image));
    CHECK_FALSE(fast.object_exists("images", "rbdvol_chunks." + image));
  }
  SECTION("an image a volume was made from, after the volume was deleted") {
    const std::string id = upload_random_image(4 << 20, "fast", "snap-delete-cloned");
    made.push_back(id);
    const std::string image = "image-" + id;
    cleanup.add("fast", "images", image);
    auto volume = rbdvol_json({"volume", "create", "--type", "ssd", "--image", id});
    cleanup.add(volume);
    REQUIRE(fast.snapshot_protected("images", image, "snap"));
    rbdvol_json({"volume", "delete", volume.at("id")});
    auto deleted = rbdvol_json({"image", "delete", id});
    CHECK(deleted.at("deleted_from") == nlohmann::json{"fast"});
    CHECK(deleted.at("flattened").empty());
    CHECK_FALSE(fast.image_exists("images", image));
    CHECK_FALSE(fast.object_exists("images", "rbdvol_chunks." + image));
  }
  CHECK(images_of(fast, "images", made).empty());
}
