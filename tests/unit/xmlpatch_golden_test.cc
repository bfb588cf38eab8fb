// Golden-file tests of xmlpatch on domain XML as libvirt writes it. The inputs
// are tests/data/xmlpatch/NN-*.xml (see the README there for where each comes
// from); the expected output of each operation is in expected/NN-*.OP.xml.
// Set RBDVOL_REGENERATE_GOLDEN=1 to rewrite the expected files from the
// current code, then read `diff -u` of each against its input before keeping
// them.
#include "xmlpatch/xmlpatch.h"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace xp = rbdvol::xmlpatch;

namespace {

const std::string kDir = std::string(RBDVOL_TEST_DATA_DIR) + "/xmlpatch/";
const char* const kSchema = "/usr/share/libvirt/schemas/domain.rng";

// One input and the disks each operation works on; empty: the input has no
// such disk, and the operation must be ENOENT.
struct Golden {
  std::string name;
  std::string remove_dev;
  std::string remove_source;
  std::string cache_dev;
  std::string cache_mode;
  std::string share_dev;
  std::string boot_dev;
};

const std::vector<Golden> kGolden = {
    {"01-virtio-disks", "vdb", "", "vda", "writethrough", "vdb", "vdb"},
    {"02-sata-cdrom", "sda", "", "sda", "directsync", "sda", "sdb"},
    {"03-scsi", "sdb", "", "sda", "none", "sdb", "sda"},
    {"04-rbd-auth", "vda", "volumes/volume-0a1b2c3d-1111-2222-3333-444455556666", "vdb", "none",
     "vdb", "vdb"},
    {"05-metadata", "vda", "", "vda", "writeback", "vda", "vda"},
    {"06-qemu-commandline", "vda", "", "vdb", "unsafe", "vdb", "vdb"},
    {"07-comments", "sdb", "", "sda", "writethrough", "sdb", "sda"},
    {"08-no-disks", "", "", "", "", "", ""},
    {"09-empty-devices", "", "", "", "", "", ""},
    {"10-no-devices", "", "", "", "", "", ""},
    {"11-shared-rbd", "hdc", "shared/volume-7e57", "vdc", "writeback", "vdc", "vdc"},
    {"12-full", "vdb", "", "vdb", "writeback", "vdb", "sda"},
    {"13-boot-orders", "vdb", "volumes/volume-13131313-1111-2222-3333-444455556666", "vdb",
     "writeback", "vdb", "sda"},
};

bool regenerate() {
  const char* v = std::getenv("RBDVOL_REGENERATE_GOLDEN");
  return v && std::string(v) == "1";
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  REQUIRE(out.good());
}

std::string input(const Golden& g) { return read_file(kDir + g.name + ".xml"); }

void check_golden(const Golden& g, const std::string& op, const std::string& actual) {
  std::string path = kDir + "expected/" + g.name + "." + op + ".xml";
  if (regenerate()) {
    write_file(path, actual);
    return;
  }
  INFO("expected file " << path);
  CHECK(actual == read_file(path));
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::string trimmed(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

// The one changed region of `after` against `before`: lines that are not in
// the common head and tail.
struct Hunk {
  std::vector<std::string> removed;
  std::vector<std::string> added;
};

Hunk hunk(const std::string& before, const std::string& after) {
  std::vector<std::string> a = lines_of(before), b = lines_of(after);
  size_t head = 0;
  while (head < a.size() && head < b.size() && a[head] == b[head]) ++head;
  size_t tail = 0;
  while (tail < a.size() - head && tail < b.size() - head &&
         a[a.size() - 1 - tail] == b[b.size() - 1 - tail]) {
    ++tail;
  }
  Hunk h;
  h.removed.assign(a.begin() + head, a.end() - tail);
  h.added.assign(b.begin() + head, b.end() - tail);
  return h;
}

// Checks that `lines` are one whole <disk> element.
bool is_one_disk(const std::vector<std::string>& lines) {
  if (lines.empty() || trimmed(lines.front()).rfind("<disk ", 0) != 0 ||
      trimmed(lines.back()) != "</disk>") {
    return false;
  }
  int opened = 0;
  for (const std::string& l : lines) opened += trimmed(l).rfind("<disk ", 0) == 0;
  return opened == 1;
}

// Checks that `longer` is `shorter` with one whole <disk> element (as lines)
// put in somewhere. Every place where the block could go is tried: with two
// similar disks in a row a head/tail diff cannot tell which one moved.
void require_one_disk_between(const std::string& shorter, const std::string& longer) {
  std::vector<std::string> a = lines_of(shorter), b = lines_of(longer);
  REQUIRE(b.size() > a.size());
  size_t k = b.size() - a.size();
  bool found = false;
  for (size_t i = 0; i <= a.size() && !found; ++i) {
    if (!std::equal(a.begin(), a.begin() + i, b.begin())) break;
    if (std::equal(a.begin() + i, a.end(), b.begin() + i + k) &&
        is_one_disk(std::vector<std::string>(b.begin() + i, b.begin() + i + k))) {
      found = true;
    }
  }
  CHECK(found);
}

// Checks that a change to one disk touched only the lines it may: the ones
// with one of `allowed` in them; every other line is only moved.
void require_only(const Hunk& h, const std::vector<std::string>& allowed) {
  std::vector<std::string> added = h.added;
  auto is_allowed = [&](const std::string& l) {
    for (const std::string& a : allowed) {
      if (l.find(a) != std::string::npos) return true;
    }
    return false;
  };
  for (const std::string& r : h.removed) {
    bool found = false;
    for (auto it = added.begin(); it != added.end(); ++it) {
      if (*it == r) {
        added.erase(it);
        found = true;
        break;
      }
    }
    INFO("removed line: " << r);
    if (!found) CHECK(is_allowed(r));
  }
  for (const std::string& a : added) {
    INFO("added line: " << a);
    CHECK(is_allowed(a));
  }
}

std::string rbd_disk_for(const std::string& domain_xml) {
  auto dev = xp::first_free_target_dev(domain_xml, "virtio");
  REQUIRE(dev.ok());
  xp::RbdDisk d;
  d.pool = "shared";
  d.image = "volume-9c4e1d2a-5b6f-4a7e-8d9c-0e1f2a3b4c5d";
  d.hosts = {{"10.0.0.11", "6789"}, {"10.0.0.12", "6789"}};
  d.auth_username = "admin";
  d.secret_uuid = "5f0c3a56-0000-4000-8000-00000000abcd";
  d.serial = "9c4e1d2a-5b6f-4a7e-8d9c-0e1f2a3b4c5d";
  d.cache = "none";
  d.shareable = true;
  d.target_dev = *dev;
  auto xml = xp::build_rbd_disk_xml(d);
  REQUIRE(xml.ok());
  return *xml;
}

// The output of every operation that applies to `g`, by operation name.
std::vector<std::pair<std::string, std::string>> outputs_of(const Golden& g) {
  std::string in = input(g);
  std::vector<std::pair<std::string, std::string>> out;
  auto keep = [&](const char* op, const rbdvol::Result<std::string>& r) {
    INFO(g.name << " " << op << ": " << r.status().message());
    REQUIRE(r.ok());
    out.emplace_back(op, *r);
  };
  keep("add", xp::add_disk(in, rbd_disk_for(in)));
  if (!g.remove_dev.empty()) keep("remove-dev", xp::remove_disk(in, {g.remove_dev, ""}));
  if (!g.remove_source.empty()) keep("remove-source", xp::remove_disk(in, {"", g.remove_source}));
  if (!g.cache_dev.empty()) {
    keep("cache", xp::set_disk_cache_mode(in, {g.cache_dev, ""}, g.cache_mode));
  }
  if (!g.share_dev.empty())
    keep("shareable", xp::make_disk_shareable(in, {g.share_dev, ""}, "none"));
  if (!g.boot_dev.empty()) keep("boot", xp::make_boot_disk(in, {g.boot_dev, ""}));
  // attach --boot: the new disk added, then made the first boot disk.
  std::string added = out.front().second;
  auto dev = xp::first_free_target_dev(in, "virtio");
  REQUIRE(dev.ok());
  keep("add-boot", xp::make_boot_disk(added, {*dev, ""}));
  return out;
}

// xmllint's complaints about `xml` against libvirt's domain schema; empty
// when it validates.
std::string schema_errors(const std::string& xml) {
  char path[] = "/tmp/xmlpatch-schema-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  write_file(path, xml);
  std::string cmd = std::string("xmllint --noout --relaxng ") + kSchema + " " + path + " 2>&1";
  std::string output;
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof buf, p)) output.append(buf, n);
  int rc = pclose(p);
  unlink(path);
  if (rc == 0) return "";
  return output.empty() ? "xmllint failed with status " + std::to_string(rc) : output;
}

void require_xmllint() {
  if (std::system("command -v xmllint >/dev/null 2>&1") != 0) {
    FAIL("xmllint is missing: apt-get install -y libxml2-utils");
  }
  std::ifstream schema(kSchema);
  if (!schema.good()) FAIL(std::string("libvirt's schema is missing: ") + kSchema);
}

}  // namespace

TEST_CASE("every golden input is written back byte for byte", "[xmlpatch]") {
  for (const Golden& g : kGolden) {
    INFO(g.name);
    std::string in = input(g);
    auto out = xp::rewrite_domain_xml(in);
    REQUIRE(out.ok());
    CHECK(*out == in);
  }
}

TEST_CASE("each operation on each golden input gives the expected document", "[xmlpatch]") {
  for (const Golden& g : kGolden) {
    INFO(g.name);
    for (const auto& [op, xml] : outputs_of(g)) {
      INFO(op);
      check_golden(g, op, xml);
    }
  }
}

TEST_CASE("each operation changes only the disk it was asked to change", "[xmlpatch]") {
  for (const Golden& g : kGolden) {
    INFO(g.name);
    std::string in = input(g);
    for (const auto& [op, xml] : outputs_of(g)) {
      INFO(op);
      Hunk h = hunk(in, xml);
      if (op == "add") {
        if (g.name == "10-no-devices") {
          // <devices> is created around the disk.
          REQUIRE(h.added.size() >= 3);
          CHECK(trimmed(h.added.front()) == "<devices>");
          CHECK(trimmed(h.added.back()) == "</devices>");
          h.added = std::vector<std::string>(h.added.begin() + 1, h.added.end() - 1);
        }
        CHECK(h.removed.empty());
        CHECK(is_one_disk(h.added));
      } else if (op == "remove-dev" || op == "remove-source") {
        require_one_disk_between(xml, in);
      } else if (op == "cache") {
        CHECK(h.added.size() == 1);
        require_only(h, {"<driver "});
      } else if (op == "boot") {
        require_only(h, {"<boot "});
        CHECK(xml.find("<boot dev=") == std::string::npos);
      } else if (op == "add-boot") {
        // The added disk (with its <boot>), other <boot> lines, nothing else.
        require_only(h, {"<boot ", "<disk ", "<driver ", "<auth ", "<secret ", "</auth>",
                         "<source ", "<host ", "</source>", "<target ", "<shareable/>", "<serial>",
                         "</disk>", "<devices>", "</devices>"});
        CHECK(xml.find("<boot dev=") == std::string::npos);
      } else {
        require_only(h, {"<driver ", "<shareable/>"});
        CHECK(xml.find("<shareable/>") != std::string::npos);
      }
    }
  }
}

TEST_CASE("operations on golden inputs without the disk are ENOENT", "[xmlpatch]") {
  for (const Golden& g : kGolden) {
    INFO(g.name);
    std::string in = input(g);
    if (g.remove_source.empty()) {
      CHECK(xp::remove_disk(in, {"", "volumes/absent"}).status().err() == ENOENT);
    }
    if (g.remove_dev.empty()) {
      CHECK(xp::remove_disk(in, {"vda", ""}).status().err() == ENOENT);
      CHECK(xp::set_disk_cache_mode(in, {"vda", ""}, "none").status().err() == ENOENT);
      CHECK(xp::make_disk_shareable(in, {"vda", ""}, "none").status().err() == ENOENT);
      CHECK(xp::disk_xml_of(in, {"vda", ""}).status().err() == ENOENT);
    }
  }
}

TEST_CASE("removing a just-added disk gives back the original bytes", "[xmlpatch]") {
  for (const Golden& g : kGolden) {
    INFO(g.name);
    std::string in = input(g);
    std::string disk = rbd_disk_for(in);
    auto added = xp::add_disk(in, disk);
    REQUIRE(added.ok());
    auto dev = xp::first_free_target_dev(in, "virtio");
    REQUIRE(dev.ok());
    auto by_dev = xp::remove_disk(*added, {*dev, ""});
    auto by_source =
        xp::remove_disk(*added, {"", "shared/volume-9c4e1d2a-5b6f-4a7e-8d9c-0e1f2a3b4c5d"});
    REQUIRE(by_dev.ok());
    REQUIRE(by_source.ok());
    std::string want = in;
    if (g.name == "10-no-devices") {
      // The <devices> that add_disk created stays, empty, as libvirt writes it.
      want.insert(want.find("</domain>"), "  <devices>\n  </devices>\n");
    }
    CHECK(*by_dev == want);
    CHECK(*by_source == want);

    // A disk taken out with disk_xml_of goes back in the same way.
    auto one = xp::disk_xml_of(*added, {*dev, ""});
    REQUIRE(one.ok());
    CHECK(*one == disk);
    auto again = xp::add_disk(*by_dev, *one);
    REQUIRE(again.ok());
    CHECK(*again == *added);
  }
}

TEST_CASE("the schema check refuses an invalid domain", "[xmlpatch][schema]") {
  require_xmllint();
  std::string in = input(kGolden.front());
  CHECK(schema_errors(in).empty());
  std::string bad = in;
  bad.replace(bad.find("type='qcow2'"), 12, "type='qcow2' cache='sometimes'");
  CHECK_FALSE(schema_errors(bad).empty());
  CHECK_FALSE(schema_errors("<domain type='test'><name>x</name><bogus/></domain>").empty());
}

TEST_CASE("every golden input and every document written validates against libvirt's schema",
          "[xmlpatch][schema]") {
  require_xmllint();
  for (const Golden& g : kGolden) {
    INFO(g.name);
    CHECK(schema_errors(input(g)) == "");
    for (const auto& [op, xml] : outputs_of(g)) {
      INFO(op);
      CHECK(schema_errors(xml) == "");
    }
  }
}

namespace {

// What libvirt itself says when defining `xml` with its test driver (in
// virsh's own process: no daemon); empty when it is accepted. The test
// driver applies the domain-wide rules the schema cannot state, among them
// "per-device boot elements cannot be used together with os/boot elements"
// and "boot order '1' used for more than one device".
std::string libvirt_define_errors(const std::string& xml) {
  char path[] = "/tmp/xmlpatch-define-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  write_file(path, xml);
  std::string cmd = std::string("virsh -q -c test:///default define ") + path + " 2>&1";
  std::string output;
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof buf, p)) output.append(buf, n);
  int rc = pclose(p);
  unlink(path);
  if (rc == 0) return "";
  return output.empty() ? "virsh failed with status " + std::to_string(rc) : output;
}

}  // namespace

TEST_CASE("libvirt defines every boot disk document, and refuses what make_boot_disk avoids",
          "[xmlpatch][schema]") {
  if (std::system("command -v virsh >/dev/null 2>&1") != 0) {
    FAIL("virsh is missing: apt-get install -y libvirt-clients");
  }
  SECTION("the refusals this rests on") {
    std::string in = input(kGolden.front());  // has <os><boot dev='hd'/>
    std::string both = in;
    both.replace(both.find("</disk>"), 7, "  <boot order='1'/>\n    </disk>");
    CHECK(schema_errors(both).empty());  // the schema lets it through ...
    CHECK(libvirt_define_errors(both).find("cannot be used together with os/boot") !=
          std::string::npos);  // ... libvirt does not
    auto booted = xp::make_boot_disk(in, {"vda", ""});
    REQUIRE(booted.ok());
    std::string twice = *booted;
    twice.replace(twice.rfind("</disk>"), 7, "  <boot order='1'/>\n    </disk>");
    CHECK(libvirt_define_errors(twice).find("used for more than one device") != std::string::npos);
  }
  SECTION("every boot and add-boot output") {
    for (const Golden& g : kGolden) {
      for (const auto& [op, xml] : outputs_of(g)) {
        if (op != "boot" && op != "add-boot") continue;
        INFO(g.name << " " << op);
        CHECK(libvirt_define_errors(xml) == "");
      }
    }
  }
}
