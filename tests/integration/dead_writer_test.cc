// A process that dies holding an image's exclusive lock does not make the
// next one wait for its watch to time out.
#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <string>

#include "tests/integration/sandbox.h"

using namespace rbdvol::test;

TEST_CASE("the first volume of a copy whose process died holding its lock breaks the lock",
          "[integration]") {
  ImageCleanup cleanup;
  TempFile file(8 << 20);
  cleanup.add_file(file.path());
  const std::string id = upload_to_fast(file.path(), "dead-copier", cleanup);
  // The copy is complete, then its process dies with the image still open
  // and locked: the lock's client keeps its watch for 30 s.
  setenv("RBDVOL_FAULT", "image.copy:after-complete=kill", 1);
  auto killed = run_rbdvol({"image", "copy", id, "--to", "capacity"});
  unsetenv("RBDVOL_FAULT");
  REQUIRE(killed.exit_code == 128 + SIGKILL);
  REQUIRE(rbdvol_json({"image", "show", id}).at("locations").size() == 2);

  // The first volume cloned there makes the copy's snapshot, which needs the
  // lock: the dead holder is blocklisted and its lock broken, not waited out.
  const auto started = std::chrono::steady_clock::now();
  auto volume = rbdvol_json({"volume", "create", "--type", "hdd", "--image", id});
  const auto took = std::chrono::steady_clock::now() - started;
  cleanup.add(volume);
  CHECK(volume.at("backend") == "capacity");
  CHECK(volume.at("method") == "clone");
  CHECK(took < std::chrono::seconds(15));
  rbdvol_json({"volume", "delete", volume.at("id")});
}
