// Attach and detach across several guests, attachment races, cache modes,
// audit, xml patch and secrets: against the sandbox's libvirtd, its QEMU
// guests vm1 vm2 vm3 (no OS) and Ceph. Disks that must really go away on a
// live detach go on the virtio-scsi bus: a guest without an OS never answers
// a virtio-blk unplug.
#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <pugixml.hpp>
#include <sstream>
#include <thread>

#include "tests/integration/sandbox.h"

using namespace rbdvol::test;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// Direct libvirt access for what a test plants or checks behind rbdvol's back.
class Libvirt {
 public:
  Libvirt() {
    // Lookups of domains that may not be there are expected to fail quietly.
    virSetErrorFunc(nullptr, [](void*, virErrorPtr) {});
    conn_ = virConnectOpen("qemu:///system");
    REQUIRE(conn_ != nullptr);
  }
  ~Libvirt() { virConnectClose(conn_); }
  Libvirt(const Libvirt&) = delete;
  Libvirt& operator=(const Libvirt&) = delete;

  bool exists(const std::string& domain) {
    virDomainPtr d = virDomainLookupByName(conn_, domain.c_str());
    if (!d) return false;
    virDomainFree(d);
    return true;
  }
  bool running(const std::string& domain) {
    virDomainPtr d = lookup(domain);
    int active = virDomainIsActive(d);
    virDomainFree(d);
    return active == 1;
  }
  std::string xml(const std::string& domain, bool persistent) {
    virDomainPtr d = lookup(domain);
    char* x = virDomainGetXMLDesc(d, persistent ? VIR_DOMAIN_XML_INACTIVE : 0);
    virDomainFree(d);
    REQUIRE(x != nullptr);
    std::string out = x;
    free(x);
    return out;
  }
  // The size of disk `dev` as the running domain's QEMU sees it.
  uint64_t capacity(const std::string& domain, const std::string& dev) {
    virDomainPtr d = lookup(domain);
    virDomainBlockInfo info{};
    int r = virDomainGetBlockInfo(d, dev.c_str(), &info, 0);
    virDomainFree(d);
    INFO(virGetLastErrorMessage());
    REQUIRE(r == 0);
    return info.capacity;
  }
  void define(const std::string& domain_xml) {
    virDomainPtr d = virDomainDefineXML(conn_, domain_xml.c_str());
    INFO(virGetLastErrorMessage());
    REQUIRE(d != nullptr);
    virDomainFree(d);
  }
  void undefine(const std::string& domain) {
    virDomainPtr d = virDomainLookupByName(conn_, domain.c_str());
    if (!d) return;
    if (virDomainIsActive(d) == 1) virDomainDestroy(d);
    virDomainUndefine(d);
    virDomainFree(d);
  }
  int attach(const std::string& domain, const std::string& disk, bool live, bool config) {
    virDomainPtr d = lookup(domain);
    int r = virDomainAttachDeviceFlags(d, disk.c_str(), flags(live, config));
    virDomainFree(d);
    return r;
  }
  int detach(const std::string& domain, const std::string& disk, bool live, bool config) {
    virDomainPtr d = lookup(domain);
    int r = virDomainDetachDeviceFlags(d, disk.c_str(), flags(live, config));
    virDomainFree(d);
    return r;
  }
  std::string secret_xml(const std::string& uuid) {
    virSecretPtr s = virSecretLookupByUUIDString(conn_, uuid.c_str());
    if (!s) return "";
    char* x = virSecretGetXMLDesc(s, 0);
    virSecretFree(s);
    std::string out = x ? x : "";
    free(x);
    return out;
  }
  void undefine_secret(const std::string& uuid) {
    virSecretPtr s = virSecretLookupByUUIDString(conn_, uuid.c_str());
    if (!s) return;
    virSecretUndefine(s);
    virSecretFree(s);
  }

 private:
  static unsigned int flags(bool live, bool config) {
    return (live ? VIR_DOMAIN_AFFECT_LIVE : 0) | (config ? VIR_DOMAIN_AFFECT_CONFIG : 0);
  }
  virDomainPtr lookup(const std::string& domain) {
    virDomainPtr d = virDomainLookupByName(conn_, domain.c_str());
    INFO("domain " << domain);
    REQUIRE(d != nullptr);
    return d;
  }
  virConnectPtr conn_ = nullptr;
};

// The rbd disk with source `source` in `xml`: its <disk> copied out, or an
// empty node.
struct FoundDisk {
  pugi::xml_document doc;
  pugi::xml_node disk;
};
std::unique_ptr<FoundDisk> find_disk(const std::string& xml, const std::string& source) {
  auto found = std::make_unique<FoundDisk>();
  pugi::xml_document full;
  REQUIRE(full.load_string(xml.c_str()));
  for (auto d : full.child("domain").child("devices").children("disk")) {
    if (std::string(d.child("source").attribute("name").value()) == source) {
      found->disk = found->doc.append_copy(d);
    }
  }
  return found;
}
bool has_disk(const std::string& xml, const std::string& source) {
  return static_cast<bool>(find_disk(xml, source)->disk);
}
std::string attr_of(pugi::xml_node n, const char* child, const char* attr) {
  return n.child(child).attribute(attr).value();
}

// Volumes a test made, gone however it ends: detached from every domain,
// guests restarted when a virtio disk may still hang in them, images removed.
struct Volumes {
  struct Made {
    std::string id, backend, image;
  };
  std::vector<Made> made;
  std::vector<std::string> restart;

  // Creates a volume of `type` (empty, `size`) and remembers it.
  nlohmann::json create(const std::string& type, const std::string& size = "16M") {
    auto v = rbdvol_json({"volume", "create", "--type", type, "--size", size});
    made.push_back({v.at("id"), v.at("backend"), v.at("image")});
    return v;
  }
  ~Volumes() {
    for (const auto& m : made) run_rbdvol({"detach", m.id});
    for (const auto& g : restart) Guest(g).restart();
    for (const auto& m : made) {
      CephView ceph(m.backend);
      ceph.remove_image("volumes", m.image);
    }
  }
};

// Waits until `pred` holds (up to 10 s); returns whether it did.
template <typename Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 100; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return pred();
}

std::vector<std::string> attached_domains(const std::string& id) {
  std::vector<std::string> out;
  const auto shown = rbdvol_json({"volume", "show", id});
  for (const auto& a : shown.at("attachments")) {
    out.push_back(a.at("domain"));
  }
  return out;
}

// Writes through `writer`'s QEMU and checks it landed.
void write_through(Guest& writer, const std::string& node, const std::string& pattern,
                   const std::string& offset) {
  std::string out = writer.qemu_io(node, "write -P " + pattern + " " + offset + " 64k");
  INFO("write " << pattern << " at " << offset << ": " << out);
  CHECK(out.find("wrote 65536/65536 bytes") != std::string::npos);
}

// Reads through `reader`'s QEMU and checks the pattern.
void read_through(Guest& reader, const std::string& node, const std::string& pattern,
                  const std::string& offset) {
  std::string out = reader.qemu_io(node, "read -P " + pattern + " " + offset + " 64k");
  INFO("read " << pattern << " at " << offset << ": " << out);
  CHECK(out.find("read 65536/65536 bytes") != std::string::npos);
  CHECK(out.find("verification failed") == std::string::npos);
}

const std::string kGuestOff = "rbdvol-test-vm-off";

std::string shut_off_guest_xml() {
  return "<domain type='qemu'><name>" + kGuestOff +
         "</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
         "<os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features>"
         "<devices><emulator>/usr/bin/qemu-system-x86_64</emulator>"
         "<controller type='scsi' index='0' model='virtio-scsi'/>"
         "<memballoon model='none'/></devices></domain>";
}

// A <disk> for `source` written by hand, as an operator might have.
std::string planted_disk(const std::string& source, const std::string& dev,
                         const std::string& driver, const std::string& auth, bool shareable) {
  return "<disk type='network' device='disk'>" + driver + auth + "<source protocol='rbd' name='" +
         source + "'><host name='127.0.0.1' port='6789'/></source><target dev='" + dev +
         "' bus='scsi'/>" + (shareable ? "<shareable/>" : "") + "</disk>";
}

std::string fast_auth() {
  return "<auth username='admin'><secret type='ceph' uuid='" +
         sandbox_config().find_backend("fast")->libvirt_secret_uuid + "'/></auth>";
}

}  // namespace

TEST_CASE("a shared volume in three running guests: what each writes, every guest reads",
          "[integration][attach]") {
  Volumes volumes;
  auto v = volumes.create("shared");
  volumes.restart = {"vm1", "vm2", "vm3"};  // virtio disks stay in guests without an OS
  const std::string id = v.at("id"), image = v.at("image"), source = "volumes/" + image;

  auto attached = rbdvol_json({"attach", id, "vm1", "vm2", "vm3"});
  REQUIRE(attached.at("attachments").size() == 3);
  Libvirt lv;
  for (const char* g : {"vm1", "vm2", "vm3"}) {
    for (bool persistent : {false, true}) {
      INFO(g << (persistent ? " persistent" : " live"));
      auto found = find_disk(lv.xml(g, persistent), source);
      REQUIRE(found->disk);
      CHECK(found->disk.child("shareable"));
      CHECK(attr_of(found->disk, "driver", "type") == "raw");
      CHECK(attr_of(found->disk, "driver", "cache") == "none");
      CHECK(attr_of(found->disk, "target", "bus") == "virtio");
    }
    CHECK(lv.running(g));
  }
  CephView ceph("fast");
  CHECK(ceph.watcher_count("volumes", image) == 3);

  Guest vm1("vm1"), vm2("vm2"), vm3("vm3");
  std::vector<std::pair<Guest*, std::string>> guests = {
      {&vm1, vm1.node_of(image)}, {&vm2, vm2.node_of(image)}, {&vm3, vm3.node_of(image)}};
  const std::vector<std::pair<std::string, std::string>> writes = {
      {"0x11", "1M"}, {"0x22", "2M"}, {"0x33", "3M"}};
  for (size_t i = 0; i < 3; ++i) {
    write_through(*guests[i].first, guests[i].second, writes[i].first, writes[i].second);
  }
  for (auto& [guest, node] : guests) {
    for (const auto& [pattern, offset] : writes) read_through(*guest, node, pattern, offset);
  }
}

TEST_CASE("an attach that fails on the third guest leaves the first two without the disk",
          "[integration][attach]") {
  Volumes volumes;
  auto v = volumes.create("shared");
  const std::string id = v.at("id"), image = v.at("image"), source = "volumes/" + image;
  Libvirt lv;
  std::map<std::string, std::string> before;
  for (const char* g : {"vm1", "vm2"}) {
    before[std::string(g) + " live"] = lv.xml(g, false);
    before[std::string(g) + " persistent"] = lv.xml(g, true);
  }

  SECTION("the third domain does not exist") {
    auto r = run_rbdvol({"attach", id, "vm1", "vm2", "rbdvol-no-such-vm"});
    CHECK(r.exit_code != 0);
    CHECK(r.err.find("rbdvol-no-such-vm") != std::string::npos);
  }
  SECTION("the third guest's attach fails after the first two were attached") {
    // vm3's definition already names the volume: attaching it there again
    // is refused, after vm1 and vm2 got it live and persistently.
    const std::string disk = planted_disk(source, "sdy", "", fast_auth(), true);
    REQUIRE(lv.attach("vm3", disk, false, true) == 0);
    struct Unplant {
      Libvirt& lv;
      std::string disk;
      ~Unplant() { lv.detach("vm3", disk, false, true); }
    } unplant{lv, disk};
    auto r = run_rbdvol({"attach", "--bus", "scsi", id, "vm1", "vm2", "vm3"});
    CHECK(r.exit_code != 0);
    CHECK(r.err.find("attach to domain vm3 failed") != std::string::npos);
    CHECK(r.err.find("detached again from: vm1 vm2") != std::string::npos);
  }
  for (const char* g : {"vm1", "vm2"}) {
    INFO(g);
    CHECK_FALSE(has_disk(lv.xml(g, false), source));
    CHECK_FALSE(has_disk(lv.xml(g, true), source));
  }
  CHECK(attached_domains(id).empty());
  CephView ceph("fast");
  CHECK(eventually([&] { return ceph.watcher_count("volumes", image) == 0; }));
}

TEST_CASE("a shut-off domain gets the disk in its definition only and stays shut off",
          "[integration][attach]") {
  Libvirt lv;
  lv.undefine(kGuestOff);
  lv.define(shut_off_guest_xml());
  struct Undefine {
    Libvirt& lv;
    ~Undefine() { lv.undefine(kGuestOff); }
  } undefine{lv};
  Volumes volumes;
  auto v = volumes.create("shared");
  const std::string id = v.at("id"), source = "volumes/" + v.at("image").get<std::string>();

  auto attached = rbdvol_json({"attach", "--bus", "scsi", id, "vm1", kGuestOff});
  REQUIRE(attached.at("attachments").size() == 2);
  CHECK(attached.at("attachments")[0].at("live") == true);
  CHECK(attached.at("attachments")[1].at("live") == false);
  CHECK_FALSE(lv.running(kGuestOff));
  CHECK(lv.running("vm1"));
  CHECK(has_disk(lv.xml(kGuestOff, true), source));
  CHECK(has_disk(lv.xml("vm1", false), source));
  CHECK(has_disk(lv.xml("vm1", true), source));
  auto shown = rbdvol_json({"volume", "show", id});
  CHECK(shown.at("attachments").size() == 2);

  auto detached = rbdvol_json({"detach", id});
  CHECK(detached.at("detached").size() == 2);
  CHECK_FALSE(lv.running(kGuestOff));
  CHECK_FALSE(has_disk(lv.xml(kGuestOff, true), source));
  CHECK_FALSE(has_disk(lv.xml("vm1", false), source));
  CHECK(attached_domains(id).empty());

  SECTION("the human answer says so") {
    auto r = run_rbdvol({"attach", id, kGuestOff});
    CHECK(r.out.find("persistent; domain is shut off") != std::string::npos);
    CHECK_FALSE(lv.running(kGuestOff));
  }
}

TEST_CASE("a transient domain gets the disk live only, and audit leaves it transient",
          "[integration][attach]") {
  const std::string name = "rbdvol-test-transient";
  Libvirt lv;
  lv.undefine(name);
  std::string xml = shut_off_guest_xml();
  xml.replace(xml.find(kGuestOff), kGuestOff.size(), name);
  // No virtio-scsi controller: libvirt adds one for the scsi disk.
  xml.replace(xml.find("<controller"), xml.find("<memballoon") - xml.find("<controller"), "");
  const std::string path = "/tmp/rbdvol-transient-" + std::to_string(getpid()) + ".xml";
  write_file(path, xml);
  REQUIRE(run({"virsh", "-q", "-c", "qemu:///system", "create", path}).exit_code == 0);
  unlink(path.c_str());
  struct Destroy {
    Libvirt& lv;
    std::string name;
    ~Destroy() { lv.undefine(name); }
  } destroy{lv, name};
  Volumes volumes;
  auto v = volumes.create("shared");
  const std::string id = v.at("id"), source = "volumes/" + v.at("image").get<std::string>();

  auto attached = rbdvol_json({"attach", "--bus", "scsi", id, name});
  CHECK(attached.at("attachments")[0].at("live") == true);
  CHECK(attached.at("attachments")[0].at("persistent") == false);
  CHECK(has_disk(lv.xml(name, false), source));
  CHECK(rbdvol_json({"audit", name, "--fix"}).at("findings").empty());
  // A disk planted with writeback is fixed live only, with --live.
  const std::string planted = planted_disk(
      source, "sdx", "<driver name='qemu' type='raw' cache='writeback'/>", fast_auth(), true);
  REQUIRE(lv.attach(name, planted, true, false) == 0);
  auto found = rbdvol_json({"audit", name, "--fix"});
  REQUIRE(found.at("findings").size() == 1);
  CHECK(found.at("findings")[0].at("where") == "live");
  CHECK(found.at("findings")[0].at("action").get<std::string>().find("transient") !=
        std::string::npos);
  auto fixed = rbdvol_json({"audit", name, "--fix", "--live"});
  REQUIRE(fixed.at("findings").size() == 1);
  CHECK(fixed.at("findings")[0].at("fixed") == true);
  CHECK(rbdvol_json({"audit", name}).at("findings").empty());
  REQUIRE(lv.detach(name, planted, true, false) == 0);
  CHECK(run({"virsh", "-q", "-c", "qemu:///system", "dominfo", name})
            .out.find("Persistent:     no") != std::string::npos);
  auto detached = rbdvol_json({"detach", id});
  CHECK(detached.at("detached")[0].at("live_pending") == false);
  CHECK_FALSE(has_disk(lv.xml(name, false), source));
}

TEST_CASE("two rbdvol attach processes racing for one volume", "[integration][attach]") {
  // Both processes are started at once and waited for together.
  auto race = [](const std::string& id) {
    std::vector<pid_t> pids;
    std::vector<std::string> errs;
    for (const char* g : {"vm1", "vm2"}) {
      std::string err = "/tmp/rbdvol-race-" + std::to_string(getpid()) + "-" + g;
      errs.push_back(err);
      pid_t pid = fork();
      REQUIRE(pid >= 0);
      if (pid == 0) {
        int fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 2);
        int null = ::open("/dev/null", O_WRONLY);
        dup2(null, 1);
        execl(RBDVOL_CLI_PATH, RBDVOL_CLI_PATH, "attach", "--bus", "scsi", id.c_str(), g,
              static_cast<char*>(nullptr));
        _exit(127);
      }
      pids.push_back(pid);
    }
    std::vector<int> codes;
    std::string all_errs;
    for (size_t i = 0; i < pids.size(); ++i) {
      int status = 0;
      waitpid(pids[i], &status, 0);
      codes.push_back(WIFEXITED(status) ? WEXITSTATUS(status) : -1);
      all_errs += slurp(errs[i]);
      unlink(errs[i].c_str());
    }
    return std::make_pair(codes, all_errs);
  };
  Libvirt lv;
  Volumes volumes;

  SECTION("for a volume that is not multiattach, exactly one wins") {
    for (int round = 0; round < 3; ++round) {
      auto v = volumes.create("ssd");
      const std::string id = v.at("id"), source = "volumes/" + v.at("image").get<std::string>();
      auto [codes, errs] = race(id);
      INFO("round " << round << " exit codes " << codes[0] << " " << codes[1] << "; " << errs);
      CHECK(((codes[0] == 0) + (codes[1] == 0)) == 1);
      CHECK(errs.find("not multiattach") != std::string::npos);
      auto domains = attached_domains(id);
      REQUIRE(domains.size() == 1);
      const std::string winner = codes[0] == 0 ? "vm1" : "vm2";
      const std::string loser = codes[0] == 0 ? "vm2" : "vm1";
      CHECK(domains[0] == winner);
      CHECK(has_disk(lv.xml(winner, false), source));
      CHECK(has_disk(lv.xml(winner, true), source));
      CHECK_FALSE(has_disk(lv.xml(loser, false), source));
      CHECK_FALSE(has_disk(lv.xml(loser, true), source));
      rbdvol_json({"detach", id});
    }
  }
  SECTION("for a multiattach volume, both are recorded") {
    auto v = volumes.create("shared");
    const std::string id = v.at("id"), source = "volumes/" + v.at("image").get<std::string>();
    auto [codes, errs] = race(id);
    INFO(errs);
    CHECK(codes[0] == 0);
    CHECK(codes[1] == 0);
    auto domains = attached_domains(id);
    std::sort(domains.begin(), domains.end());
    CHECK(domains == std::vector<std::string>{"vm1", "vm2"});
    for (const char* g : {"vm1", "vm2"}) CHECK(has_disk(lv.xml(g, false), source));
  }
}

TEST_CASE("a guest detached from a shared volume lets go, and the others still read and write",
          "[integration][attach]") {
  Volumes volumes;
  auto v = volumes.create("shared");
  const std::string id = v.at("id"), image = v.at("image"), source = "volumes/" + image;
  rbdvol_json({"attach", "--bus", "scsi", id, "vm1", "vm2", "vm3"});
  CephView ceph("fast");
  REQUIRE(ceph.watcher_count("volumes", image) == 3);

  // volume show lists domain, target dev and since of each attachment.
  auto shown = rbdvol_json({"volume", "show", id});
  REQUIRE(shown.at("attachments").size() == 3);
  for (const auto& a : shown.at("attachments")) {
    CHECK(a.at("state") == "attached");
    CHECK(a.at("target_dev").get<std::string>().rfind("sd", 0) == 0);
    CHECK(a.at("since").get<std::string>().size() == 20);  // 2026-01-02T03:04:05Z
  }
  auto human = run_rbdvol({"volume", "show", id});
  CHECK(human.out.find("attached to   vm2 as sd") != std::string::npos);

  auto detached = rbdvol_json({"detach", id, "vm2"});
  REQUIRE(detached.at("detached").size() == 1);
  CHECK(detached.at("detached")[0].at("live_pending") == false);
  Libvirt lv;
  CHECK_FALSE(has_disk(lv.xml("vm2", false), source));
  CHECK_FALSE(has_disk(lv.xml("vm2", true), source));
  CHECK(eventually([&] { return ceph.watcher_count("volumes", image) == 2; }));
  auto domains = attached_domains(id);
  CHECK(domains == std::vector<std::string>{"vm1", "vm3"});

  Guest vm1("vm1"), vm3("vm3");
  const std::string node1 = vm1.node_of(image), node3 = vm3.node_of(image);
  write_through(vm1, node1, "0x44", "4M");
  read_through(vm3, node3, "0x44", "4M");
  write_through(vm3, node3, "0x55", "5M");
  read_through(vm1, node1, "0x55", "5M");

  SECTION("and detach without a domain takes it from all the others") {
    auto all = rbdvol_json({"detach", id});
    CHECK(all.at("detached").size() == 2);
    for (const char* g : {"vm1", "vm2", "vm3"}) {
      CHECK_FALSE(has_disk(lv.xml(g, false), source));
      CHECK_FALSE(has_disk(lv.xml(g, true), source));
    }
    CHECK(eventually([&] { return ceph.watcher_count("volumes", image) == 0; }));
    CHECK(attached_domains(id).empty());
  }
}

TEST_CASE("an extended volume's running guests see its new size at once", "[integration][attach]") {
  Volumes volumes;
  auto v = volumes.create("shared", "16M");
  const std::string id = v.at("id"), image = v.at("image");
  auto attached = rbdvol_json({"attach", "--bus", "scsi", id, "vm1", "vm2"});
  std::map<std::string, std::string> dev;
  for (const auto& a : attached.at("attachments")) dev[a.at("domain")] = a.at("target_dev");
  Libvirt lv;
  for (const char* g : {"vm1", "vm2"}) REQUIRE(lv.capacity(g, dev[g]) == (16u << 20));

  auto extended = run_rbdvol({"--json", "volume", "extend", id, "--size", "32M"});
  INFO(extended.err);
  REQUIRE(extended.exit_code == 0);
  const auto answer = nlohmann::json::parse(extended.out);
  CHECK(answer.at("size") == (32u << 20));
  REQUIRE(answer.at("domains").size() == 2);
  for (const auto& d : answer.at("domains")) {
    CHECK(d.at("told") == true);
    CHECK(d.at("target_dev") == dev[d.at("domain")]);
  }
  // QEMU was told, not only libvirt: both guests write and read past the old end.
  for (const char* g : {"vm1", "vm2"}) CHECK(lv.capacity(g, dev[g]) == (32u << 20));
  Guest vm1("vm1"), vm2("vm2");
  write_through(vm1, vm1.node_of(image), "0x66", "24M");
  read_through(vm2, vm2.node_of(image), "0x66", "24M");
  CephView ceph("fast");
  CHECK(ceph.size("volumes", image) == (32u << 20));

  // Detached from vm2, it is told nothing more there; vm1 still is.
  rbdvol_json({"detach", id, "vm2"});
  auto again = run_rbdvol({"volume", "extend", id, "--size", "48M"});
  CHECK(again.exit_code == 0);
  CHECK_THAT(again.out, Catch::Contains("vm1: its guest sees " + dev["vm1"] + " as 48.0 MiB now"));
  CHECK(again.out.find("vm2") == std::string::npos);
  CHECK(lv.capacity("vm1", dev["vm1"]) == (48u << 20));
}

TEST_CASE("two extends racing on an attached volume never shrink it", "[integration][attach]") {
  // Issue 16: with the size told to QEMU taken from the request, the domain
  // was told 314M, then 313M, and QEMU's block resize cut the image back to
  // 313M (7 rounds in 25 here before the fix).
  Volumes volumes;
  auto v = volumes.create("ssd", "312M");
  const std::string id = v.at("id"), image = v.at("image");
  auto attached = rbdvol_json({"attach", "--bus", "scsi", id, "vm3"});
  const std::string dev = attached.at("attachments")[0].at("target_dev");
  CephView ceph("fast");
  Libvirt lv;
  uint64_t size = 312u << 20;
  for (int round = 0; round < 20; ++round) {
    const uint64_t smaller = size + (1u << 20), larger = size + (2u << 20);
    BackgroundCommand a(
        rbdvol_argv({"volume", "extend", id, "--size", std::to_string(smaller >> 20) + "M"}));
    BackgroundCommand b(
        rbdvol_argv({"volume", "extend", id, "--size", std::to_string(larger >> 20) + "M"}));
    const CommandResult ra = a.finish(), rb = b.finish();
    INFO("round " << round << ": " << ra.err << rb.err);
    // The larger one always succeeds; the smaller one succeeds when it came
    // first, and else says the volume is already larger, with its size now.
    CHECK(rb.exit_code == 0);
    if (ra.exit_code != 0) {
      CHECK(ra.exit_code == 5);
      CHECK_THAT(ra.err, Catch::Contains(" is already " + std::to_string(larger) + " bytes; " +
                                         std::to_string(smaller) + " bytes would not grow it"));
    }
    const uint64_t now = ceph.size("volumes", image);
    REQUIRE(now == larger);  // never shrunk, and the largest size asked
    CHECK(lv.capacity("vm3", dev) == larger);
    size = now;
  }
}

TEST_CASE("a disk type sets the cache mode of its volumes' disks", "[integration][attach]") {
  Volumes volumes;
  Libvirt lv;
  SECTION("ssd-writeback: writeback, not shareable") {
    auto v = volumes.create("ssd-writeback");
    rbdvol_json({"attach", "--bus", "scsi", v.at("id"), "vm1"});
    auto found = find_disk(lv.xml("vm1", false), "volumes/" + v.at("image").get<std::string>());
    REQUIRE(found->disk);
    CHECK(attr_of(found->disk, "driver", "cache") == "writeback");
    CHECK(attr_of(found->disk, "driver", "type") == "raw");
    CHECK_FALSE(found->disk.child("shareable"));
  }
  SECTION("shared-directsync: directsync, shareable, raw in every guest") {
    auto v = volumes.create("shared-directsync");
    rbdvol_json({"attach", "--bus", "scsi", v.at("id"), "vm1", "vm2"});
    for (const char* g : {"vm1", "vm2"}) {
      auto found = find_disk(lv.xml(g, false), "volumes/" + v.at("image").get<std::string>());
      REQUIRE(found->disk);
      CHECK(attr_of(found->disk, "driver", "cache") == "directsync");
      CHECK(attr_of(found->disk, "driver", "type") == "raw");
      CHECK(found->disk.child("shareable"));
    }
  }
  SECTION("a multiattach type with a caching mode is refused by the config") {
    const std::string path = "/tmp/rbdvol-attach-test-" + std::to_string(getpid()) + ".conf";
    write_file(path, slurp(std::getenv("RBDVOL_CONFIG")) +
                         "\n[disk_type:shared-wb]\ntags = media:ssd\nmultiattach = true\n"
                         "cache = writeback\n");
    auto r = run_rbdvol({"--config", path, "backend", "list"});
    unlink(path.c_str());
    CHECK(r.exit_code != 0);
    CHECK(r.err.find("shared-wb") != std::string::npos);
    CHECK(r.err.find("cache") != std::string::npos);
  }
}

TEST_CASE("audit finds a shared disk planted with cache writeback and fixes it",
          "[integration][attach]") {
  Volumes volumes;
  auto v = volumes.create("shared");
  const std::string id = v.at("id"), image = v.at("image"), source = "volumes/" + image;
  Libvirt lv;
  // Planted behind rbdvol's back, live and persistent, on the scsi bus so
  // that a live re-attach really happens.
  const std::string disk = planted_disk(
      source, "sdx", "<driver name='qemu' type='raw' cache='writeback'/>", fast_auth(), true);
  REQUIRE(lv.attach("vm1", disk, true, true) == 0);
  struct Unplant {
    Libvirt& lv;
    std::string disk;
    ~Unplant() {
      lv.detach("vm1", disk, true, true);
      lv.detach("vm1", disk, false, true);
    }
  } unplant{lv, disk};

  auto everywhere = rbdvol_json({"audit"});  // every domain
  nlohmann::json found = {{"findings", nlohmann::json::array()}};
  for (const auto& f : everywhere.at("findings")) {
    if (f.at("volume") == id) found["findings"].push_back(f);
  }
  REQUIRE(found.at("findings").size() == 2);
  for (const auto& f : found.at("findings")) {
    CHECK(f.at("domain") == "vm1");
    CHECK(f.at("target_dev") == "sdx");
    CHECK(f.at("volume") == id);
    CHECK(f.at("fixed") == false);
    REQUIRE(f.at("problems").size() == 1);
    CHECK(f.at("problems")[0].get<std::string>().find("writeback") != std::string::npos);
  }
  CHECK(found.at("findings")[0].at("where") == "persistent");
  CHECK(found.at("findings")[1].at("where") == "live");

  auto fixed = rbdvol_json({"audit", "vm1", "--fix"});
  REQUIRE(fixed.at("findings").size() == 2);
  CHECK(fixed.at("findings")[0].at("fixed") == true);
  CHECK(fixed.at("findings")[1].at("fixed") == false);
  CHECK(fixed.at("findings")[1].at("action").get<std::string>().find("next boot") !=
        std::string::npos);
  CHECK(attr_of(find_disk(lv.xml("vm1", true), source)->disk, "driver", "cache") == "none");
  CHECK(attr_of(find_disk(lv.xml("vm1", false), source)->disk, "driver", "cache") == "writeback");

  auto live = rbdvol_json({"audit", "vm1", "--fix", "--live"});
  REQUIRE(live.at("findings").size() == 1);
  CHECK(live.at("findings")[0].at("where") == "live");
  CHECK(live.at("findings")[0].at("fixed") == true);
  auto now = find_disk(lv.xml("vm1", false), source);
  REQUIRE(now->disk);
  CHECK(attr_of(now->disk, "driver", "cache") == "none");
  CHECK(now->disk.child("shareable"));
  CHECK(rbdvol_json({"audit", "vm1"}).at("findings").empty());

  // The re-attached disk works.
  Guest vm1("vm1");
  const std::string node = vm1.node_of(image);
  write_through(vm1, node, "0x66", "1M");
  read_through(vm1, node, "0x66", "1M");

  SECTION("a definition missing <auth> and <shareable/>, with qcow2, is fixed whole") {
    const std::string bad =
        planted_disk(source, "sdw", "<driver name='qemu' type='qcow2'/>", "", false);
    REQUIRE(lv.attach("vm2", bad, false, true) == 0);
    struct UnplantBad {
      Libvirt& lv;
      std::string disk;
      ~UnplantBad() { lv.detach("vm2", disk, false, true); }
    } unplant_bad{lv, bad};
    auto audit = rbdvol_json({"audit", "vm2"});
    REQUIRE(audit.at("findings").size() == 1);
    CHECK(audit.at("findings")[0].at("problems").size() == 4);
    auto fix = rbdvol_json({"audit", "vm2", "--fix"});
    CHECK(fix.at("findings")[0].at("fixed") == true);
    auto d = find_disk(lv.xml("vm2", true), source);
    REQUIRE(d->disk);
    CHECK(attr_of(d->disk, "driver", "type") == "raw");
    CHECK(attr_of(d->disk, "driver", "cache") == "none");
    CHECK(d->disk.child("shareable"));
    CHECK(attr_of(d->disk, "auth", "username") == "admin");
    CHECK(std::string(d->disk.child("auth").child("secret").attribute("uuid").value()) ==
          sandbox_config().find_backend("fast")->libvirt_secret_uuid);
    CHECK(rbdvol_json({"audit", "vm2"}).at("findings").empty());
  }
}

TEST_CASE("rbdvol xml patch rewrites a domain XML file and leaves the rest as it was",
          "[integration][attach]") {
  Volumes volumes;
  auto v = volumes.create("shared");
  const std::string id = v.at("id"), source = "volumes/" + v.at("image").get<std::string>();
  Libvirt lv;
  const std::string original = lv.xml("vm1", true);
  const std::string path = "/tmp/rbdvol-xml-patch-" + std::to_string(getpid()) + ".xml";
  write_file(path, original);
  struct Unlink {
    std::string p;
    ~Unlink() { unlink(p.c_str()); }
  } unlink_file{path};

  auto added = run_rbdvol({"xml", "patch", path, "--add-volume", id, "--bus", "scsi"});
  REQUIRE(added.exit_code == 0);
  auto disk = find_disk(added.out, source);
  REQUIRE(disk->disk);
  CHECK(disk->disk.child("shareable"));
  CHECK(attr_of(disk->disk, "driver", "cache") == "none");
  CHECK(attr_of(disk->disk, "target", "bus") == "scsi");
  CHECK(slurp(path) == original);  // not in place: the file is untouched

  REQUIRE(run_rbdvol({"xml", "patch", path, "--add-volume", id, "--in-place"}).exit_code == 0);
  const std::string patched = slurp(path);
  CHECK(has_disk(patched, source));
  CHECK(run({"virt-xml-validate", path, "domain"}).exit_code == 0);

  auto refused = run_rbdvol({"xml", "patch", path, "--disk", source, "--cache", "writeback"});
  CHECK(refused.exit_code != 0);
  CHECK(refused.err.find("shareable") != std::string::npos);

  auto bad_name = run_rbdvol({"xml", "patch", path, "--add-rbd", "volumes/bad:name", "--monitor",
                              "127.0.0.1:6789", "--in-place"});
  CHECK(bad_name.exit_code != 0);
  CHECK(bad_name.err.find("bad:name") != std::string::npos);
  CHECK(slurp(path) == patched);

  auto explicit_disk =
      rbdvol_json({"xml", "patch", path, "--add-rbd", "volumes/other-image", "--monitor",
                   "127.0.0.1:6789,127.0.0.2", "--user", "admin", "--secret-uuid",
                   "5f0c3a56-0000-4000-8000-000000000001", "--shareable", "--cache", "directsync"});
  auto other = find_disk(explicit_disk.at("xml").get<std::string>(), "volumes/other-image");
  REQUIRE(other->disk);
  CHECK(attr_of(other->disk, "driver", "cache") == "directsync");

  REQUIRE(run_rbdvol({"xml", "patch", path, "--remove", source, "--in-place"}).exit_code == 0);
  CHECK(slurp(path) == original);  // removing what was added gives back the same bytes
}

TEST_CASE("secret ensure defines the backend's libvirt secret, and again changes nothing",
          "[integration][attach]") {
  Libvirt lv;
  const auto* capacity = sandbox_config().find_backend("capacity");
  SECTION("a missing secret is created, and QEMU opens a volume with it") {
    lv.undefine_secret(capacity->libvirt_secret_uuid);
    auto created = rbdvol_json({"secret", "ensure", "capacity"});
    CHECK(created.at("result") == "created");
    CHECK(created.at("uuid") == capacity->libvirt_secret_uuid);
    Volumes volumes;
    auto v = volumes.create("hdd");
    REQUIRE(v.at("backend") == "capacity");
    rbdvol_json({"attach", "--bus", "scsi", v.at("id"), "vm1"});
    CephView ceph("capacity");
    CHECK(ceph.watcher_count("volumes", v.at("image")) == 1);
  }
  auto first = rbdvol_json({"secret", "ensure", "capacity"});
  CHECK((first.at("result") == "unchanged" || first.at("result") == "updated"));
  auto again = rbdvol_json({"secret", "ensure", "capacity"});
  CHECK(again.at("result") == "unchanged");
  pugi::xml_document doc;
  REQUIRE(doc.load_string(lv.secret_xml(capacity->libvirt_secret_uuid).c_str()));
  auto secret = doc.child("secret");
  CHECK(std::string(secret.attribute("private").value()) == "yes");
  CHECK(std::string(secret.attribute("ephemeral").value()) == "no");
  CHECK(std::string(secret.child("usage").attribute("type").value()) == "ceph");
  CHECK(std::string(secret.child_value("uuid")) == capacity->libvirt_secret_uuid);

  auto unknown = run_rbdvol({"secret", "ensure", "no-such-backend"});
  CHECK(unknown.exit_code != 0);
  CHECK(unknown.err.find("no-such-backend") != std::string::npos);
}

TEST_CASE("no command prints a backend's key, and no domain XML or QEMU log holds it",
          "[integration][attach]") {
  CephView fast("fast"), capacity("capacity");
  const std::vector<std::string> keys = {fast.key(), capacity.key()};
  REQUIRE_FALSE(keys[0].empty());
  Volumes volumes;
  auto v = volumes.create("shared");
  const std::string id = v.at("id");
  const std::string xml_path = "/tmp/rbdvol-key-test-" + std::to_string(getpid()) + ".xml";
  write_file(xml_path, Libvirt().xml("vm2", true));
  struct Unlink {
    std::string p;
    ~Unlink() { unlink(p.c_str()); }
  } unlink_file{xml_path};
  const std::string vm = "rbdvol-key-test-" + std::to_string(getpid());
  struct Undefine {
    std::string domain;
    ~Undefine() { Libvirt().undefine(domain); }
  } undefine_vm{vm};

  const std::vector<std::vector<std::string>> commands = {
      {"backend", "list"},
      {"backend", "show", "fast"},
      {"image", "list"},
      {"volume", "show", id},
      {"volume", "list"},
      {"secret", "ensure", "fast"},
      {"secret", "ensure", "capacity"},
      {"attach", "--bus", "scsi", id, "vm1", "vm2"},
      {"audit"},
      {"audit", "vm1", "--fix"},
      {"xml", "patch", xml_path, "--add-volume", id},
      {"vm", "define", vm, "--volume", id},  // with --json: EEXIST
      {"detach", id, "vm2"},
      {"detach", id},
      // failures: their messages must not carry it either
      {"attach", id, "rbdvol-no-such-vm"},
      {"secret", "ensure", "no-such-backend"},
      {"volume", "show", "00000000-0000-4000-8000-000000000000"},
      {"--config", "/nonexistent.conf", "secret", "ensure", "fast"},
      {"xml", "patch", xml_path, "--add-rbd", "volumes/x", "--user", "bad:user"},
  };
  int ran = 0;
  for (const auto& command : commands) {
    for (bool json : {false, true}) {
      std::vector<std::string> args = command;
      if (json) args.insert(args.begin(), "--json");
      auto r = run_rbdvol(args);
      ++ran;
      for (const auto& key : keys) {
        INFO("rbdvol " << (json ? "--json " : "") << command[0] << " ...: " << r.out << r.err);
        CHECK(r.out.find(key) == std::string::npos);
        CHECK(r.err.find(key) == std::string::npos);
      }
    }
  }
  CHECK(ran == 2 * static_cast<int>(commands.size()));
  Libvirt lv;
  rbdvol_json({"attach", "--bus", "scsi", id, "vm1", "vm2", "vm3"});
  for (const char* g : {"vm1", "vm2", "vm3"}) {
    const std::string log = slurp("/var/log/libvirt/qemu/" + std::string(g) + ".log");
    for (const auto& key : keys) {
      INFO(g);
      CHECK(lv.xml(g, false).find(key) == std::string::npos);
      CHECK(lv.xml(g, true).find(key) == std::string::npos);
      CHECK(log.find(key) == std::string::npos);
    }
  }
}
