// Bad sizes and names are refused before anything is made, with a message
// naming the rule; nothing is left in the pools.
#include <catch2/catch.hpp>

#include <string>

#include "tests/integration/sandbox.h"

using rbdvol::test::CephView;
using rbdvol::test::images_of;
using rbdvol::test::random_uuid;
using rbdvol::test::rbdvol_json;
using rbdvol::test::run_rbdvol;
using rbdvol::test::run_rbdvol_with_faults;

TEST_CASE("volume sizes that no disk can have are refused with the rule they break",
          "[integration]") {
  struct Case {
    const char* size;
    const char* says;
  };
  const Case cases[] = {
      {"18446744073709551615B", "is not a multiple of 512"},
      {"18446744073709551104B", "is larger than the largest volume, 1073741824000000 bytes"},
      {"16384T", "is larger than the largest volume"},
      {"1B", "size 1 bytes is not a multiple of 512 (a disk sector)"},
      {"513B", "is not a multiple of 512"},
      {"0", "must be larger than zero"},
  };
  // Were one made, it would have this id (new-id), and be in fast (ssd).
  const std::string chosen = random_uuid();
  CephView fast("fast");
  for (const auto& c : cases) {
    INFO("--size " << c.size);
    auto created = run_rbdvol_with_faults("new-id=" + chosen,
                                          {"volume", "create", "--type", "ssd", "--size", c.size});
    CHECK(created.exit_code == 5);  // invalid input
    CHECK(created.err.find(c.says) != std::string::npos);
  }
  CHECK(images_of(fast, "volumes", {chosen}).empty());

  auto volume = rbdvol_json({"volume", "create", "--type", "ssd", "--size", "4M"});
  const std::string id = volume.at("id");
  auto extended = run_rbdvol({"volume", "extend", id, "--size", "18446744073709551615B"});
  CHECK(extended.exit_code == 5);
  CHECK(extended.err.find("is not a multiple of 512") != std::string::npos);
  CHECK(rbdvol_json({"volume", "show", id}).at("size") == 4 << 20);
  rbdvol_json({"volume", "delete", id});
}

TEST_CASE("names with control characters, too long or empty are refused", "[integration]") {
  const std::string chosen = random_uuid();  // the id a volume made here would have
  CephView fast("fast");
  struct Case {
    std::string name;
    const char* says;
  };
  const Case cases[] = {
      {"two\nlines", "holds the control character U+000A at byte 3"},
      {"\x1b[2Jcleared", "holds the control character U+001B at byte 0"},
      {std::string(256, 'n'), "volume name is 256 bytes long; at most 255 are allowed"},
      {"", "volume name is empty"},
      {"bad\xff", "volume.create: an argument is not valid UTF-8 text"},
  };
  for (const auto& c : cases) {
    INFO("--name " << c.name);
    auto created = run_rbdvol_with_faults("new-id=" + chosen, {"volume", "create", "--type", "ssd",
                                                               "--size", "4M", "--name", c.name});
    CHECK(created.exit_code == 5);  // invalid input
    CHECK(created.err.find(c.says) != std::string::npos);
  }
  CHECK(images_of(fast, "volumes", {chosen}).empty());

  auto volume = rbdvol_json({"volume", "create", "--type", "ssd", "--size", "4M"});
  const std::string id = volume.at("id");
  auto snap = run_rbdvol({"snapshot", "create", id, "--name", "a\tb"});
  CHECK(snap.exit_code == 5);
  CHECK(snap.err.find("snapshot name holds the control character U+0009") != std::string::npos);
  auto image = run_rbdvol({"image", "create-from-volume", id, "--name", "x\ry"});
  CHECK(image.exit_code == 5);
  CHECK(image.err.find("image name holds the control character U+000D") != std::string::npos);
  CHECK(rbdvol_json({"snapshot", "list", id}).at("snapshots").empty());
  rbdvol_json({"volume", "delete", id});
}

TEST_CASE("an image delete that loses a race with the image's first clone names the clone",
          "[integration]") {
  using rbdvol::test::BackgroundCommand;
  using rbdvol::test::rbdvol_argv;
  rbdvol::test::ImageCleanup cleanup;
  rbdvol::test::TempFile file(4 << 20);
  cleanup.add_file(file.path());
  const std::string id = rbdvol::test::upload_to_fast(file.path(), "race-first-clone", cleanup);

  // The delete stops once it has found no clone, right before it removes.
  setenv("RBDVOL_FAULT", "image.delete:before-remove=stop", 1);
  BackgroundCommand deleting(rbdvol_argv({"image", "delete", id}));
  unsetenv("RBDVOL_FAULT");
  REQUIRE(deleting.wait_stopped());
  auto volume = rbdvol_json({"volume", "create", "--type", "ssd", "--image", id});
  cleanup.add(volume);
  CHECK(volume.at("method") == "clone");
  deleting.resume();
  auto lost = deleting.finish();
  CHECK(lost.exit_code == 4);  // busy
  CHECK_THAT(lost.err, Catch::Contains("image " + id + " has 1 clone(s): "));
  CHECK_THAT(lost.err, Catch::Contains(volume.at("id").get<std::string>()));
  // The image and its volume are both still there.
  CHECK(rbdvol_json({"image", "show", id}).at("id") == id);
  rbdvol_json({"volume", "delete", volume.at("id")});
}

TEST_CASE("a new id that already names a volume or an image in any backend is refused",
          "[integration]") {
  rbdvol::test::ImageCleanup cleanup;
  // A volume on capacity: a new volume that draws its id is refused even
  // though it would land on fast, and nothing is made.
  auto existing = rbdvol_json({"volume", "create", "--type", "hdd", "--size", "4M"});
  cleanup.add(existing);
  const std::string volume_id = existing.at("id");
  setenv("RBDVOL_FAULT", ("new-id=" + volume_id).c_str(), 1);
  auto twin = run_rbdvol({"volume", "create", "--type", "ssd", "--size", "4M"});
  unsetenv("RBDVOL_FAULT");
  CHECK(twin.exit_code == 4);  // conflict
  CHECK_THAT(twin.err, Catch::Contains("the new volume id " + volume_id + " already names volume-" +
                                       volume_id + " on backend capacity"));
  // Nothing was made in fast, where the ssd volume would have gone.
  CephView fast("fast");
  CHECK(images_of(fast, "volumes", {volume_id}).empty());

  // The same for images: an upload and an image made from a volume.
  rbdvol::test::TempFile file(1 << 20);
  const std::string image_id = rbdvol::test::upload_to_fast(file.path(), "dup-id", cleanup);
  setenv("RBDVOL_FAULT", ("new-id=" + image_id).c_str(), 1);
  auto upload =
      run_rbdvol({"image", "upload", file.path(), "--name", "dup-id-2", "--backend", "capacity"});
  auto from_volume =
      run_rbdvol({"image", "create-from-volume", volume_id, "--name", "dup-id-3", "--force"});
  unsetenv("RBDVOL_FAULT");
  CHECK(upload.exit_code == 4);
  CHECK_THAT(upload.err, Catch::Contains("the new image id " + image_id + " already names image-" +
                                         image_id + " on backend fast"));
  CHECK(from_volume.exit_code == 4);
  CHECK_THAT(from_volume.err, Catch::Contains("the new image id " + image_id));
  auto shown = rbdvol_json({"image", "show", image_id});
  CHECK(shown.at("name") == "dup-id");
  CHECK(shown.at("locations").size() == 1);
}
