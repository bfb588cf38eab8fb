// Backends: stats, and a cluster that stops answering.
#include <catch2/catch.hpp>

#include <chrono>

#include "tests/integration/sandbox.h"

using namespace rbdvol::test;

namespace {

const nlohmann::json& backend_named(const nlohmann::json& list, const std::string& id) {
  for (const auto& b : list.at("backends")) {
    if (b.at("id") == id) return b;
  }
  FAIL("no backend " << id << " in " << list.dump());
  return list;
}

}  // namespace

TEST_CASE("backend list and show report capacity, provisioned bytes and counts",
          "[integration][backends]") {
  auto before = rbdvol_json({"backend", "show", "capacity"});
  REQUIRE(before.at("state") == "up");
  CHECK(before.at("total_bytes").get<uint64_t>() > 0);
  CHECK(before.at("free_bytes").get<uint64_t>() <= before.at("total_bytes").get<uint64_t>());
  CHECK(before.at("tags") == nlohmann::json({"media:hdd", "purpose:archive"}));
  CHECK(before.at("weight") == 1);

  // The counts are the whole backend's, which the tests running beside this
  // one change too: the difference one volume makes must show in one of a
  // few tries (a wrong count misses it in every one).
  bool counted = false;
  for (int attempt = 0; attempt < 5 && !counted; ++attempt) {
    if (attempt > 0) before = rbdvol_json({"backend", "show", "capacity"});
    auto volume = rbdvol_json({"volume", "create", "--type", "hdd", "--size", "3G"});
    CHECK(volume.at("backend") == "capacity");
    CHECK(volume.at("method") == "blank");
    auto after = rbdvol_json({"backend", "show", "capacity"});
    rbdvol_json({"volume", "delete", volume.at("id")});
    UNSCOPED_INFO("try " << attempt << ": before " << before.dump() << ", with the volume "
                         << after.dump());
    counted =
        after.at("provisioned_bytes").get<uint64_t>() ==
            before.at("provisioned_bytes").get<uint64_t>() + (3ULL << 30) &&
        after.at("volume_count").get<uint64_t>() == before.at("volume_count").get<uint64_t>() + 1 &&
        after.at("image_count") == before.at("image_count");
  }
  CHECK(counted);

  auto list = rbdvol_json({"backend", "list"});
  CHECK(backend_named(list, "fast").at("default") == true);
  CHECK(backend_named(list, "capacity").at("default") == false);

  auto missing = run_rbdvol({"backend", "show", "nosuch"});
  CHECK(missing.exit_code != 0);
  CHECK(missing.err.find("backend 'nosuch' is not an enabled backend (enabled: fast, capacity)") !=
        std::string::npos);
}

TEST_CASE("a backend whose cluster stops answering is reported down within the timeout and skipped",
          "[integration][backends]") {
  const int timeout = sandbox_config().rados_connect_timeout;
  PausedCluster paused("capacity");

  auto start = std::chrono::steady_clock::now();
  auto listed = run_rbdvol({"--json", "backend", "list"});
  CHECK(listed.exit_code == 6);  // unreachable, after printing every backend
  const auto list = nlohmann::json::parse(listed.out);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(seconds < timeout + 5);
  CHECK(backend_named(list, "fast").at("state") == "up");
  const auto& capacity = backend_named(list, "capacity");
  CHECK(capacity.at("state") == "down");
  CHECK(capacity.at("error").get<std::string>().find("backend capacity") != std::string::npos);

  // One pause for every check below (a SECTION each would pause and resume
  // the cluster again, about 20 s each).
  {  // a disk type that only the stopped backend matches gets an error naming it
    auto r = run_rbdvol({"volume", "create", "--type", "hdd", "--size", "1G"});
    CHECK(r.exit_code != 0);
    CHECK(r.err.find("no matching backend is reachable") != std::string::npos);
    CHECK(r.err.find("capacity") != std::string::npos);
  }
  {  // volumes of other disk types still land on the backends that answer
    auto volume = rbdvol_json({"volume", "create", "--type", "ssd", "--size", "1G"});
    CHECK(volume.at("backend") == "fast");
    rbdvol_json({"volume", "delete", volume.at("id")});
  }
  {  // a volume found in no answering backend is not taken for gone
    const std::string id = "0b0e2c1a-5d6f-4a7b-8c9d-0e1f2a3b4c5d";
    auto shown = run_rbdvol({"volume", "show", id});
    CHECK(shown.exit_code != 0);
    CHECK(shown.err.find("not found in the backends that answered (not searched:") !=
          std::string::npos);
    auto deleted = run_rbdvol({"--json", "volume", "delete", id});
    CHECK(deleted.exit_code != 0);
    CHECK(deleted.out.find("already_gone") == std::string::npos);
  }
  {  // a snapshot is found on a backend that answers, and one found nowhere is not gone
    auto volume = rbdvol_json({"volume", "create", "--type", "ssd", "--size", "4M"});
    const std::string snap = rbdvol_json({"snapshot", "create", volume.at("id")}).at("id");
    CHECK(rbdvol_json({"snapshot", "revert", snap}).at("volume") == volume.at("id"));
    const std::string unknown = "0b0e2c1a-5d6f-4a7b-8c9d-0e1f2a3b4c5e";
    auto deleted = run_rbdvol({"--json", "snapshot", "delete", unknown});
    CHECK(deleted.exit_code != 0);
    CHECK(deleted.out.find("already_gone") == std::string::npos);
    CHECK(deleted.err.find("not found in the backends that answered (not searched:") !=
          std::string::npos);
    rbdvol_json({"volume", "delete", volume.at("id"), "--cascade"});
  }
  {  // image list names the backend it could not search, and fails
    auto listed = run_rbdvol({"--json", "image", "list"});
    CHECK(listed.exit_code != 0);
    CHECK(listed.err.find("the listing is incomplete: a backend is unreachable") !=
          std::string::npos);
    auto images = nlohmann::json::parse(listed.out);
    REQUIRE(images.at("unreachable").size() == 1);
    CHECK(images.at("unreachable")[0].at("backend") == "capacity");
  }
}
