// ha.*: definitions, the lease and fencing over the in-memory clusters, with
// two drivers standing for two nodes' agents (clients of their own). The
// same against real clusters: tests/integration/ha_lease_test.cc.
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "plugin/abi/operation_table.h"
#include "plugin/ceph/rbd_image.h"
#include "plugin/records/naming.h"
#include "tests/unit/plugin_test_env.h"

using namespace rbdvol::plugin;
using namespace rbdvol::plugin::testing;

namespace {

rbdvol::Result<Json> call_on(Driver& d, const std::string& op, const Json& request) {
  return call_operation(d, op, request, Progress());
}

Json defined(PluginTest& t, const std::string& name, const std::string& volume) {
  return t.call_ok("ha.define",
                   {{"name", name},
                    {"volume", volume},
                    {"nodes", {"n1", "n2"}},
                    {"domain_xml", "<domain type='qemu'><name>" + name + "</name></domain>"},
                    {"lease_seconds", 3},
                    {"grace_seconds", 0},
                    {"interval_seconds", 1}});
}

}  // namespace

TEST_CASE("ha.define keeps one definition per name and volume, and refuses bad ones",
          "[plugin][ha]") {
  PluginTest t;
  const std::string volume = t.volume("ssd");
  Json d = defined(t, "mgmt", volume);
  CHECK(d.at("backend") == "fast");
  CHECK(d.at("nodes") == Json::array({"n1", "n2"}));
  CHECK_FALSE(d.contains("domain_xml"));

  auto again = t.call("ha.define", {{"name", "mgmt"},
                                    {"volume", t.volume("hdd")},
                                    {"nodes", {"n1"}},
                                    {"domain_xml", "<domain/>"}});
  REQUIRE_FALSE(again.ok());
  CHECK(again.status().err() == EEXIST);
  auto same_volume = t.call(
      "ha.define",
      {{"name", "other"}, {"volume", volume}, {"nodes", {"n1"}}, {"domain_xml", "<domain/>"}});
  REQUIRE_FALSE(same_volume.ok());
  CHECK(same_volume.status().err() == EBUSY);

  const Json bad[] = {
      {{"name", "bad/name"}, {"volume", volume}, {"nodes", {"n1"}}, {"domain_xml", "<d/>"}},
      {{"name", "x"}, {"volume", volume}, {"nodes", Json::array()}, {"domain_xml", "<d/>"}},
      {{"name", "x"}, {"volume", volume}, {"nodes", {"n1", "n1"}}, {"domain_xml", "<d/>"}},
      {{"name", "x"}, {"volume", volume}, {"nodes", {"-n"}}, {"domain_xml", "<d/>"}},
      {{"name", "x"},
       {"volume", volume},
       {"nodes", {"n1"}},
       {"domain_xml", "<d/>"},
       {"lease_seconds", 5},
       {"interval_seconds", 2}},
      {{"name", "x"}, {"volume", volume}, {"nodes", {"n1"}}},
  };
  for (const auto& request : bad) {
    INFO(request.dump());
    auto r = t.call("ha.define", request);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().err() == EINVAL);
  }
  Json listed = t.call_ok("ha.list", Json::object());
  REQUIRE(listed.at("domains").size() == 1);
  CHECK(listed.at("domains")[0].at("name") == "mgmt");
  CHECK(listed.at("domains")[0].at("holder") == "");
}

TEST_CASE("the lease: one holder at a time, renewals keep the epoch, takeovers raise it",
          "[plugin][ha]") {
  PluginTest t;
  defined(t, "mgmt", t.volume("ssd"));
  auto node2 = t.another_process();
  const Json n1 = {{"name", "mgmt"}, {"node", "n1"}};
  const Json n2 = {{"name", "mgmt"}, {"node", "n2"}};

  Json got = t.call_ok("ha.lease_acquire", n1);
  CHECK(got.at("held") == true);
  CHECK(got.at("took_over") == true);
  CHECK(got.at("epoch") == 1);
  auto other = call_on(*node2, "ha.lease_acquire", n2);
  REQUIRE(other.ok());
  CHECK(other->at("held") == false);
  CHECK(other->at("holder") == "n1");

  Json renewed = t.call_ok("ha.lease_acquire", n1);
  CHECK(renewed.at("took_over") == false);
  CHECK(renewed.at("epoch") == 1);

  // Fencing is the holder's alone, at its epoch.
  auto not_holder = call_on(*node2, "ha.fence", {{"name", "mgmt"}, {"node", "n2"}, {"epoch", 1}});
  REQUIRE_FALSE(not_holder.ok());
  CHECK(not_holder.status().err() == EBUSY);
  auto stale = t.call("ha.fence", {{"name", "mgmt"}, {"node", "n1"}, {"epoch", 7}});
  REQUIRE_FALSE(stale.ok());
  CHECK(stale.status().err() == EBUSY);

  // An undefine while it is held is refused.
  auto undefine = t.call("ha.undefine", {{"name", "mgmt"}});
  REQUIRE_FALSE(undefine.ok());
  CHECK(undefine.status().err() == EBUSY);

  // After its expiry another node takes it, at the next epoch; the old
  // holder's renewal then fails.
  std::this_thread::sleep_for(std::chrono::milliseconds(4100));
  auto taken = call_on(*node2, "ha.lease_acquire", n2);
  REQUIRE(taken.ok());
  CHECK(taken->at("held") == true);
  CHECK(taken->at("took_over") == true);
  CHECK(taken->at("epoch") == 2);
  Json lost = t.call_ok("ha.lease_acquire", n1);
  CHECK(lost.at("held") == false);
  CHECK(lost.at("holder") == "n2");

  // A clean release frees it for the next.
  REQUIRE(call_on(*node2, "ha.lease_release", n2).ok());
  Json shown = t.call_ok("ha.show", {{"name", "mgmt"}});
  CHECK(shown.at("state").at("released") == true);
  CHECK(shown.at("lockers").empty());
  Json back = t.call_ok("ha.lease_acquire", n1);
  CHECK(back.at("held") == true);
  CHECK(back.at("epoch") == 3);
}

TEST_CASE("a node's restarted agent takes its own lock over and keeps the epoch", "[plugin][ha]") {
  PluginTest t;
  defined(t, "mgmt", t.volume("ssd"));
  const Json n1 = {{"name", "mgmt"}, {"node", "n1"}};
  REQUIRE(t.call_ok("ha.lease_acquire", n1).at("epoch") == 1);
  // The same node, another process (the agent killed and started again).
  auto restarted = t.another_process();
  auto got = call_on(*restarted, "ha.lease_acquire", n1);
  REQUIRE(got.ok());
  CHECK(got->at("held") == true);
  CHECK(got->at("took_over") == false);
  CHECK(got->at("broke_own_lock") == true);
  CHECK(got->at("epoch") == 1);
}

TEST_CASE("ha.fence blocklists every client of the volume and records it", "[plugin][ha]") {
  PluginTest t;
  const std::string volume = t.volume("ssd");
  defined(t, "mgmt", volume);
  // A writer of the volume in another process: the old holder's QEMU.
  auto qemu = t.another_process();
  auto cluster = qemu->enabled_cluster("fast");
  REQUIRE(cluster.ok());
  auto io = (*cluster)->open_volume_pool();
  REQUIRE(io.ok());
  auto writer = open_image(**io, kVolumePrefix + volume, false);
  REQUIRE(writer.ok());

  Json got = t.call_ok("ha.lease_acquire", {{"name", "mgmt"}, {"node", "n1"}});
  const Json fence = {{"name", "mgmt"}, {"node", "n1"}, {"epoch", got.at("epoch")}};
  Json first = t.call_ok("ha.fence", fence);
  REQUIRE(first.at("blocklisted").size() == 1);
  const std::string addr = first.at("blocklisted")[0].at("address");
  CHECK(first.at("watchers") == Json::array({addr}));
  // Blocklisted, the writer is gone from the watchers and cannot write.
  Json second = t.call_ok("ha.fence", fence);
  CHECK(second.at("blocklisted").empty());
  CHECK(second.at("watchers").empty());
  Json shown = t.call_ok("ha.show", {{"name", "mgmt"}});
  REQUIRE(shown.at("blocklisted").size() == 1);
  CHECK(shown.at("blocklisted")[0].at("address") == addr);
  CHECK(shown.at("blocklisted")[0].at("node") == "n1");
}

TEST_CASE("maintenance, relocation and reports are kept in the state", "[plugin][ha]") {
  PluginTest t;
  defined(t, "mgmt", t.volume("ssd"));
  auto bad = t.call("ha.update", {{"name", "mgmt"}, {"relocate_to", "n9"}});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().err() == EINVAL);
  t.call_ok("ha.lease_acquire", {{"name", "mgmt"}, {"node", "n1"}});
  Json moved = t.call_ok("ha.update", {{"name", "mgmt"}, {"relocate_to", "n2"}});
  CHECK(moved.at("state").at("relocate_to") == "n2");
  Json on = t.call_ok("ha.update", {{"name", "mgmt"}, {"maintenance", true}});
  CHECK(on.at("state").at("maintenance") == true);
  auto refused = t.call("ha.update", {{"name", "mgmt"}, {"relocate_to", "n2"}});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().err() == EBUSY);
  t.call_ok("ha.report",
            {{"name", "mgmt"}, {"node", "n2"}, {"check", {{"decision", "none"}, {"reason", "r"}}}});
  Json shown = t.call_ok("ha.show", {{"name", "mgmt"}});
  CHECK(shown.at("checks").at("n2").at("decision") == "none");
  CHECK(shown.at("checks").at("n2").at("node") == "n2");
  // In maintenance an undefine is allowed; everything of it goes.
  t.call_ok("ha.undefine", {{"name", "mgmt"}});
  CHECK(t.call_ok("ha.list", Json::object()).at("domains").empty());
  auto gone = t.call("ha.show", {{"name", "mgmt"}});
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.status().err() == ENOENT);
}
