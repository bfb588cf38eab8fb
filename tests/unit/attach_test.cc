// attach_volume/detach_volume against a stand-in hypervisor and ledger.
#include <catch2/catch.hpp>

#include <map>
#include <set>

#include "attach/attach_volume.h"
#include "attach/audit.h"
#include "attach/libvirt_secret.h"
#include "attach/live_detach.h"
#include "attach/vm_define.h"

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
  std::string vanish_on_attach;  // a domain undefined right before its attach

  void add(const std::string& name, bool running) {
    domains[name] = {running, fresh_domain_xml(name), running ? fresh_domain_xml(name) : ""};
  }

  Result<bool> is_running(const std::string& d) override {
    auto it = domains.find(d);
    if (it == domains.end()) return Status::NotFound("domain " + d + ": no such domain");
    return it->second.running;
  }
  // Once a live unplug was asked of a domain, reading its live XML fails with
  // this (when set): libvirt that stops answering, or a domain that vanishes.
  Status live_read_error_after_unplug;
  std::set<std::string> unplug_asked;
  Result<std::string> domain_xml(const std::string& d, bool persistent) override {
    if (!persistent && unplug_asked.count(d) && !live_read_error_after_unplug.ok()) {
      return live_read_error_after_unplug;
    }
    auto it = domains.find(d);
    if (it == domains.end()) return Status::NotFound("no domain " + d);
    return persistent ? it->second.persistent : it->second.live;
  }
  Status attach_device(const std::string& d, const std::string& xml, bool live,
                       bool persistent) override {
    if (refuse_attach.count(d)) return Status::Error(EIO, "injected attach failure on " + d);
    if (d == vanish_on_attach) {
      domains.erase(d);
      return Status::NotFound("domain " + d + ": no such domain");
    }
    auto& dom = domains.at(d);
    if (live && !dom.running) return Status::Invalid("domain " + d + " is not running");
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
  Result<std::vector<std::string>> list_domains() override {
    std::vector<std::string> names;
    for (const auto& [name, dom] : domains) names.push_back(name);
    return names;
  }
  std::set<std::string> refuse_define;  // domains whose define fails
  Status define_domain(const std::string& xml) override {
    auto start = xml.find("<name>") + 6;
    const std::string name = xml.substr(start, xml.find("</name>") - start);
    if (refuse_define.count(name)) return Status::Error(EIO, "injected define failure on " + name);
    auto it = domains.find(name);
    if (it == domains.end()) {
      domains[name] = {false, xml, ""};  // a new domain is defined shut off
    } else {
      it->second.persistent = xml;
    }
    return Status::Ok();
  }
  Status undefine_domain(const std::string& d) override {
    if (!domains.count(d)) return Status::NotFound("no domain " + d);
    domains.erase(d);
    return Status::Ok();
  }
  std::string capabilities = R"(<capabilities>
  <host><cpu><arch>x86_64</arch></cpu></host>
  <guest>
    <os_type>hvm</os_type>
    <arch name='i686'><domain type='qemu'/><domain type='kvm'/></arch>
  </guest>
  <guest>
    <os_type>hvm</os_type>
    <arch name='x86_64'><wordsize>64</wordsize><domain type='qemu'/></arch>
  </guest>
</capabilities>)";
  Result<std::string> capabilities_xml() override { return capabilities; }
  std::map<std::string, std::string> secrets;  // uuid -> XML
  std::map<std::string, std::string> secret_values;
  int secret_writes = 0;
  Result<std::string> secret_xml(const std::string& uuid) override {
    auto it = secrets.find(uuid);
    if (it == secrets.end()) return Status::NotFound("no secret with uuid " + uuid);
    return it->second;
  }
  Status define_secret(const std::string& xml) override {
    auto start = xml.find("<uuid>") + 6;
    secrets[xml.substr(start, xml.find("</uuid>") - start)] = xml;
    ++secret_writes;
    return Status::Ok();
  }
  Status set_secret_value(const std::string& uuid, const std::string& value) override {
    secret_values[uuid] = value;
    ++secret_writes;
    return Status::Ok();
  }
  std::map<std::string, uint64_t> resized;  // "domain/dev" -> bytes
  std::set<std::string> refuse_resize;      // domains whose block resize fails
  Status block_resize(const std::string& d, const std::string& dev, uint64_t bytes) override {
    if (refuse_resize.count(d)) return Status::Error(EIO, "injected resize failure on " + d);
    resized[d + "/" + dev] = bytes;
    return Status::Ok();
  }
  Status detach_device(const std::string& d, const std::string& xml, bool live,
                       bool persistent) override {
    auto& dom = domains.at(d);
    if (live) unplug_asked.insert(d);
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

  int reserved = 0;

  Result<nlohmann::json> reserve(const std::string& domain) override {
    ++reserved;
    if (records.count(domain)) return Status::Exists("already attached to " + domain);
    if (!multiattach_ && !records.empty()) {
      return Status::Busy("not multiattach, attached to " + records.begin()->first);
    }
    records[domain] = "";
    return connection(multiattach_);
  }
  Status confirm_error;  // when set, confirm fails with it
  Status confirm(const std::string& domain, const std::string& dev) override {
    if (!confirm_error.ok()) return confirm_error;
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
  SECTION("the third domain does not exist: found before anything is reserved or attached") {
    auto r = attach_volume(hv, ledger, {"vm1", "vm2", "nosuchvm"});
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().err() == ENOENT);
    CHECK(r.status().message().find("no such domain: nosuchvm") != std::string::npos);
    CHECK(ledger.reserved == 0);
  }
  SECTION("the third domain vanishes after the check: the first two are undone") {
    hv.add("vm3", true);
    hv.vanish_on_attach = "vm3";
    auto r = attach_volume(hv, ledger, {"vm1", "vm2", "vm3"});
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().err() == ENOENT);
    CHECK(r.status().message().find("attach to domain vm3 failed") != std::string::npos);
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

TEST_CASE("detach removes the disk and the record, and reports a guest that ignores the unplug",
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

TEST_CASE("a live XML that cannot be read after the unplug is no proof that the disk is gone",
          "[attach]") {
  FakeHypervisor hv;
  hv.add("vm1", true);
  hv.add("vm2", true);
  FakeLedger ledger(true);
  REQUIRE(attach_volume(hv, ledger, {"vm1", "vm2"}).ok());
  hv.guest_answers_unplug = false;  // the disk stays in the live XML
  const auto still_there = [](const std::string& xml) { return !rbd_disks(xml).empty(); };
  const std::string disk = *rbdvol::xmlpatch::disk_xml_of(
      hv.domains["vm1"].live, rbdvol::xmlpatch::DiskSelector{"vdb", ""});

  SECTION("libvirt failing to answer is an error naming the domain, not \"detached\"") {
    hv.live_read_error_after_unplug = Status::Error(EIO, "cannot reach libvirtd");
    auto gone = detach_live_and_wait(hv, "vm1", disk, still_there, 0);
    REQUIRE_FALSE(gone.ok());
    CHECK(gone.status().err() == EIO);
    CHECK(gone.status().message().find("domain vm1") != std::string::npos);
    CHECK(gone.status().message().find("cannot reach libvirtd") != std::string::npos);
    // Through detach_volume: the failure is reported, not a clean detach.
    auto through = detach_volume(hv, ledger, kSource, {"vm2"}, 0);
    REQUIRE_FALSE(through.ok());
    CHECK(through.status().message().find("cannot reach libvirtd") != std::string::npos);
  }
  SECTION("a domain that is gone holds nothing: that is detached") {
    hv.live_read_error_after_unplug = Status::NotFound("domain vm1: no such domain");
    auto gone = detach_live_and_wait(hv, "vm1", disk, still_there, 0);
    REQUIRE(gone.ok());
    CHECK(*gone);
  }
  SECTION("a guest that keeps the disk is reported as such") {
    auto gone = detach_live_and_wait(hv, "vm1", disk, still_there, 0);
    REQUIRE(gone.ok());
    CHECK_FALSE(*gone);
  }
}

TEST_CASE("connection info without a libvirt secret is refused", "[attach]") {
  auto c = connection(true);
  c["secret_uuid"] = "";
  auto disk = rbd_disk_from_connection(c);
  REQUIRE_FALSE(disk.ok());
  CHECK(disk.status().err() == EINVAL);
  CHECK(disk.status().message().find("libvirt_secret_uuid") != std::string::npos);
}

TEST_CASE("attach on the scsi bus gives the disk the first free sd target", "[attach]") {
  FakeHypervisor hv;
  hv.add("vm1", true);
  FakeLedger ledger(true);
  AttachOptions options;
  options.bus = "scsi";
  auto r = attach_volume(hv, ledger, {"vm1"}, options);
  REQUIRE(r.ok());
  CHECK(r->at(0).target_dev == "sda");
  auto disks = rbd_disks(hv.domains["vm1"].live);
  REQUIRE(disks.size() == 1);
  CHECK(disks[0].target_bus == "scsi");
  SECTION("and an unknown bus is refused before anything is done") {
    options.bus = "ide";
    auto bad = attach_volume(hv, ledger, {"vm1"}, options);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().err() == EINVAL);
    CHECK(ledger.reserved == 1);
  }
}

namespace {

VolumeRules shared_rules() {
  VolumeRules r;
  r.volume_id = "0b0e2c1a-5d6f-4a7b-8c9d-0e1f2a3b4c5d";
  r.multiattach = true;
  r.cache = "none";
  r.auth_username = "admin";
  r.secret_uuid = "5f0c3a56-0000-4000-8000-000000000001";
  return r;
}

class FakeDirectory : public VolumeDirectory {
 public:
  int lookups = 0;
  Result<std::optional<VolumeRules>> lookup(const std::string& pool,
                                            const std::string& image) override {
    ++lookups;
    if (pool + "/" + image != kSource) return std::optional<VolumeRules>();
    return std::optional<VolumeRules>(shared_rules());
  }
};

// A disk of the shared volume at `dev` with everything wrong a hand-written
// one can have.
std::string bad_shared_disk(const std::string& dev, bool with_auth) {
  return "<disk type='network' device='disk'>\n  <driver name='qemu' type='qcow2' "
         "cache='writeback'/>\n" +
         std::string(with_auth ? "  <auth username='admin'><secret type='ceph' "
                                 "uuid='5f0c3a56-0000-4000-8000-000000000001'/></auth>\n"
                               : "") +
         "  <source protocol='rbd' name='" + kSource + "'/>\n  <target dev='" + dev +
         "' bus='scsi'/>\n</disk>";
}

}  // namespace

TEST_CASE("a hand-written shared disk breaks every rule, and fix_disk repairs it", "[attach]") {
  auto doc = rbdvol::xmlpatch::add_disk(fresh_domain_xml("vm1"), bad_shared_disk("sdb", false));
  REQUIRE(doc.ok());
  auto disks = rbd_disks(*doc);
  REQUIRE(disks.size() == 1);
  auto breaks = rule_breaks(disks[0], shared_rules());
  CHECK(breaks.size() == 4);
  auto fixed = fix_disk(*doc, "sdb", shared_rules());
  REQUIRE(fixed.ok());
  auto after = rbd_disks(*fixed);
  REQUIRE(after.size() == 1);
  CHECK(after[0].shareable);
  CHECK(after[0].cache == "none");
  CHECK(after[0].driver_type == "raw");
  CHECK(after[0].auth_username == "admin");
  CHECK(after[0].secret_uuid == "5f0c3a56-0000-4000-8000-000000000001");
  CHECK(rule_breaks(after[0], shared_rules()).empty());
  // Nothing else moved: removing the disk gives the domain back as it was.
  auto removed = rbdvol::xmlpatch::remove_disk(*fixed, {"sdb", ""});
  REQUIRE(removed.ok());
  CHECK(*removed == fresh_domain_xml("vm1"));
  SECTION("a disk of a volume that is not multiattach only needs <auth>") {
    auto rules = shared_rules();
    rules.multiattach = false;
    CHECK(rule_breaks(disks[0], rules).size() == 1);
    rules.secret_uuid = "";
    auto no_secret = fix_disk(*doc, "sdb", rules);
    REQUIRE_FALSE(no_secret.ok());
    CHECK(no_secret.status().message().find("libvirt_secret_uuid") != std::string::npos);
  }
}

TEST_CASE("audit --fix rewrites the definition, and the live disk only with --live", "[attach]") {
  FakeHypervisor hv;
  hv.add("vm1", true);
  hv.add("vm2", false);
  for (const char* name : {"vm1", "vm2"}) {
    auto& dom = hv.domains[name];
    dom.persistent = *rbdvol::xmlpatch::add_disk(dom.persistent, bad_shared_disk("sdb", true));
    if (dom.running) dom.live = *rbdvol::xmlpatch::add_disk(dom.live, bad_shared_disk("sdb", true));
  }
  FakeDirectory volumes;
  AuditOptions options;
  auto found = audit_domains(hv, volumes, {}, options);
  REQUIRE(found.ok());
  REQUIRE(found->size() == 3);  // vm1 persistent and live, vm2 persistent
  CHECK(volumes.lookups == 1);  // one volume, looked up once
  for (const auto& f : *found) CHECK_FALSE(f.fixed);

  options.fix = true;
  auto fixed = audit_domains(hv, volumes, {"vm1", "vm2"}, options);
  REQUIRE(fixed.ok());
  REQUIRE(fixed->size() == 3);
  CHECK(fixed->at(0).fixed);
  CHECK(fixed->at(1).where == "live");
  CHECK_FALSE(fixed->at(1).fixed);
  CHECK(fixed->at(1).action.find("next boot") != std::string::npos);
  CHECK(fixed->at(2).fixed);
  CHECK(rule_breaks(rbd_disks(hv.domains["vm2"].persistent)[0], shared_rules()).empty());
  CHECK(rbd_disks(hv.domains["vm1"].live)[0].cache == "writeback");

  SECTION("--live detaches and attaches the corrected disk") {
    options.live = true;
    auto live = audit_domains(hv, volumes, {"vm1"}, options);
    REQUIRE(live.ok());
    REQUIRE(live->size() == 1);
    CHECK(live->at(0).fixed);
    CHECK(rule_breaks(rbd_disks(hv.domains["vm1"].live)[0], shared_rules()).empty());
  }
  SECTION("--live on a guest that never answers the unplug leaves it for the next boot") {
    options.live = true;
    options.live_wait_ms = 0;
    hv.guest_answers_unplug = false;
    auto live = audit_domains(hv, volumes, {"vm1"}, options);
    REQUIRE(live.ok());
    CHECK_FALSE(live->at(0).fixed);
    CHECK(live->at(0).action.find("next boot") != std::string::npos);
  }
  SECTION("a domain that does not exist stops the audit") {
    auto missing = audit_domains(hv, volumes, {"vm1", "nosuchvm"}, options);
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.status().err() == ENOENT);
  }
}

TEST_CASE("ensure_ceph_secret creates, then changes nothing, and never shows the key", "[attach]") {
  FakeHypervisor hv;
  CephSecret secret;
  secret.uuid = "5f0c3a56-0000-4000-8000-000000000001";
  secret.usage_name = "client.admin@fast";
  secret.description = "rbdvol: test";
  secret.key = "AQBvaJ9lAAAAABAAxYz1m0dCtq5Qp0Ux2a5W6g==";
  secret.key_digest = "0123456789abcdef";
  auto created = ensure_ceph_secret(hv, secret);
  REQUIRE(created.ok());
  CHECK(*created == "created");
  const std::string& xml = hv.secrets[secret.uuid];
  CHECK(xml.find("private='yes'") != std::string::npos);
  CHECK(xml.find("ephemeral='no'") != std::string::npos);
  CHECK(xml.find("<usage type='ceph'>") != std::string::npos);
  CHECK(xml.find(secret.key) == std::string::npos);
  // libvirt keeps the decoded bytes, as virsh secret-set-value does.
  CHECK(hv.secret_values[secret.uuid].size() == 28);
  const int writes = hv.secret_writes;
  auto again = ensure_ceph_secret(hv, secret);
  REQUIRE(again.ok());
  CHECK(*again == "unchanged");
  CHECK(hv.secret_writes == writes);
  SECTION("a new key updates it") {
    secret.key = "AQBvaJ9lAAAAABAAxYz1m0dCtq5Qp0Ux2a5W6h==";
    secret.key_digest = "fedcba9876543210";
    auto updated = ensure_ceph_secret(hv, secret);
    REQUIRE(updated.ok());
    CHECK(*updated == "updated");
  }
  SECTION("a key that is not base64 is refused without being shown") {
    secret.key = "not base64 <secret-bytes>";
    auto bad = ensure_ceph_secret(hv, secret);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().message().find("secret-bytes") == std::string::npos);
  }
}

TEST_CASE("set_disk_auth replaces an <auth> kept in <source> with one before it", "[attach]") {
  const std::string domain =
      "<domain type='kvm'>\n  <name>x</name>\n  <devices>\n"
      "    <disk type='network' device='disk'>\n      <driver name='qemu' type='raw'/>\n"
      "      <source protocol='rbd' name='p/i'>\n        <auth username='old'>\n"
      "          <secret type='ceph' uuid='5f0c3a56-0000-4000-8000-000000000009'/>\n"
      "        </auth>\n        <host name='h'/>\n      </source>\n"
      "      <target dev='sdb' bus='scsi'/>\n    </disk>\n  </devices>\n</domain>\n";
  auto out = rbdvol::xmlpatch::set_disk_auth(domain, {"sdb", ""}, "admin",
                                             "5f0c3a56-0000-4000-8000-000000000001");
  REQUIRE(out.ok());
  CHECK(*out ==
        "<domain type='kvm'>\n  <name>x</name>\n  <devices>\n"
        "    <disk type='network' device='disk'>\n      <driver name='qemu' type='raw'/>\n"
        "      <auth username='admin'>\n"
        "        <secret type='ceph' uuid='5f0c3a56-0000-4000-8000-000000000001'/>\n"
        "      </auth>\n      <source protocol='rbd' name='p/i'>\n        <host name='h'/>\n"
        "      </source>\n      <target dev='sdb' bus='scsi'/>\n    </disk>\n  </devices>\n"
        "</domain>\n");
  SECTION("names outside the allowlist are refused") {
    CHECK(rbdvol::xmlpatch::set_disk_auth(domain, {"sdb", ""}, "a:b",
                                          "5f0c3a56-0000-4000-8000-000000000001")
              .status()
              .err() == EINVAL);
    CHECK(rbdvol::xmlpatch::set_disk_auth(domain, {"sdb", ""}, "admin", "not-a-uuid")
              .status()
              .err() == EINVAL);
  }
  SECTION("a shareable disk cannot become qcow2") {
    auto shared = rbdvol::xmlpatch::make_disk_shareable(*out, {"sdb", ""}, "none");
    REQUIRE(shared.ok());
    CHECK(rbdvol::xmlpatch::set_disk_driver_type(*shared, {"sdb", ""}, "qcow2").status().err() ==
          EINVAL);
  }
}

TEST_CASE("detach removes the record of a domain that is gone and goes on with the others",
          "[attach]") {
  FakeHypervisor hv;
  hv.add("vm1", true);
  hv.add("vm2", true);
  FakeLedger ledger(true);
  REQUIRE(attach_volume(hv, ledger, {"vm1", "vm2"}).ok());
  hv.domains.erase("vm1");  // undefined behind rbdvol's back
  auto d = detach_volume(hv, ledger, kSource, {"vm1", "vm2"}, 0);
  REQUIRE(d.ok());
  REQUIRE(d->size() == 2);
  CHECK(d->at(0).missing);
  CHECK_FALSE(d->at(1).missing);
  CHECK(rbd_disks(hv.domains["vm2"].persistent).empty());
  CHECK(ledger.records.empty());
}

TEST_CASE("after an extend, running domains with the disk are told its size, the others not",
          "[attach]") {
  FakeHypervisor hv;
  hv.add("vm1", true);
  hv.add("vm2", true);
  hv.add("vm3", false);
  hv.add("other", true);  // runs, without the volume
  FakeLedger ledger(true);
  REQUIRE(attach_volume(hv, ledger, {"vm1", "vm2", "vm3"}).ok());

  const auto image_is = [](uint64_t bytes) {
    return [bytes]() -> Result<uint64_t> { return bytes; };
  };
  auto told = announce_volume_size(hv, kSource, {"vm1", "vm2", "vm3", "other", "gone"}, 16 << 20,
                                   image_is(16 << 20));
  REQUIRE(told.ok());
  REQUIRE(told->size() == 5);
  CHECK(hv.resized ==
        std::map<std::string, uint64_t>{{"vm1/vdb", 16 << 20}, {"vm2/vdb", 16 << 20}});
  CHECK(told->at(0).told);
  CHECK(told->at(0).target_dev == "vdb");
  CHECK(told->at(1).told);
  for (size_t i = 2; i < 5; ++i) {
    INFO(told->at(i).domain);
    CHECK_FALSE(told->at(i).told);
    CHECK_FALSE(told->at(i).failed);
  }
  CHECK(told->at(2).note.find("not running") != std::string::npos);
  CHECK(told->at(3).note == "runs without the disk " + kSource);
  CHECK(told->at(4).note == "no such domain");

  SECTION("a domain that cannot be told does not keep the others from it") {
    hv.resized.clear();
    hv.refuse_resize = {"vm1"};
    auto again = announce_volume_size(hv, kSource, {"vm1", "vm2"}, 32 << 20, image_is(32 << 20));
    REQUIRE(again.ok());
    CHECK(again->at(0).failed);
    CHECK_FALSE(again->at(0).told);
    CHECK(again->at(0).note.find("injected resize failure on vm1") != std::string::npos);
    CHECK(again->at(1).told);
    CHECK(hv.resized == std::map<std::string, uint64_t>{{"vm2/vdb", 32 << 20}});
  }
  SECTION("an invalid domain name is refused before any domain is told") {
    hv.resized.clear();
    auto bad = announce_volume_size(hv, kSource, {"vm1", "bad/name"}, 32 << 20, image_is(32 << 20));
    CHECK(bad.status().err() == EINVAL);
    CHECK(hv.resized.empty());
  }
  SECTION("a domain is never told less than the image holds right before it is told") {
    // Two extends racing: this one grew the volume to 313M, the other to 314M
    // meanwhile. Telling 313M would make QEMU shrink the image.
    hv.resized.clear();
    std::vector<uint64_t> reads = {314 << 20, 315 << 20};  // it keeps growing
    size_t next = 0;
    auto grown = announce_volume_size(hv, kSource, {"vm1", "vm2"}, 313 << 20,
                                      [&]() -> Result<uint64_t> { return reads.at(next++); });
    REQUIRE(grown.ok());
    CHECK(hv.resized ==
          std::map<std::string, uint64_t>{{"vm1/vdb", 314 << 20}, {"vm2/vdb", 315 << 20}});
    CHECK(grown->at(0).bytes == 314 << 20);
    CHECK(grown->at(1).bytes == 315 << 20);
  }
  SECTION("a stale read below the size the extend read back does not lower it") {
    hv.resized.clear();
    auto told_at_least = announce_volume_size(hv, kSource, {"vm1"}, 40 << 20, image_is(39 << 20));
    REQUIRE(told_at_least.ok());
    CHECK(hv.resized == std::map<std::string, uint64_t>{{"vm1/vdb", 40 << 20}});
  }
  SECTION("a domain whose size cannot be read is not told, and says why") {
    hv.resized.clear();
    auto unread =
        announce_volume_size(hv, kSource, {"vm1", "vm2"}, 40 << 20, []() -> Result<uint64_t> {
          return Status::Error(ETIMEDOUT, "backend fast: cannot connect");
        });
    REQUIRE(unread.ok());
    CHECK(hv.resized.empty());
    for (const auto& d : *unread) {
      CHECK(d.failed);
      CHECK_FALSE(d.told);
      CHECK(d.note.find("not told: cannot read the size of " + kSource) != std::string::npos);
    }
  }
}

namespace {

// A domain with <os><boot dev='hd'/> (what virt-install writes) or with
// per-device boot orders.
std::string boot_domain_xml(const std::string& name, bool os_boot) {
  std::string x = "<domain type='qemu'>\n  <name>" + name +
                  "</name>\n  <os>\n    <type arch='x86_64'>hvm</type>\n";
  if (os_boot) x += "    <boot dev='hd'/>\n";
  x += "  </os>\n  <devices>\n    <disk type='file' device='disk'>\n"
       "      <source file='/var/lib/root.img'/>\n      <target dev='vda' bus='virtio'/>\n";
  if (!os_boot) x += "      <boot order='1'/>\n";
  x += "    </disk>\n    <interface type='network'>\n      <source network='default'/>\n";
  if (!os_boot) x += "      <boot order='2'/>\n";
  x += "    </interface>\n  </devices>\n</domain>\n";
  return x;
}

// The boot order of every device of `xml` that has one: "vda=2 interface=3 ...".
std::string orders_of(const std::string& xml) {
  std::string out;
  size_t at = 0;
  while ((at = xml.find("<boot order='", at)) != std::string::npos) {
    size_t open = xml.rfind("<disk ", at), iface = xml.rfind("<interface ", at);
    std::string who = "interface";
    if (open != std::string::npos && (iface == std::string::npos || open > iface)) {
      size_t dev = xml.find("dev='", xml.find("<target ", open)) + 5;
      who = xml.substr(dev, xml.find('\'', dev) - dev);
    }
    at += 13;
    out += (out.empty() ? "" : " ") + who + "=" + xml.substr(at, xml.find('\'', at) - at);
  }
  return out;
}

}  // namespace

TEST_CASE("attach --boot makes the volume the first boot disk of the definition",
          "[attach][boot]") {
  FakeHypervisor hv;
  FakeLedger ledger(false);
  AttachOptions boot;
  boot.boot = true;
  SECTION("a running domain with os/boot: os/boot goes, the live disk has no order") {
    hv.domains["vm1"] = {true, boot_domain_xml("vm1", true), boot_domain_xml("vm1", true)};
    auto r = attach_volume(hv, ledger, {"vm1"}, boot);
    REQUIRE(r.ok());
    CHECK(r->at(0).boot);
    CHECK(r->at(0).live);
    CHECK(r->at(0).target_dev == "vdb");
    const std::string& def = hv.domains["vm1"].persistent;
    CHECK(def.find("<boot dev=") == std::string::npos);
    CHECK(orders_of(def) == "vdb=1");
    CHECK(rbd_disks(hv.domains["vm1"].live).size() == 1);
    CHECK(orders_of(hv.domains["vm1"].live) == "");
    CHECK(ledger.records["vm1"] == "vdb");
  }
  SECTION("a shut-off domain with orders: each moves up by one, nothing live") {
    hv.domains["vm1"] = {false, boot_domain_xml("vm1", false), ""};
    auto r = attach_volume(hv, ledger, {"vm1"}, boot);
    REQUIRE(r.ok());
    CHECK_FALSE(r->at(0).live);
    CHECK(orders_of(hv.domains["vm1"].persistent) == "vda=2 vdb=1 interface=3");
    CHECK(hv.domains["vm1"].live.empty());
  }
  SECTION("without --boot nothing about booting changes") {
    hv.domains["vm1"] = {false, boot_domain_xml("vm1", true), ""};
    auto r = attach_volume(hv, ledger, {"vm1"});
    REQUIRE(r.ok());
    CHECK_FALSE(r->at(0).boot);
    CHECK(hv.domains["vm1"].persistent.find("<boot dev='hd'/>") != std::string::npos);
    CHECK(orders_of(hv.domains["vm1"].persistent) == "");
  }
  SECTION("a transient domain is refused, and its reservation given back") {
    struct Transient : FakeHypervisor {
      Result<bool> is_persistent(const std::string&) override { return false; }
    } thv;
    // libvirt hands out the live XML as the "inactive" one of a transient domain.
    thv.domains["vm1"] = {true, boot_domain_xml("vm1", true), boot_domain_xml("vm1", true)};
    auto r = attach_volume(thv, ledger, {"vm1"}, boot);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().err() == EINVAL);
    INFO(r.status().message());
    CHECK(r.status().message().find("transient") != std::string::npos);
    CHECK(ledger.records.empty());
    CHECK(rbd_disks(thv.domains["vm1"].live).empty());
  }
  SECTION("a failure on the second domain restores the first one's definition byte for byte") {
    FakeLedger shared(true);
    hv.domains["vm1"] = {true, boot_domain_xml("vm1", false), boot_domain_xml("vm1", false)};
    hv.domains["vm2"] = {true, boot_domain_xml("vm2", true), boot_domain_xml("vm2", true)};
    SECTION("its live attach fails: its own definition comes back too") {
      hv.refuse_attach.insert("vm2");
    }
    SECTION("its define fails") { hv.refuse_define.insert("vm2"); }
    auto r = attach_volume(hv, shared, {"vm1", "vm2"}, boot);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find("detached again from: vm1") != std::string::npos);
    CHECK(hv.domains["vm1"].persistent == boot_domain_xml("vm1", false));
    CHECK(hv.domains["vm2"].persistent == boot_domain_xml("vm2", true));
    CHECK(rbd_disks(hv.domains["vm1"].live).empty());
    CHECK(rbd_disks(hv.domains["vm2"].live).empty());
    CHECK(shared.records.empty());
  }
}

TEST_CASE("vm define builds a domain that boots from the volume", "[attach][boot]") {
  FakeHypervisor hv;
  FakeLedger ledger(false);
  VmDefinition vm;
  vm.name = "bootvm";
  SECTION("without a template: qemu where kvm is not offered for the host's arch") {
    auto r = define_vm_on_volume(hv, ledger, vm);
    INFO(r.status().message());
    REQUIRE(r.ok());
    CHECK(r->virt_type == "qemu");
    CHECK(r->target_dev == "vda");
    REQUIRE(hv.domains.count("bootvm"));
    CHECK_FALSE(hv.domains["bootvm"].running);  // defined, not started
    const std::string& xml = hv.domains["bootvm"].persistent;
    CHECK(xml == r->xml);
    CHECK(xml.find("<domain type='qemu'>") == 0);
    CHECK(xml.find("<memory unit='MiB'>512</memory>") != std::string::npos);
    CHECK(xml.find("<vcpu>1</vcpu>") != std::string::npos);
    CHECK(xml.find("<type arch='x86_64'>hvm</type>") != std::string::npos);
    CHECK(xml.find("<acpi/>") != std::string::npos);
    CHECK(xml.find("<serial type='pty'>") != std::string::npos);
    CHECK(xml.find("<console type='pty'>") != std::string::npos);
    CHECK(orders_of(xml) == "vda=1");
    auto disks = rbd_disks(xml);
    REQUIRE(disks.size() == 1);
    CHECK(disks[0].source_name == kSource);
    CHECK(disks[0].secret_uuid == "5f0c3a56-0000-4000-8000-000000000001");
    CHECK(disks[0].cache == "none");
    CHECK(disks[0].serial == "0b0e2c1a-5d6f-4a7b-8c9d-0e1f2a3b4c5d");
    CHECK(disks[0].target_bus == "virtio");
    CHECK(ledger.records["bootvm"] == "vda");
  }
  SECTION("kvm when offered; memory, vcpus and the scsi bus") {
    hv.capabilities.replace(hv.capabilities.find("<domain type='qemu'/></arch>\n  </guest>\n</"),
                            std::string("<domain type='qemu'/>").size(),
                            "<domain type='qemu'/><domain type='kvm'/>");
    vm.memory_mib = 2048;
    vm.vcpus = 4;
    vm.bus = "scsi";
    auto r = define_vm_on_volume(hv, ledger, vm);
    REQUIRE(r.ok());
    CHECK(r->virt_type == "kvm");
    CHECK(r->target_dev == "sda");
    const std::string& xml = hv.domains["bootvm"].persistent;
    CHECK(xml.find("<domain type='kvm'>") == 0);
    CHECK(xml.find("<memory unit='MiB'>2048</memory>") != std::string::npos);
    CHECK(xml.find("<vcpu>4</vcpu>") != std::string::npos);
    CHECK(xml.find("<controller type='scsi' index='0' model='virtio-scsi'/>") != std::string::npos);
    CHECK(orders_of(xml) == "sda=1");
  }
  SECTION("a template: renamed, its uuid dropped, os/boot gone, the volume first") {
    std::string tmpl = boot_domain_xml("template", true);
    tmpl.insert(tmpl.find("  <os>"), "  <uuid>11111111-2222-3333-4444-555555555555</uuid>\n");
    vm.template_xml = tmpl;
    vm.memory_mib = 256;
    auto r = define_vm_on_volume(hv, ledger, vm);
    REQUIRE(r.ok());
    CHECK(r->target_dev == "vdb");
    CHECK(r->virt_type == "qemu");
    const std::string& xml = hv.domains["bootvm"].persistent;
    CHECK(xml.find("<name>bootvm</name>") != std::string::npos);
    CHECK(xml.find("<uuid>") == std::string::npos);
    CHECK(xml.find("<boot dev=") == std::string::npos);
    CHECK(xml.find("<memory unit='MiB'>256</memory>") != std::string::npos);
    CHECK(xml.find("/var/lib/root.img") != std::string::npos);  // its disk stays
    CHECK(orders_of(xml) == "vdb=1");
  }
  SECTION("a template with orders and the volume's disk already in it: replaced on its dev") {
    std::string tmpl = boot_domain_xml("template", false);
    tmpl.insert(
        tmpl.find("    <interface"),
        "    <disk type='network' device='disk'>\n"
        "      <source protocol='rbd' name='" +
            kSource +
            "'/>\n"
            "      <target dev='vdc' bus='virtio'/>\n      <boot order='3'/>\n    </disk>\n");
    vm.template_xml = tmpl;
    auto r = define_vm_on_volume(hv, ledger, vm);
    REQUIRE(r.ok());
    CHECK(r->target_dev == "vdc");
    const std::string& xml = hv.domains["bootvm"].persistent;
    auto disks = rbd_disks(xml);
    REQUIRE(disks.size() == 1);
    CHECK(disks[0].secret_uuid == "5f0c3a56-0000-4000-8000-000000000001");
    CHECK(orders_of(xml) == "vda=2 vdc=1 interface=3");
  }
  SECTION("a template on the scsi bus gets a virtio-scsi controller, unless it has one") {
    vm.template_xml = boot_domain_xml("template", true);
    vm.bus = "scsi";
    auto r = define_vm_on_volume(hv, ledger, vm);
    REQUIRE(r.ok());
    CHECK(r->target_dev == "sda");
    CHECK(hv.domains["bootvm"].persistent.find(
              "<controller type='scsi' index='0' model='virtio-scsi'/>") != std::string::npos);
    hv.domains.erase("bootvm");
    ledger.records.clear();
    std::string own = boot_domain_xml("template", true);
    own.insert(own.find("  </devices>"), "    <controller type='scsi' model='lsilogic'/>\n");
    vm.template_xml = own;
    REQUIRE(define_vm_on_volume(hv, ledger, vm).ok());
    const std::string& xml = hv.domains["bootvm"].persistent;
    CHECK(xml.find("virtio-scsi") == std::string::npos);
    CHECK(xml.find("lsilogic") != std::string::npos);
  }
  SECTION("a domain of that name exists: nothing reserved or defined") {
    hv.add("bootvm", false);
    const std::string before = hv.domains["bootvm"].persistent;
    auto r = define_vm_on_volume(hv, ledger, vm);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().err() == EEXIST);
    CHECK(ledger.reserved == 0);
    CHECK(hv.domains["bootvm"].persistent == before);
  }
  SECTION("the volume is attached elsewhere and not multiattach: EBUSY, nothing defined") {
    hv.add("vm1", true);
    REQUIRE(attach_volume(hv, ledger, {"vm1"}).ok());
    auto r = define_vm_on_volume(hv, ledger, vm);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().err() == EBUSY);
    CHECK(hv.domains.count("bootvm") == 0);
    CHECK(ledger.records.size() == 1);
  }
  SECTION("a multiattach volume attached elsewhere is shared") {
    FakeLedger shared(true);
    hv.add("vm1", true);
    REQUIRE(attach_volume(hv, shared, {"vm1"}).ok());
    auto r = define_vm_on_volume(hv, shared, vm);
    REQUIRE(r.ok());
    auto disks = rbd_disks(hv.domains["bootvm"].persistent);
    REQUIRE(disks.size() == 1);
    CHECK(disks[0].shareable);
    CHECK(shared.records.size() == 2);
  }
  SECTION("libvirt refuses the define: the reservation is given back") {
    hv.refuse_define.insert("bootvm");
    auto r = define_vm_on_volume(hv, ledger, vm);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find("injected define failure") != std::string::npos);
    CHECK(ledger.records.empty());
  }
  SECTION("the record cannot be confirmed: the domain is undefined again") {
    ledger.confirm_error = Status::Error(EIO, "injected confirm failure");
    auto r = define_vm_on_volume(hv, ledger, vm);
    REQUIRE_FALSE(r.ok());
    CHECK(hv.domains.count("bootvm") == 0);
    CHECK(ledger.records.empty());
  }
  SECTION("bad names, buses and templates are refused before anything is reserved") {
    for (const char* bad : {"", "a/b", "a'b"}) {
      vm.name = bad;
      CHECK(define_vm_on_volume(hv, ledger, vm).status().err() == EINVAL);
    }
    vm.name = "bootvm";
    vm.bus = "sata";
    CHECK(define_vm_on_volume(hv, ledger, vm).status().err() == EINVAL);
    CHECK(ledger.reserved == 0);
    vm.bus = "virtio";
    vm.template_xml = "<network/>";
    CHECK(define_vm_on_volume(hv, ledger, vm).status().err() == EINVAL);
    CHECK(ledger.records.empty());
  }
}

TEST_CASE("host_virt_of reads the host arch and the best domain type", "[attach][boot]") {
  auto none =
      host_virt_of("<capabilities><host><cpu><arch>x86_64</arch></cpu></host></capabilities>");
  CHECK(none.status().err() == EINVAL);
  CHECK(host_virt_of("not xml").status().err() == EINVAL);
}
