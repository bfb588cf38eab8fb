// attach_volume/detach_volume against a stand-in hypervisor and ledger.
#include <catch2/catch.hpp>

#include <map>
#include <set>

#include "attach/attach_volume.h"

using rbdvol::Result;
using rbdvol::Status;
using namespace rbdvol::attach;

namespace {

const char* kEmptyDomain = R"(<domain type='qemu'>
  <name>NAME</name>
  <devices>
    <disk type='file' device='disk'>
      <source file='/var/lib/root.img'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>
)";

std::string fresh_domain_xml(const std::string& name) {
  std::string xml = kEmptyDomain;
  xml.replace(xml.find("NAME"), 4, name);
  return xml;
}

struct FakeDomain {
  bool running = true;
  std::string persistent;
  std::string live;
};

class FakeHypervisor : public Hypervisor {
 public:
  std::map<std::string, FakeDomain> domains;
  std::set<std::string> refuse_attach;  // domains whose attach fails
  bool guest_answers_unplug = true;

  void add(const std::string& name, bool running) {
    domains[name] = {running, fresh_domain_xml(name), running ? fresh_domain_xml(name) : ""};
  }

  Result<bool> is_running(const std::string& d) override {
    auto it = domains.find(d);
    if (it == domains.end()) return Status::NotFound("domain " + d + ": no such domain");
    return it->second.running;
  }
  Result<std::string> domain_xml(const std::string& d, bool persistent) override {
    auto it = domains.find(d);
    if (it == domains.end()) return Status::NotFound("no domain " + d);
    return persistent ? it->second.persistent : it->second.live;
  }
  Status attach_device(const std::string& d, const std::string& xml, bool live,
                       bool persistent) override {
    if (refuse_attach.count(d)) return Status::Error(EIO, "injected attach failure on " + d);
    auto& dom = domains.at(d);
    if (live) {
      auto next = rbdvol::xmlpatch::add_disk(dom.live, xml);
      if (!next.ok()) return next.status();
      dom.live = *next;
    }
    if (persistent) {
      auto next = rbdvol::xmlpatch::add_disk(dom.persistent, xml);
      if (!next.ok()) return next.status();
      dom.persistent = *next;
    }
    return Status::Ok();
  }
  Status detach_device(const std::string& d, const std::string& xml, bool live,
                       bool persistent) override {
    auto& dom = domains.at(d);
    auto disks = rbdvol::xmlpatch::list_disks("<domain><devices>" + xml + "</devices></domain>");
    if (!disks.ok() || disks->empty()) return Status::Invalid("bad device xml");
    rbdvol::xmlpatch::DiskSelector which{disks->front().target_dev, ""};
    if (live && guest_answers_unplug) {
      auto next = rbdvol::xmlpatch::remove_disk(dom.live, which);
      if (!next.ok()) return next.status();
      dom.live = *next;
    }
    if (persistent) {
      auto next = rbdvol::xmlpatch::remove_disk(dom.persistent, which);
      if (!next.ok()) return next.status();
      dom.persistent = *next;
    }
    return Status::Ok();
  }
};

nlohmann::json connection(bool multiattach) {
  return {{"driver_volume_type", "rbd"},
          {"volume_id", "0b0e2c1a-5d6f-4a7b-8c9d-0e1f2a3b4c5d"},
          {"backend", "fast"},
          {"pool", "volumes"},
          {"image", "volume-0b0e2c1a-5d6f-4a7b-8c9d-0e1f2a3b4c5d"},
          {"hosts", {"127.0.0.1"}},
          {"ports", {"6789"}},
          {"auth_username", "admin"},
          {"secret_uuid", "5f0c3a56-0000-4000-8000-000000000001"},
          {"multiattach", multiattach},
          {"cache", "none"}};
}
const std::string kSource = "volumes/volume-0b0e2c1a-5d6f-4a7b-8c9d-0e1f2a3b4c5d";

// Enforces the multiattach rule as the plugin does.
class FakeLedger : public AttachmentLedger {
 public:
  explicit FakeLedger(bool multiattach) : multiattach_(multiattach) {}
  std::map<std::string, std::string> records;  // domain -> target dev ("" while attaching)

  Result<nlohmann::json> reserve(const std::string& domain) override {
    if (records.count(domain)) return Status::Exists("already attached to " + domain);
    if (!multiattach_ && !records.empty()) {
      return Status::Busy("not multiattach, attached to " + records.begin()->first);
    }
    records[domain] = "";
    return connection(multiattach_);
  }
  Status confirm(const std::string& domain, const std::string& dev) override {
    records[domain] = dev;
    return Status::Ok();
  }
  Status release(const std::string& domain) override {
    records.erase(domain);
    return Status::Ok();
  }

 private:
  bool multiattach_;
};

std::vector<rbdvol::xmlpatch::DiskInfo> rbd_disks(const std::string& xml) {
  std::vector<rbdvol::xmlpatch::DiskInfo> out;
  auto disks = rbdvol::xmlpatch::list_disks(xml);
  REQUIRE(disks.ok());
  for (const auto& d : *disks) {
    if (d.source_protocol == "rbd") out.push_back(d);
  }
  return out;
}

}  // namespace

TEST_CASE("a multiattach volume goes into every domain as a shareable raw disk", "[attach]") {
  FakeHypervisor hv;
  hv.add("vm1", true);
  hv.add("vm2", true);
  hv.add("vm3", false);
  FakeLedger ledger(true);
  auto r = attach_volume(hv, ledger, {"vm1", "vm2", "vm3"});
  REQUIRE(r.ok());
  REQUIRE(r->size() == 3);
  CHECK(r->at(0).target_dev == "vdb");
  CHECK(r->at(0).live);
  CHECK_FALSE(r->at(2).live);  // shut off: persistent only, and it stays off
  CHECK_FALSE(hv.domains["vm3"].running);
  CHECK(hv.domains["vm3"].live.empty());
  for (const char* name : {"vm1", "vm2"}) {
    for (bool persistent : {true, false}) {
      const auto& xml = persistent ? hv.domains[name].persistent : hv.domains[name].live;
      auto disks = rbd_disks(xml);
      REQUIRE(disks.size() == 1);
      CHECK(disks[0].source_name == kSource);
      CHECK(disks[0].shareable);
      CHECK(disks[0].cache == "none");
      CHECK(disks[0].driver_type == "raw");
      CHECK(disks[0].secret_uuid == "5f0c3a56-0000-4000-8000-000000000001");
    }
  }
  CHECK(ledger.records.size() == 3);
  CHECK(ledger.records["vm2"] == "vdb");
}

TEST_CASE("an attach that fails on the third domain leaves the first two without the disk",
          "[attach]") {
  FakeHypervisor hv;
  hv.add("vm1", true);
  hv.add("vm2", true);
  FakeLedger ledger(true);
  SECTION("the third domain does not exist") {
    auto r = attach_volume(hv, ledger, {"vm1", "vm2", "nosuchvm"});
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().err() == ENOENT);
    CHECK(r.status().message().find("attach to domain nosuchvm failed") != std::string::npos);
    CHECK(r.status().message().find("detached again from: vm1 vm2") != std::string::npos);
  }
  SECTION("libvirt refuses the third attach") {
    hv.add("vm3", true);
    hv.refuse_attach.insert("vm3");
    auto r = attach_volume(hv, ledger, {"vm1", "vm2", "vm3"});
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find("injected attach failure on vm3") != std::string::npos);
    CHECK(rbd_disks(hv.domains["vm3"].persistent).empty());
  }
  for (const char* name : {"vm1", "vm2"}) {
    CHECK(rbd_disks(hv.domains[name].persistent).empty());
    CHECK(rbd_disks(hv.domains[name].live).empty());
    CHECK(hv.domains[name].persistent == fresh_domain_xml(name));  // byte for byte as before
  }
  CHECK(ledger.records.empty());
}

TEST_CASE("a volume that is not multiattach is refused for a second domain", "[attach]") {
  FakeHypervisor hv;
  hv.add("vm1", true);
  hv.add("vm2", true);
  FakeLedger ledger(false);
  REQUIRE(attach_volume(hv, ledger, {"vm1"}).ok());
  const std::string vm1_before = hv.domains["vm1"].live;
  auto r = attach_volume(hv, ledger, {"vm2"});
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().err() == EBUSY);
  CHECK(hv.domains["vm1"].live == vm1_before);
  CHECK(rbd_disks(hv.domains["vm2"].live).empty());
  CHECK(ledger.records.size() == 1);
  CHECK(ledger.records.count("vm1") == 1);
  SECTION("and for the same domain twice") {
    auto again = attach_volume(hv, ledger, {"vm1"});
    REQUIRE_FALSE(again.ok());
    CHECK(again.status().err() == EEXIST);
    CHECK(hv.domains["vm1"].live == vm1_before);
  }
  SECTION("and naming one domain twice in one call is refused before anything is done") {
    auto twice = attach_volume(hv, ledger, {"vm2", "vm2"});
    REQUIRE_FALSE(twice.ok());
    CHECK(twice.status().message().find("named twice") != std::string::npos);
  }
}

TEST_CASE("the target dev is the first vd name free in both the live and the persistent XML",
          "[attach]") {
  FakeHypervisor hv;
  hv.add("vm1", true);
  // A disk hot-plugged live only takes vdb in the live XML.
  auto live = rbdvol::xmlpatch::add_disk(
      hv.domains["vm1"].live,
      "<disk type='file' device='disk'><source file='/x'/><target dev='vdb' bus='virtio'/></disk>");
  REQUIRE(live.ok());
  hv.domains["vm1"].live = *live;
  FakeLedger ledger(true);
  auto r = attach_volume(hv, ledger, {"vm1"});
  REQUIRE(r.ok());
  CHECK(r->at(0).target_dev == "vdc");
}

TEST_CASE("detach removes the disk and the record; a guest that ignores the unplug is reported",
          "[attach]") {
  FakeHypervisor hv;
  hv.add("vm1", true);
  hv.add("vm2", true);
  FakeLedger ledger(true);
  REQUIRE(attach_volume(hv, ledger, {"vm1", "vm2"}).ok());
  SECTION("a guest that answers") {
    auto d = detach_volume(hv, ledger, kSource, {"vm1"}, 0);
    REQUIRE(d.ok());
    CHECK_FALSE(d->at(0).live_pending);
    CHECK(rbd_disks(hv.domains["vm1"].live).empty());
  }
  SECTION("a guest without an OS never answers") {
    hv.guest_answers_unplug = false;
    auto d = detach_volume(hv, ledger, kSource, {"vm1"}, 0);
    REQUIRE(d.ok());
    CHECK(d->at(0).live_pending);
  }
  CHECK(rbd_disks(hv.domains["vm1"].persistent).empty());
  CHECK(ledger.records.count("vm1") == 0);
  CHECK(rbd_disks(hv.domains["vm2"].live).size() == 1);  // the other guest keeps it
  CHECK(ledger.records.count("vm2") == 1);
}

TEST_CASE("connection info without a libvirt secret is refused", "[attach]") {
  auto c = connection(true);
  c["secret_uuid"] = "";
  auto disk = rbd_disk_from_connection(c);
  REQUIRE_FALSE(disk.ok());
  CHECK(disk.status().err() == EINVAL);
  CHECK(disk.status().message().find("libvirt_secret_uuid") != std::string::npos);
}
