// Boot from volume against the sandbox: the bootable image that
// scripts/make-boot-image builds (syslinux, the cloud kernel, a busybox
// initramfs that names the disk it booted from and counts its boots in a file
// on it) is uploaded, a volume is cloned from it, a domain is defined on the
// volume with `rbdvol vm define` and started, and its serial console (a unix
// socket) must say that it booted from the RBD disk; the boot count it wrote
// must survive a restart, seen both on the console and in the RBD image
// itself. Then `rbdvol attach --boot` makes the volume the boot disk of a
// domain that booted from another disk. Guests run under TCG: timeouts are
// generous, and each boot's time is printed.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <pugixml.hpp>
#include <sstream>
#include <thread>

#include "tests/integration/sandbox.h"

using namespace rbdvol::test;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kBootTimeout = std::chrono::seconds(300);

// What the test made, undone in reverse order however it ends.
class Undo {
 public:
  ~Undo() {
    for (auto it = steps_.rbegin(); it != steps_.rend(); ++it) (*it)();
  }
  void add(std::function<void()> step) { steps_.push_back(std::move(step)); }

 private:
  std::vector<std::function<void()>> steps_;
};

CommandResult virsh(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"virsh", "-q", "-c", "qemu:///system"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv);
}

void require_virsh(const std::vector<std::string>& args) {
  auto r = virsh(args);
  INFO("virsh " << args.front() << ": " << r.err);
  REQUIRE(r.exit_code == 0);
}

// A directory of its own for the test's sockets and files, removed at the end.
struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/rbdvol-boot-test-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
    // QEMU (which may run as another user) opens files and sockets in it.
    REQUIRE(chmod(tmpl, 0755) == 0);
  }
  ~TempDir() { (void)!std::system(("rm -rf '" + path + "'").c_str()); }
  std::string path;
};

// The boot image, built once and cached by the script.
std::string boot_image() {
  auto r = run({std::string(RBDVOL_SOURCE_DIR) + "/scripts/make-boot-image"});
  INFO("scripts/make-boot-image: " << r.err);
  REQUIRE(r.exit_code == 0);
  std::string path = r.out;
  while (!path.empty() && path.back() == '\n') path.pop_back();
  path = path.substr(path.rfind('\n') + 1);
  REQUIRE(access(path.c_str(), R_OK) == 0);
  return path;
}

// A domain template with a serial port (and console) on the unix socket
// `socket`, as QEMU's server: the test connects to it.
std::string template_xml(const std::string& socket, const std::string& devices = "",
                         const std::string& os_boot = "") {
  return "<domain type='qemu'>\n  <name>template</name>\n  <memory unit='MiB'>256</memory>\n"
         "  <vcpu>1</vcpu>\n  <os>\n    <type arch='x86_64'>hvm</type>\n" +
         os_boot + "  </os>\n  <features>\n    <acpi/>\n  </features>\n  <devices>\n" + devices +
         "    <serial type='unix'>\n      <source mode='bind' path='" + socket +
         "'/>\n      <target port='0'/>\n    </serial>\n"
         "    <console type='unix'>\n      <source mode='bind' path='" +
         socket +
         "'/>\n      <target type='serial' port='0'/>\n    </console>\n"
         "  </devices>\n</domain>\n";
}

// Reads the serial console at `socket` (connecting as soon as QEMU made it)
// until a line holds `until`; returns every line read, each after the
// seconds since `since`. FAILs with what was read when `until` does not come.
std::vector<std::string> read_console(const std::string& socket, const std::string& until,
                                      Clock::time_point since) {
  const auto deadline = Clock::now() + kBootTimeout;
  int fd = -1;
  while (Clock::now() < deadline) {
    fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    REQUIRE(socket.size() < sizeof addr.sun_path);
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket.c_str());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) break;
    ::close(fd);
    fd = -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE(fd >= 0);
  timeval tv{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::vector<std::string> lines;
  std::string partial, all;
  bool found = false;
  while (!found && Clock::now() < deadline) {
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) break;
    if (n < 0) continue;  // the receive timeout: look at the deadline
    partial.append(buf, static_cast<size_t>(n));
    size_t nl;
    while ((nl = partial.find('\n')) != std::string::npos) {
      std::string line = partial.substr(0, nl);
      partial.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      double s = std::chrono::duration<double>(Clock::now() - since).count();
      char stamp[32];
      std::snprintf(stamp, sizeof stamp, "%7.2f ", s);
      lines.push_back(stamp + line);
      all += lines.back() + "\n";
      if (line.find(until) != std::string::npos) found = true;
    }
  }
  ::close(fd);
  INFO("console so far:\n" << all << partial);
  REQUIRE(found);
  return lines;
}

// The line of `lines` that holds `text`, "" when none does.
std::string line_with(const std::vector<std::string>& lines, const std::string& text) {
  for (const auto& l : lines) {
    if (l.find(text) != std::string::npos) return l;
  }
  return "";
}

// Seconds since the start (the stamp read_console put on `line`).
double stamp_of(const std::string& line) { return std::stod(line); }

// Starts `domain` and reads its console until the boot image is ready.
// Prints how long each stage took.
std::vector<std::string> boot(const std::string& domain, const std::string& socket,
                              const std::string& what) {
  unlink(socket.c_str());  // QEMU makes it afresh; an old one would refuse
  const auto t0 = Clock::now();
  require_virsh({"start", domain});
  const double started = std::chrono::duration<double>(Clock::now() - t0).count();
  auto lines = read_console(socket, "rbdvol-boot: ready", t0);
  std::printf("%s: virsh start %.1f s, kernel's init %.1f s, ready %.1f s after virsh start\n",
              what.c_str(), started, stamp_of(line_with(lines, "init started")),
              stamp_of(line_with(lines, "rbdvol-boot: ready")));
  for (const auto& l : lines) std::printf("  %s\n", l.c_str());
  std::fflush(stdout);
  return lines;
}

// The boot count file in the boot image's FAT partition, read from the RBD
// image itself (rbd export, then mtools): what the guest wrote and synced.
std::string boot_count_in_rbd(const std::string& backend, const std::string& pool,
                              const std::string& image, const std::string& dir) {
  const std::string conf = backend == "fast" ? std::getenv("RBDVOL_CEPH_CONF_FAST")
                                             : std::getenv("RBDVOL_CEPH_CONF_CAPACITY");
  const std::string file = dir + "/" + image + ".raw";
  unlink(file.c_str());
  auto e = run({"rbd", "-c", conf, "export", pool + "/" + image, file});
  INFO("rbd export: " << e.err);
  REQUIRE(e.exit_code == 0);
  auto m = run({"env", "MTOOLS_SKIP_CHECK=1", "mtype", "-i", file + "@@1048576", "::/bootcount"});
  unlink(file.c_str());
  INFO("mtype: " << m.err);
  REQUIRE(m.exit_code == 0);
  std::string count = m.out;
  while (!count.empty() && (count.back() == '\n' || count.back() == '\r')) count.pop_back();
  return count;
}

// A unique suffix for names, so that runs beside each other do not collide.
std::string unique() { return random_uuid().substr(0, 8); }

struct BootVolume {
  std::string image_id;
  nlohmann::json volume;  // volume create's answer
};

// Uploads the boot image and clones a volume of type ssd from it; both are
// deleted by `undo` (after what is added later).
BootVolume make_boot_volume(Undo& undo, const std::string& tag) {
  BootVolume bv;
  auto image = rbdvol_json({"image", "upload", boot_image(), "--name", "boot-test-" + tag});
  bv.image_id = image.at("id").get<std::string>();
  undo.add([id = bv.image_id] { run_rbdvol({"image", "delete", id, "--force"}); });
  bv.volume = rbdvol_json(
      {"volume", "create", "--type", "ssd", "--image", bv.image_id, "--name", "boot-test-" + tag});
  // A clone of the image's snapshot, on the cluster that holds the image.
  CHECK(bv.volume.at("method") == "clone");
  CHECK(bv.volume.at("backend") == image.at("backend"));
  undo.add([id = bv.volume.at("id").get<std::string>()] {
    run_rbdvol({"detach", id});
    run_rbdvol({"volume", "delete", id});
  });
  return bv;
}

void undefine_later(Undo& undo, const std::string& domain) {
  undo.add([domain] {
    virsh({"destroy", domain});
    virsh({"undefine", domain});
  });
}

// The element of the disk whose rbd source is `source` in `xml`.
pugi::xml_node rbd_disk(pugi::xml_document& doc, const std::string& xml,
                        const std::string& source) {
  REQUIRE(doc.load_string(xml.c_str()));
  for (pugi::xml_node d : doc.child("domain").child("devices").children("disk")) {
    if (std::string(d.child("source").attribute("name").value()) == source) return d;
  }
  return {};
}

// "dev=order" of every disk with a boot order, sorted by dev (libvirt
// orders disks its own way when it stores a domain).
std::string boot_orders(const std::string& xml) {
  pugi::xml_document doc;
  REQUIRE(doc.load_string(xml.c_str()));
  std::vector<std::string> orders;
  for (pugi::xml_node d : doc.child("domain").child("devices").children("disk")) {
    pugi::xml_node b = d.child("boot");
    if (!b) continue;
    orders.push_back(std::string(d.child("target").attribute("dev").value()) + "=" +
                     b.attribute("order").value());
  }
  std::sort(orders.begin(), orders.end());
  std::string out;
  for (const auto& o : orders) out += (out.empty() ? "" : " ") + o;
  return out;
}

}  // namespace

TEST_CASE(
    "a guest defined on a volume cloned from the boot image boots from it, and what it "
    "writes survives a restart",
    "[integration][boot]") {
  Undo undo;
  TempDir dir;
  const std::string tag = unique();
  BootVolume bv = make_boot_volume(undo, tag);
  const std::string vol = bv.volume.at("id");
  const std::string backend = bv.volume.at("backend");
  const std::string pool = bv.volume.at("pool");
  const std::string image = bv.volume.at("image");
  {
    CephView ceph(backend);
    CHECK(ceph.parent_of(pool, image) == "images/image-" + bv.image_id + "@snap");
  }
  const std::string domain = "boot-test-" + tag;
  const std::string socket = dir.path + "/serial";
  std::ofstream(dir.path + "/template.xml")
      << template_xml(socket, "", "    <boot dev='hd'/>\n");  // vm define removes it
  undefine_later(undo, domain);
  auto defined = rbdvol_json({"vm", "define", domain, "--volume", vol, "--from-xml",
                              dir.path + "/template.xml", "--memory", "256"});
  CHECK(defined.at("target_dev") == "vda");
  CHECK(defined.at("boot_order") == 1);
  CHECK(defined.at("started") == false);
  CHECK(virsh({"domstate", domain}).out.find("shut off") != std::string::npos);

  // The definition: an rbd disk of the volume, the backend's secret, the disk
  // type's cache mode, booting first; no os/boot.
  const std::string xml = virsh({"dumpxml", "--inactive", domain}).out;
  pugi::xml_document doc;
  pugi::xml_node disk = rbd_disk(doc, xml, pool + "/" + image);
  REQUIRE(disk);
  auto shown_volume = rbdvol_json({"volume", "show", vol});
  CHECK(std::string(disk.attribute("type").value()) == "network");
  CHECK(std::string(disk.child("source").attribute("protocol").value()) == "rbd");
  CHECK(std::string(disk.child("auth").child("secret").attribute("uuid").value()) ==
        sandbox_config().find_backend(backend)->libvirt_secret_uuid);
  CHECK(std::string(disk.child("driver").attribute("cache").value()) == "none");  // type ssd's
  CHECK(std::string(disk.child("boot").attribute("order").value()) == "1");
  CHECK(std::string(disk.child_value("serial")) == vol);
  CHECK(xml.find("<boot dev=") == std::string::npos);
  auto records = shown_volume.at("attachments");
  REQUIRE(records.size() == 1);
  CHECK(records[0].at("domain") == domain);

  // First boot: the console names the RBD disk (virtio-blk shows the guest the
  // first 20 bytes of the serial, the volume id) and writes count 1.
  auto first = boot(domain, socket, "first boot from RBD (virtio-blk, TCG)");
  CHECK(line_with(first, "rbdvol-boot: booted from /dev/vda (serial " + vol.substr(0, 20) + ")") !=
        "");
  CHECK(line_with(first, "rbdvol-boot: boot count 1 written") != "");
  {
    CephView ceph(backend);
    CHECK(ceph.watcher_count(pool, image) == 1);  // the guest's QEMU has it open
  }
  require_virsh({"destroy", domain});
  CHECK(boot_count_in_rbd(backend, pool, image, dir.path) == "1");

  // Second boot: the count it wrote survived.
  auto second = boot(domain, socket, "second boot from RBD");
  CHECK(line_with(second, "rbdvol-boot: boot count 2 written") != "");
  require_virsh({"destroy", domain});
  CHECK(boot_count_in_rbd(backend, pool, image, dir.path) == "2");

  // (No SECTIONs here: each would boot the guest twice again.)
  // A second domain on the same volume is refused: it is not multiattach.
  const std::string other = "boot-test-" + tag + "-b";
  undefine_later(undo, other);
  auto busy = run_rbdvol({"vm", "define", other, "--volume", vol});
  CHECK(busy.exit_code == 4);  // EBUSY
  CHECK(busy.err.find(domain) != std::string::npos);
  CHECK(virsh({"domstate", other}).exit_code != 0);  // not defined
  // A domain of the same name is refused before anything is recorded.
  auto exists = run_rbdvol({"vm", "define", domain, "--volume", vol});
  CHECK(exists.exit_code == 4);  // EEXIST
  CHECK(exists.err.find("already exists") != std::string::npos);
  CHECK(rbdvol_json({"volume", "show", vol}).at("attachments").size() == 1);
}

TEST_CASE(
    "a guest boots from a volume on the virtio-scsi bus, and vm define without a template "
    "gives a domain with a serial console",
    "[integration][boot]") {
  Undo undo;
  TempDir dir;
  const std::string tag = unique();
  BootVolume bv = make_boot_volume(undo, tag);
  const std::string vol = bv.volume.at("id");
  const std::string domain = "boot-test-" + tag;
  const std::string socket = dir.path + "/serial";
  std::ofstream(dir.path + "/template.xml") << template_xml(socket);
  undefine_later(undo, domain);
  auto defined = rbdvol_json({"vm", "define", domain, "--volume", vol, "--from-xml",
                              dir.path + "/template.xml", "--bus", "scsi"});
  CHECK(defined.at("target_dev") == "sda");
  auto lines = boot(domain, socket, "boot from RBD (virtio-scsi, TCG)");
  CHECK(line_with(lines, "rbdvol-boot: booted from /dev/sda (serial " + vol) != "");
  require_virsh({"destroy", domain});
  require_virsh({"undefine", domain});
  run_rbdvol({"detach", vol});

  // From scratch: kvm only where the host has it; a pty serial console.
  const std::string plain = "boot-test-" + tag + "-plain";
  undefine_later(undo, plain);
  auto answer = rbdvol_json({"vm", "define", plain, "--volume", vol, "--vcpus", "2"});
  const bool kvm = access("/dev/kvm", R_OK | W_OK) == 0;
  CHECK(answer.at("type") == (kvm ? "kvm" : "qemu"));
  const std::string xml = virsh({"dumpxml", "--inactive", plain}).out;
  pugi::xml_document doc;
  REQUIRE(doc.load_string(xml.c_str()));
  pugi::xml_node d = doc.child("domain");
  CHECK(std::string(d.attribute("type").value()) == (kvm ? "kvm" : "qemu"));
  CHECK(std::string(d.child_value("vcpu")) == "2");
  CHECK(std::string(d.child("memory").child_value()) == "524288");  // KiB: 512 MiB
  CHECK(std::string(d.child("devices").child("serial").attribute("type").value()) == "pty");
  CHECK(std::string(d.child("devices").child("console").attribute("type").value()) == "pty");
  CHECK(boot_orders(xml) == "vda=1");
  CHECK(d.child("devices").child("graphics").empty());
}

TEST_CASE(
    "attach --boot makes a volume the first boot disk of a domain that booted from another "
    "one",
    "[integration][boot]") {
  Undo undo;
  TempDir dir;
  const std::string tag = unique();
  BootVolume bv = make_boot_volume(undo, tag);
  const std::string vol = bv.volume.at("id");
  const std::string source =
      bv.volume.at("pool").get<std::string>() + "/" + bv.volume.at("image").get<std::string>();
  // A running domain that boots from an empty disk (order 1), then a cdrom
  // without media (order 2): SeaBIOS finds nothing to boot.
  const std::string empty = dir.path + "/empty.raw";
  std::ofstream(empty).close();
  REQUIRE(truncate(empty.c_str(), 1 << 20) == 0);
  const std::string socket = dir.path + "/serial";
  std::string xml = template_xml(
      socket,
      "    <disk type='file' device='disk'>\n      <driver name='qemu' type='raw'/>\n"
      "      <source file='" +
          empty +
          "'/>\n      <target dev='vda' bus='virtio'/>\n      <boot order='1'/>\n    </disk>\n"
          "    <disk type='file' device='cdrom'>\n      <target dev='sda' bus='sata'/>\n"
          "      <readonly/>\n      <boot order='2'/>\n    </disk>\n");
  const std::string domain = "boot-test-" + tag;
  xml.replace(xml.find("template"), 8, domain);
  std::ofstream(dir.path + "/domain.xml") << xml;
  undefine_later(undo, domain);
  require_virsh({"define", dir.path + "/domain.xml"});
  unlink(socket.c_str());
  require_virsh({"start", domain});

  auto attached = rbdvol_json({"attach", vol, domain, "--boot"});
  REQUIRE(attached.at("attachments").size() == 1);
  CHECK(attached.at("attachments")[0].at("target_dev") == "vdb");
  CHECK(attached.at("attachments")[0].at("live") == true);
  CHECK(attached.at("attachments")[0].at("boot") == true);
  // The definition boots from the volume first, the others one later; the
  // running guest has the disk, without an order.
  const std::string persistent = virsh({"dumpxml", "--inactive", domain}).out;
  CHECK(boot_orders(persistent) == "sda=3 vda=2 vdb=1");
  pugi::xml_document doc;
  CHECK_FALSE(rbd_disk(doc, persistent, source).empty());
  CHECK(persistent.find("<boot dev=") == std::string::npos);
  const std::string live = virsh({"dumpxml", domain}).out;
  CHECK(boot_orders(live) == "sda=2 vda=1");
  pugi::xml_document live_doc;
  CHECK_FALSE(rbd_disk(live_doc, live, source).empty());

  // From its next start it boots from the volume.
  require_virsh({"destroy", domain});
  auto lines = boot(domain, socket, "boot after attach --boot");
  CHECK(line_with(lines, "rbdvol-boot: booted from /dev/vdb (serial " + vol.substr(0, 20) + ")") !=
        "");
  CHECK(line_with(lines, "rbdvol-boot: boot count 1 written") != "");
  require_virsh({"destroy", domain});

  // A shut-off domain with <os><boot dev='hd'/> loses it, as libvirt requires.
  const std::string other = "boot-test-" + tag + "-os";
  std::string os_xml = template_xml(dir.path + "/serial2", "", "    <boot dev='hd'/>\n");
  os_xml.replace(os_xml.find("template"), 8, other);
  std::ofstream(dir.path + "/other.xml") << os_xml;
  undefine_later(undo, other);
  require_virsh({"define", dir.path + "/other.xml"});
  auto detached = run_rbdvol({"detach", vol, domain});
  REQUIRE(detached.exit_code == 0);
  auto r = rbdvol_json({"attach", vol, other, "--boot"});
  CHECK(r.at("attachments")[0].at("live") == false);
  CHECK(r.at("attachments")[0].at("boot") == true);
  const std::string after = virsh({"dumpxml", "--inactive", other}).out;
  CHECK(after.find("<boot dev=") == std::string::npos);
  CHECK(boot_orders(after) == "vda=1");
  CHECK(virsh({"domstate", other}).out.find("shut off") != std::string::npos);
}
