// The HA lease and fencing against the sandbox's real clusters (plugin
// operations ha.*, docs/ha.md): nodes racing for a free lease, the OSD's
// expiry, and a fence that blocklists a real writer of the volume. The
// agents themselves, with guests on two hypervisors: tests/ha/ha_test.py.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "host/plugin_host.h"
#include "tests/integration/sandbox.h"

using namespace rbdvol::test;
using nlohmann::json;
using rbdvol::host::PluginHost;

namespace {

std::unique_ptr<PluginHost> open_node() {
  const char* config = std::getenv("RBDVOL_CONFIG");
  REQUIRE(config != nullptr);
  auto host = PluginHost::load(RBDVOL_PLUGIN_PATH);
  REQUIRE(host.ok());
  REQUIRE((*host)->open(config).ok());
  return std::move(host).value();
}

json ok(PluginHost& host, const std::string& op, const json& request) {
  auto r = host.call(op, request);
  INFO(op << " " << request.dump() << ": " << (r.ok() ? "" : r.status().message()));
  REQUIRE(r.ok());
  return *r;
}

// An HA definition on a new volume of the fast backend, undefined (forced)
// and the volume deleted however the test ends.
struct Defined {
  std::string name = "ha-lease-" + random_uuid().substr(0, 8);
  std::string volume;
  Defined(PluginHost& host, const std::vector<std::string>& nodes, int lease_seconds) {
    volume = rbdvol_json({"volume", "create", "--type", "ssd", "--size", "8M"}).at("id");
    ok(host, "ha.define",
       {{"name", name},
        {"volume", volume},
        {"nodes", nodes},
        {"domain_xml", "<domain type='qemu'><name>" + name + "</name></domain>"},
        {"lease_seconds", lease_seconds},
        {"grace_seconds", 0},
        {"interval_seconds", 1}});
  }
  ~Defined() {
    run_rbdvol({"ha", "undefine", name, "--force"});
    run_rbdvol({"volume", "delete", volume});
  }
};

}  // namespace

TEST_CASE("nodes racing for a free lease: exactly one wins, at epoch 1, every round",
          "[integration][ha]") {
  auto admin = open_node();
  const std::vector<std::string> nodes = {"n1", "n2", "n3", "n4"};
  for (int round = 0; round < 3; ++round) {
    Defined ha(*admin, nodes, 30);
    std::vector<std::unique_ptr<PluginHost>> agents;
    for (size_t i = 0; i < nodes.size(); ++i) agents.push_back(open_node());
    std::atomic<int> ready{0};
    std::vector<json> answers(nodes.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < nodes.size(); ++i) {
      threads.emplace_back([&, i] {
        ++ready;
        while (ready < static_cast<int>(nodes.size())) std::this_thread::yield();
        auto r = agents[i]->call("ha.lease_acquire", {{"name", ha.name}, {"node", nodes[i]}});
        answers[i] = r.ok() ? *r : json{{"error", r.status().message()}};
      });
    }
    for (auto& t : threads) t.join();
    int held = 0;
    std::string winner;
    for (size_t i = 0; i < nodes.size(); ++i) {
      INFO(nodes[i] << ": " << answers[i].dump());
      REQUIRE_FALSE(answers[i].contains("error"));
      if (answers[i].at("held") == true) {
        ++held;
        winner = nodes[i];
        CHECK(answers[i].at("epoch") == 1);
        CHECK(answers[i].at("took_over") == true);
      }
    }
    REQUIRE(held == 1);
    // Every loser was told who won.
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (answers[i].at("held") == false) CHECK(answers[i].at("holder") == winner);
    }
    json shown = ok(*admin, "ha.show", {{"name", ha.name}});
    CHECK(shown.at("state").at("holder") == winner);
    REQUIRE(shown.at("lockers").size() == 1);
    CHECK(shown.at("lockers")[0].at("node") == winner);
  }
}

TEST_CASE("the OSD ends a lease that is not renewed, and the next holder fences the old writer",
          "[integration][ha]") {
  auto admin = open_node();
  Defined ha(*admin, {"n1", "n2"}, 3);
  auto n1 = open_node();
  auto n2 = open_node();
  json first = ok(*n1, "ha.lease_acquire", {{"name", ha.name}, {"node", "n1"}});
  REQUIRE(first.at("held") == true);
  const uint64_t epoch1 = first.at("epoch");

  // n1's "QEMU": a client with the volume open read-write.
  const std::string pool = sandbox_config().find_backend("fast")->volume_pool;
  CephView qemu("fast");
  auto writer = qemu.open_writable(pool, "volume-" + ha.volume);
  CephView ceph("fast");
  const auto before = ceph.watchers(pool, "volume-" + ha.volume);
  REQUIRE(before.size() == 1);

  // While n1's lock lives, n2 cannot have it, and may not fence.
  CHECK(ok(*n2, "ha.lease_acquire", {{"name", ha.name}, {"node", "n2"}}).at("held") == false);
  auto early = n2->call("ha.fence", {{"name", ha.name}, {"node", "n2"}, {"epoch", epoch1}});
  REQUIRE_FALSE(early.ok());
  CHECK(early.status().err() == EBUSY);

  // n1 stops renewing (hung): after the lease's 3 s the OSD gives it to n2.
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  json taken = ok(*n2, "ha.lease_acquire", {{"name", ha.name}, {"node", "n2"}});
  REQUIRE(taken.at("held") == true);
  CHECK(taken.at("took_over") == true);
  CHECK(taken.at("epoch") == epoch1 + 1);
  // The old holder's renewal fails now: it must stop its domain.
  json lost = ok(*n1, "ha.lease_acquire", {{"name", ha.name}, {"node", "n1"}});
  CHECK(lost.at("held") == false);
  CHECK(lost.at("holder") == "n2");
  // n1's fence at its old epoch is refused.
  auto stale = n1->call("ha.fence", {{"name", ha.name}, {"node", "n1"}, {"epoch", epoch1}});
  REQUIRE_FALSE(stale.ok());
  CHECK(stale.status().err() == EBUSY);

  // n2 fences: the writer is blocklisted and its watch goes.
  const json fence = {
      {"name", ha.name}, {"node", "n2"}, {"epoch", taken.at("epoch")}, {"expire_seconds", 600}};
  json fenced = ok(*n2, "ha.fence", fence);
  REQUIRE(fenced.at("blocklisted").size() == 1);
  CHECK(fenced.at("blocklisted")[0].at("address") == before[0]);
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = ok(*n2, "ha.fence", fence).at("watchers").empty();
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(gone);
  // Its writes fail from then on.
  char byte = 1;
  CHECK(rbd_write(writer.get(), 0, 1, &byte) < 0);
  json shown = ok(*admin, "ha.show", {{"name", ha.name}});
  REQUIRE(shown.at("blocklisted").size() == 1);
  CHECK(shown.at("blocklisted")[0].at("node") == "n2");
}
