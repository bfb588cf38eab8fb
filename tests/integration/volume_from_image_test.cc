// Volumes made from images, against the sandbox's two real clusters.
#include <catch2/catch.hpp>

#include "tests/integration/sandbox.h"

using namespace rbdvol::test;

TEST_CASE("a volume made from an image is a clone of the image's snapshot on the image's cluster",
          "[integration][plugin]") {
  ImageCleanup cleanup;
  // A name of this run's own: an image left by an interrupted run must not
  // make it ambiguous.
  const std::string name = "clone-source-" + random_uuid().substr(0, 8);
  const std::string image = upload_random_image(8 << 20, "fast", name);
  cleanup.add("fast", "images", "image-" + image);

  auto volume = rbdvol_json({"volume", "create", "--type", "ssd", "--image", image, "--name", "v"});
  cleanup.add("fast", "volumes", volume.at("image"));
  CHECK(volume.at("method") == "clone");
  CHECK(volume.at("backend") == "fast");
  CHECK(volume.at("reason").get<std::string>().find("already holds image " + image) !=
        std::string::npos);
  CHECK(volume.at("image") == "volume-" + volume.at("id").get<std::string>());
  CHECK(volume.at("size") == 8 << 20);
  // The image's first volume makes its snapshot.
  CHECK(volume.at("steps") == nlohmann::json{"snapshot", "clone"});

  CephView fast("fast");
  CHECK(fast.parent_of("volumes", volume.at("image")) == "images/image-" + image + "@snap");
  CephView capacity("capacity");
  CHECK_FALSE(capacity.image_exists("volumes", volume.at("image")));

  auto shown = rbdvol_json({"volume", "show", volume.at("id")});
  CHECK(shown.at("backend") == "fast");
  CHECK(shown.at("pool") == "volumes");
  CHECK(shown.at("disk_type") == "ssd");
  CHECK(shown.at("size") == 8 << 20);
  CHECK(shown.at("source_image") == image);

  SECTION("the image is also found by its name, and --dry-run creates nothing") {
    auto dry = rbdvol_json({"volume", "create", "--type", "ssd", "--image", name, "--dry-run"});
    CHECK(dry.at("dry_run") == true);
    CHECK(dry.at("method") == "clone");
    CHECK_FALSE(fast.image_exists("volumes", dry.at("image")));
  }
  SECTION("deleting the volume removes it, and deleting it again succeeds") {
    auto deleted = rbdvol_json({"volume", "delete", volume.at("id")});
    CHECK(deleted.at("deleted") == true);
    CHECK_FALSE(fast.image_exists("volumes", volume.at("image")));
    auto again = rbdvol_json({"volume", "delete", volume.at("id")});
    CHECK(again.at("already_gone") == true);
  }
}

TEST_CASE("a multiattach volume has exclusive-lock, object-map, fast-diff and journaling off",
          "[integration][plugin]") {
  ImageCleanup cleanup;
  const std::string image = upload_random_image(4 << 20, "fast", "features-source");
  cleanup.add("fast", "images", "image-" + image);
  auto volume = rbdvol_json({"volume", "create", "--type", "shared", "--image", image});
  cleanup.add("fast", "volumes", volume.at("image"));
  CHECK(volume.at("multiattach") == true);

  CephView fast("fast");
  const uint64_t features = fast.features("volumes", volume.at("image"));
  CHECK((features & RBD_FEATURE_LAYERING) != 0);
  CHECK((features & RBD_FEATURE_EXCLUSIVE_LOCK) == 0);
  CHECK((features & RBD_FEATURE_OBJECT_MAP) == 0);
  CHECK((features & RBD_FEATURE_FAST_DIFF) == 0);
  CHECK((features & RBD_FEATURE_JOURNALING) == 0);
  // The features the volume had before are remembered.
  auto shown = rbdvol_json({"volume", "show", volume.at("id")});
  auto saved = shown.at("saved_features");
  CHECK(std::find(saved.begin(), saved.end(), "exclusive-lock") != saved.end());

  SECTION("a volume of a type that is not multiattach keeps them") {
    auto plain = rbdvol_json({"volume", "create", "--type", "ssd", "--image", image});
    cleanup.add("fast", "volumes", plain.at("image"));
    CHECK((fast.features("volumes", plain.at("image")) & RBD_FEATURE_EXCLUSIVE_LOCK) != 0);
  }
}

TEST_CASE("uploads and creates that fail leave nothing behind", "[integration][plugin]") {
  CephView fast("fast");
  // The id of what a failing command would make (new-id): the test looks
  // for that alone, not at what the pools hold (other tests run beside it).
  const std::string chosen = random_uuid();
  auto listed = [&] {
    const nlohmann::json list = rbdvol_json({"image", "list"});
    for (const auto& i : list.at("images")) {
      if (i.at("id") == chosen) return true;
    }
    return false;
  };
  SECTION("a qcow2 file is refused by its content, whatever its name") {
    TempFile file(1 << 20, ".raw");
    {
      FILE* f = fopen(file.path().c_str(), "r+b");
      REQUIRE(f != nullptr);
      fwrite("QFI\xfb", 1, 4, f);
      fclose(f);
    }
    auto r =
        run_rbdvol_with_faults("new-id=" + chosen, {"image", "upload", file.path(), "--name", "q"});
    CHECK(r.exit_code != 0);
    CHECK(r.err.find("qcow2") != std::string::npos);
    CHECK(images_of(fast, "images", {chosen}).empty());
  }
  SECTION("an unknown backend is named") {
    TempFile file(1 << 20);
    auto r = run_rbdvol({"image", "upload", file.path(), "--name", "x", "--backend", "nosuch"});
    CHECK(r.exit_code != 0);
    CHECK(r.err.find("backend 'nosuch'") != std::string::npos);
  }
  SECTION("a volume from an image that does not exist") {
    auto r = run_rbdvol({"volume", "create", "--type", "ssd", "--image", "no-such-image"});
    CHECK(r.exit_code != 0);
    CHECK(r.err.find("image 'no-such-image' not found") != std::string::npos);
  }
  SECTION("an unknown disk type lists the known ones") {
    auto r = run_rbdvol({"volume", "create", "--type", "nvme", "--size", "1G"});
    CHECK(r.exit_code != 0);
    CHECK(r.err.find("unknown disk type 'nvme'") != std::string::npos);
    CHECK(r.err.find("shared") != std::string::npos);
  }
  SECTION("an upload that fails after writing its data removes the partial image") {
    TempFile file(6 << 20);
    auto r = run_rbdvol_with_faults("image.upload:after-write,new-id=" + chosen,
                                    {"image", "upload", file.path(), "--name", "half"});
    CHECK(r.exit_code != 0);
    CHECK(r.err.find("injected fault at image.upload:after-write") != std::string::npos);
    CHECK(images_of(fast, "images", {chosen}).empty());
    CHECK_FALSE(fast.object_exists("images", "rbdvol_chunks.image-" + chosen));
  }
  SECTION("a clone that fails after it was created is removed again") {
    ImageCleanup cleanup;
    const std::string image = upload_random_image(4 << 20, "fast", "half-clone");
    cleanup.add("fast", "images", "image-" + image);
    auto r = run_rbdvol_with_faults("volume.create:after-create,new-id=" + chosen,
                                    {"volume", "create", "--type", "shared", "--image", image});
    CHECK(r.exit_code != 0);
    CHECK(r.err.find("(removed again)") != std::string::npos);
    CHECK(images_of(fast, "volumes", {chosen}).empty());
  }
  SECTION("a size smaller than the image") {
    ImageCleanup cleanup;
    const std::string image = upload_random_image(4 << 20, "fast", "small-size");
    cleanup.add("fast", "images", "image-" + image);
    auto r = run_rbdvol({"volume", "create", "--type", "ssd", "--image", image, "--size", "1M"});
    CHECK(r.exit_code != 0);
    CHECK(r.err.find("smaller than image") != std::string::npos);
  }
  CHECK_FALSE(listed());
}

TEST_CASE("the C host in examples/ loads the plugin and lists both backends",
          "[integration][abi]") {
  const char* config = std::getenv("RBDVOL_CONFIG");
  REQUIRE(config != nullptr);
  auto r = run({RBDVOL_C_HOST_PATH, RBDVOL_PLUGIN_PATH, config, "backend.list"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  auto answer = nlohmann::json::parse(r.out.substr(0, r.out.find('\n')));
  std::vector<std::string> ids;
  for (const auto& b : answer.at("backends")) {
    ids.push_back(b.at("id"));
    CHECK(b.at("state") == "up");
  }
  CHECK(ids == std::vector<std::string>{"fast", "capacity"});
}
