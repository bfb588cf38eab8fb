// Unit tests of xmlpatch: the <disk> it builds, what it refuses, and the error
// of every operation. Golden-file tests of the rewrites are in
// xmlpatch_golden_test.cc.
#include "xmlpatch/xmlpatch.h"

#include <catch2/catch.hpp>
#include <pugixml.hpp>

#include <cstring>
#include <string>
#include <vector>

namespace xp = rbdvol::xmlpatch;

namespace {

xp::RbdDisk sample_disk() {
  xp::RbdDisk d;
  d.pool = "volumes";
  d.image = "volume-0a1b2c3d-1111-2222-3333-444455556666";
  d.hosts = {{"10.0.0.1", "6789"}, {"mon2.example.org", "3300"}, {"fd00::7", ""}};
  d.auth_username = "cinder";
  d.secret_uuid = "5f0c3a56-0000-4000-8000-00000000abcd";
  d.serial = "0a1b2c3d-1111-2222-3333-444455556666";
  d.cache = "writeback";
  d.target_dev = "vdb";
  return d;
}

const char* const kDomain = R"(<domain type='test'>
  <name>vm</name>
  <memory unit='KiB'>65536</memory>
  <os>
    <type arch='x86_64'>hvm</type>
  </os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/srv/root.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='network' device='disk'>
      <driver name='qemu' type='raw' cache='none'/>
      <source protocol='rbd' name='volumes/v1'>
        <host name='10.0.0.1' port='6789'/>
      </source>
      <target dev='vdb' bus='virtio'/>
      <shareable/>
    </disk>
    <disk type='file' device='cdrom'>
      <target dev='sda' bus='sata'/>
      <readonly/>
    </disk>
  </devices>
</domain>
)";

pugi::xml_node parse_root(pugi::xml_document& doc, const std::string& xml) {
  pugi::xml_parse_result r = doc.load_string(xml.c_str());
  REQUIRE(r);
  return doc.document_element();
}

std::string built(const xp::RbdDisk& d) {
  auto r = xp::build_rbd_disk_xml(d);
  REQUIRE(r.ok());
  return *r;
}

// Expects `st` to be EINVAL with a message that names `field` and holds
// `quoted_value` (the value as the message quotes it).
void require_invalid(const rbdvol::Status& st, const std::string& field,
                     const std::string& quoted_value) {
  INFO("message: " << st.message());
  REQUIRE_FALSE(st.ok());
  CHECK(st.err() == EINVAL);
  CHECK(st.message().find(field) != std::string::npos);
  CHECK(st.message().find(quoted_value) != std::string::npos);
}

}  // namespace

TEST_CASE("an rbd disk is built element by element as libvirt wants it", "[xmlpatch]") {
  std::string xml = built(sample_disk());
  pugi::xml_document doc;
  pugi::xml_node disk = parse_root(doc, xml);

  CHECK(std::string(disk.name()) == "disk");
  CHECK(std::string(disk.attribute("type").value()) == "network");
  CHECK(std::string(disk.attribute("device").value()) == "disk");

  pugi::xml_node driver = disk.child("driver");
  CHECK(std::string(driver.attribute("name").value()) == "qemu");
  CHECK(std::string(driver.attribute("type").value()) == "raw");
  CHECK(std::string(driver.attribute("cache").value()) == "writeback");

  pugi::xml_node source = disk.child("source");
  CHECK(std::string(source.attribute("protocol").value()) == "rbd");
  CHECK(std::string(source.attribute("name").value()) ==
        "volumes/volume-0a1b2c3d-1111-2222-3333-444455556666");
  std::vector<std::pair<std::string, std::string>> hosts;
  for (pugi::xml_node h : source.children("host")) {
    hosts.emplace_back(h.attribute("name").value(), h.attribute("port").value());
    if (std::strcmp(h.attribute("name").value(), "fd00::7") == 0) CHECK_FALSE(h.attribute("port"));
  }
  REQUIRE(hosts.size() == 3);
  CHECK(hosts[0] == std::make_pair(std::string("10.0.0.1"), std::string("6789")));
  CHECK(hosts[1] == std::make_pair(std::string("mon2.example.org"), std::string("3300")));
  CHECK(hosts[2] == std::make_pair(std::string("fd00::7"), std::string("")));

  pugi::xml_node auth = disk.child("auth");
  CHECK(std::string(auth.attribute("username").value()) == "cinder");
  CHECK(std::string(auth.child("secret").attribute("type").value()) == "ceph");
  CHECK(std::string(auth.child("secret").attribute("uuid").value()) ==
        "5f0c3a56-0000-4000-8000-00000000abcd");
  CHECK_FALSE(source.child("auth"));

  CHECK(std::string(disk.child("target").attribute("dev").value()) == "vdb");
  CHECK(std::string(disk.child("target").attribute("bus").value()) == "virtio");
  CHECK(std::string(disk.child("serial").text().get()) == "0a1b2c3d-1111-2222-3333-444455556666");
  CHECK_FALSE(disk.child("shareable"));

  SECTION("children come in the order libvirt writes them back") {
    std::vector<std::string> names;
    for (pugi::xml_node c : disk.children()) names.push_back(c.name());
    CHECK(names == std::vector<std::string>{"driver", "auth", "source", "target", "serial"});
  }
  SECTION("the disk reads back through list_disks once added") {
    auto added = xp::add_disk("<domain><devices/></domain>", xml);
    REQUIRE(added.ok());
    auto disks = xp::list_disks(*added);
    REQUIRE(disks.ok());
    REQUIRE(disks->size() == 1);
    const xp::DiskInfo& d = disks->front();
    CHECK(d.type == "network");
    CHECK(d.device == "disk");
    CHECK(d.target_dev == "vdb");
    CHECK(d.target_bus == "virtio");
    CHECK(d.source_protocol == "rbd");
    CHECK(d.source_name == "volumes/volume-0a1b2c3d-1111-2222-3333-444455556666");
    CHECK(d.serial == "0a1b2c3d-1111-2222-3333-444455556666");
    CHECK(d.driver_type == "raw");
    CHECK(d.cache == "writeback");
    CHECK(d.auth_username == "cinder");
    CHECK(d.secret_uuid == "5f0c3a56-0000-4000-8000-00000000abcd");
    CHECK_FALSE(d.shareable);
    CHECK_FALSE(d.readonly);
  }
}

TEST_CASE("a multiattach disk gets shareable and cache none", "[xmlpatch]") {
  xp::RbdDisk d = sample_disk();
  d.shareable = true;
  d.cache = "none";
  pugi::xml_document doc;
  pugi::xml_node disk = parse_root(doc, built(d));
  CHECK(disk.child("shareable"));
  CHECK(std::string(disk.child("driver").attribute("cache").value()) == "none");
  CHECK(std::string(disk.child("driver").attribute("type").value()) == "raw");

  SECTION("directsync is allowed too") {
    d.cache = "directsync";
    CHECK(xp::build_rbd_disk_xml(d).ok());
  }
  SECTION("a caching mode is refused on a shareable disk") {
    for (const char* mode : {"writeback", "writethrough", "unsafe"}) {
      d.cache = mode;
      require_invalid(xp::build_rbd_disk_xml(d).status(), "cache mode",
                      std::string("\"") + mode + "\"");
    }
  }
}

TEST_CASE("a disk without auth, serial or hosts leaves those elements out", "[xmlpatch]") {
  xp::RbdDisk d = sample_disk();
  d.auth_username.clear();
  d.secret_uuid.clear();
  d.serial.clear();
  d.hosts.clear();
  pugi::xml_document doc;
  pugi::xml_node disk = parse_root(doc, built(d));
  CHECK_FALSE(disk.child("auth"));
  CHECK_FALSE(disk.child("serial"));
  CHECK_FALSE(disk.child("source").child("host"));
  CHECK(std::string(disk.child("source").attribute("name").value()) ==
        "volumes/volume-0a1b2c3d-1111-2222-3333-444455556666");
}

TEST_CASE("bad names are refused with EINVAL and a message naming the field", "[xmlpatch]") {
  struct Field {
    const char* name;
    std::string* value;
    size_t max_len;
  };
  xp::RbdDisk d = sample_disk();
  const std::vector<Field> fields = {{"pool", &d.pool, 64},
                                     {"image", &d.image, 96},
                                     {"auth username", &d.auth_username, 64},
                                     {"serial", &d.serial, 64}};
  for (const Field& f : fields) {
    const std::string good = *f.value;
    SECTION(std::string(f.name) + " with bad characters") {
      for (const std::string& bad :
           {good + ":x", good + "@snap", good + "'", good + "\"", good + "<", good + ">",
            good + "&", good + "/x", good + " x", good + "\n", good + "\x01"}) {
        *f.value = bad;
        require_invalid(xp::validate_rbd_disk(d), f.name, "");
        CHECK_FALSE(xp::build_rbd_disk_xml(d).ok());
      }
    }
    SECTION(std::string(f.name) + " over-long") {
      *f.value = std::string(f.max_len, 'a');
      CHECK(xp::validate_rbd_disk(d).ok());
      *f.value = std::string(f.max_len + 1, 'a');
      require_invalid(xp::validate_rbd_disk(d), f.name, "longer than");
    }
    SECTION(std::string(f.name) + " empty") {
      *f.value = "";
      if (std::string(f.name) == "serial") {
        CHECK(xp::validate_rbd_disk(d).ok());  // no <serial> then
      } else {
        require_invalid(xp::validate_rbd_disk(d), f.name, "\"\"");
      }
    }
  }
  SECTION("the message quotes the value with control characters escaped") {
    d.pool = "po\x01ol\"<";
    rbdvol::Status st = xp::validate_rbd_disk(d);
    require_invalid(st, "pool", "\"po\\x01ol\\\"<\"");
    for (char c : st.message()) CHECK(static_cast<unsigned char>(c) >= 0x20);
  }
  SECTION("a quote in the image is refused") {
    d.image = "img'/><disk";
    require_invalid(xp::validate_rbd_disk(d), "image", "\"img'/><disk\"");
  }
  SECTION("monitor hosts") {
    for (const char* bad : {"", "10.0.0.256", "mon_1", "-mon", "mon..x", "a b", "10.0.0.1:6789",
                            "[::1]", "::1::2", "host'", "h\x7f"}) {
      d.hosts = {{bad, "6789"}};
      require_invalid(xp::validate_rbd_disk(d), "monitor host", "");
    }
    for (const char* good :
         {"10.0.0.1", "::1", "fd00::5", "2001:db8::ffff:10.0.0.1", "mon-1.example.org", "ceph"}) {
      d.hosts = {{good, "6789"}};
      INFO(good);
      CHECK(xp::validate_rbd_disk(d).ok());
    }
    d.hosts = std::vector<xp::MonitorHost>(17, {"10.0.0.1", "6789"});
    require_invalid(xp::validate_rbd_disk(d), "monitor hosts", "");
  }
  SECTION("monitor ports") {
    for (const char* bad : {"0", "65536", "-1", "67a", "06789", "123456", " 1"}) {
      d.hosts = {{"10.0.0.1", bad}};
      require_invalid(xp::validate_rbd_disk(d), "monitor port", std::string("\"") + bad + "\"");
    }
    d.hosts = {{"10.0.0.1", "65535"}, {"10.0.0.2", "1"}, {"10.0.0.3", ""}};
    CHECK(xp::validate_rbd_disk(d).ok());
  }
  SECTION("secret uuids") {
    for (const char* bad : {"", "5f0c3a56", "5f0c3a56-0000-4000-8000-00000000abcg",
                            "5f0c3a560000-4000-8000-00000000abcd0", "'or'1'='1"}) {
      d.secret_uuid = bad;
      require_invalid(xp::validate_rbd_disk(d), "secret uuid", "");
    }
    d.auth_username.clear();
    d.secret_uuid = "5f0c3a56-0000-4000-8000-00000000abcd";
    require_invalid(xp::validate_rbd_disk(d), "auth username", "\"\"");
  }
  SECTION("cache modes, buses and target devs") {
    d.cache = "writeback ";
    require_invalid(xp::validate_rbd_disk(d), "cache mode", "\"writeback \"");
    d.cache = "none";
    d.target_bus = "ide";
    require_invalid(xp::validate_rbd_disk(d), "target bus", "\"ide\"");
    d.target_bus = "virtio";
    for (const char* bad : {"", "vd", "sdb", "vdB", "vdaaa", "vd1", "xvda", "vda\n"}) {
      d.target_dev = bad;
      require_invalid(xp::validate_rbd_disk(d), "target dev", "");
    }
    for (const char* good : {"vda", "vdz", "vdaa", "vdzz"}) {
      d.target_dev = good;
      CHECK(xp::validate_rbd_disk(d).ok());
    }
    d.target_bus = "scsi";
    d.target_dev = "sdc";
    CHECK(xp::validate_rbd_disk(d).ok());
    d.target_bus = "sata";
    CHECK(xp::validate_rbd_disk(d).ok());
  }
}

TEST_CASE("domain names are checked against the allowlist", "[xmlpatch]") {
  CHECK(xp::validate_domain_name("vm-1").ok());
  CHECK(xp::validate_domain_name("web server (blue)").ok());
  CHECK(xp::validate_domain_name(std::string(200, 'a')).ok());
  for (const std::string& bad :
       {std::string(), std::string(201, 'a'), std::string("a/b"), std::string("a'b"),
        std::string("a\"b"), std::string("a<b"), std::string("a>b"), std::string("a&b"),
        std::string("a\nb"), std::string("a\x7f"), std::string("a\0b", 3)}) {
    rbdvol::Status st = xp::validate_domain_name(bad);
    INFO(st.message());
    CHECK(st.err() == EINVAL);
    CHECK(st.message().find("domain name") != std::string::npos);
  }
}

TEST_CASE("first_free_target_dev finds the first unused name for a bus", "[xmlpatch]") {
  auto free_dev = [](const std::string& xml, const std::string& bus) {
    auto r = xp::first_free_target_dev(xml, bus);
    INFO(r.status().message());
    REQUIRE(r.ok());
    return *r;
  };
  CHECK(free_dev(kDomain, "virtio") == "vdc");
  CHECK(free_dev(kDomain, "scsi") == "sdb");
  CHECK(free_dev(kDomain, "sata") == "sdb");
  CHECK(free_dev(kDomain, "usb") == "sdb");
  CHECK(free_dev(kDomain, "ide") == "hda");
  CHECK(free_dev("<domain><devices/></domain>", "virtio") == "vda");
  CHECK(free_dev("<domain/>", "virtio") == "vda");

  SECTION("a gap is filled first") {
    std::string xml = "<domain><devices><disk><target dev='vdb'/></disk></devices></domain>";
    CHECK(free_dev(xml, "virtio") == "vda");
  }
  SECTION("after vdz comes vdaa, after vdaz comes vdba") {
    std::string disks;
    for (char c = 'a'; c <= 'z'; ++c)
      disks += std::string("<disk><target dev='vd") + c + "'/></disk>";
    CHECK(free_dev("<domain><devices>" + disks + "</devices></domain>", "virtio") == "vdaa");
    for (char c = 'a'; c <= 'z'; ++c) {
      disks += std::string("<disk><target dev='vda") + c + "'/></disk>";
    }
    CHECK(free_dev("<domain><devices>" + disks + "</devices></domain>", "virtio") == "vdba");
  }
  SECTION("all of a..zz taken is ENOSPC") {
    std::string disks;
    for (char c = 'a'; c <= 'z'; ++c)
      disks += std::string("<disk><target dev='sd") + c + "'/></disk>";
    for (char a = 'a'; a <= 'z'; ++a) {
      for (char b = 'a'; b <= 'z'; ++b) {
        disks += std::string("<disk><target dev='sd") + a + b + "'/></disk>";
      }
    }
    auto r = xp::first_free_target_dev("<domain><devices>" + disks + "</devices></domain>", "scsi");
    CHECK(r.status().err() == ENOSPC);
    CHECK(free_dev("<domain><devices>" + disks + "</devices></domain>", "virtio") == "vda");
  }
  SECTION("an unknown bus is EINVAL") {
    auto r = xp::first_free_target_dev(kDomain, "floppy");
    CHECK(r.status().err() == EINVAL);
    CHECK(r.status().message().find("\"floppy\"") != std::string::npos);
  }
}

TEST_CASE("list_disks reads every disk in document order", "[xmlpatch]") {
  auto disks = xp::list_disks(kDomain);
  REQUIRE(disks.ok());
  REQUIRE(disks->size() == 3);
  CHECK((*disks)[0].target_dev == "vda");
  CHECK((*disks)[0].type == "file");
  CHECK((*disks)[0].source_name == "/srv/root.qcow2");
  CHECK((*disks)[0].driver_type == "qcow2");
  CHECK((*disks)[0].cache.empty());
  CHECK((*disks)[1].source_protocol == "rbd");
  CHECK((*disks)[1].source_name == "volumes/v1");
  CHECK((*disks)[1].shareable);
  CHECK((*disks)[2].device == "cdrom");
  CHECK((*disks)[2].readonly);
  CHECK((*disks)[2].target_bus == "sata");

  SECTION("entities in values are decoded") {
    auto r = xp::list_disks(
        "<domain><devices><disk><source file='/a&amp;b&#47;&#x63;'/>"
        "<target dev='vd&#97;'/><serial>s&lt;1</serial></disk></devices></domain>");
    REQUIRE(r.ok());
    CHECK(r->at(0).source_name == "/a&b/c");
    CHECK(r->at(0).target_dev == "vda");
    CHECK(r->at(0).serial == "s<1");
  }
  SECTION("auth inside source is found too") {
    auto r = xp::list_disks(
        "<domain><devices><disk type='network'><source protocol='rbd' name='p/i'>"
        "<auth username='u'><secret type='ceph' uuid='x'/></auth></source></disk></devices>"
        "</domain>");
    REQUIRE(r.ok());
    CHECK(r->at(0).auth_username == "u");
    CHECK(r->at(0).secret_uuid == "x");
  }
}

TEST_CASE("every operation refuses bad XML and a root that is not domain", "[xmlpatch]") {
  const xp::DiskSelector vda{"vda", ""};
  auto run_all = [&](const std::string& xml) {
    std::vector<rbdvol::Status> out;
    out.push_back(xp::list_disks(xml).status());
    out.push_back(xp::first_free_target_dev(xml, "virtio").status());
    out.push_back(xp::add_disk(xml, built(sample_disk())).status());
    out.push_back(xp::remove_disk(xml, vda).status());
    out.push_back(xp::set_disk_cache_mode(xml, vda, "none").status());
    out.push_back(xp::make_disk_shareable(xml, vda, "none").status());
    out.push_back(xp::disk_xml_of(xml, vda).status());
    out.push_back(xp::make_boot_disk(xml, vda).status());
    out.push_back(xp::rewrite_domain_xml(xml).status());
    return out;
  };
  SECTION("unclosed element: the message has the parse error and its offset") {
    for (const rbdvol::Status& st : run_all("<domain><devices>\n<disk></devices></domain>")) {
      INFO(st.message());
      CHECK(st.err() == EINVAL);
      CHECK(st.message().find("does not parse") != std::string::npos);
      CHECK(st.message().find("offset") != std::string::npos);
      CHECK(st.message().find("line 2") != std::string::npos);
    }
  }
  SECTION("root is not domain") {
    for (const rbdvol::Status& st : run_all("<network><name>x</name></network>")) {
      INFO(st.message());
      CHECK(st.err() == EINVAL);
      CHECK(st.message().find("<network>") != std::string::npos);
    }
  }
  SECTION("other malformed documents") {
    std::string deep = "<domain>";
    for (int i = 0; i < 300; ++i) deep += "<a>";
    for (int i = 0; i < 300; ++i) deep += "</a>";
    deep += "</domain>";
    for (const std::string& xml :
         {std::string(), std::string("   "), std::string("<domain/><domain/>"),
          std::string("text<domain/>"), std::string("<domain/>tail"),
          std::string("<domain>\0</domain>", 18), std::string(300, '<'),
          std::string("<domain a='1'>"), std::string("<?xml version='1.0'?>"), deep}) {
      for (const rbdvol::Status& st : run_all(xml)) {
        INFO(st.message());
        CHECK(st.err() == EINVAL);
      }
    }
  }
}

TEST_CASE("operations on a disk that is not there are ENOENT", "[xmlpatch]") {
  for (const xp::DiskSelector& which :
       {xp::DiskSelector{"vdz", ""}, xp::DiskSelector{"", "volumes/nope"},
        xp::DiskSelector{"", "/srv/root.qcow2"}}) {
    CHECK(xp::remove_disk(kDomain, which).status().err() == ENOENT);
    CHECK(xp::set_disk_cache_mode(kDomain, which, "none").status().err() == ENOENT);
    CHECK(xp::make_disk_shareable(kDomain, which, "none").status().err() == ENOENT);
    CHECK(xp::disk_xml_of(kDomain, which).status().err() == ENOENT);
    CHECK(xp::make_boot_disk(kDomain, which).status().err() == ENOENT);
  }
  auto r = xp::remove_disk(kDomain, {"vdz", ""});
  CHECK(r.status().message().find("\"vdz\"") != std::string::npos);
  SECTION("an empty selector is EINVAL") {
    CHECK(xp::remove_disk(kDomain, {}).status().err() == EINVAL);
  }
  SECTION("a selector matching two disks is EINVAL") {
    std::string xml =
        "<domain><devices>"
        "<disk type='network'><source protocol='rbd' name='p/i'/><target dev='vda'/></disk>"
        "<disk type='network'><source protocol='rbd' name='p/i'/><target dev='vdb'/></disk>"
        "</devices></domain>";
    CHECK(xp::remove_disk(xml, {"", "p/i"}).status().err() == EINVAL);
    CHECK(xp::remove_disk(xml, {"vdb", ""}).ok());
  }
}

TEST_CASE("add_disk refuses a target dev clash and a disk that is not one", "[xmlpatch]") {
  xp::RbdDisk d = sample_disk();
  d.target_dev = "vda";
  auto r = xp::add_disk(kDomain, built(d));
  CHECK(r.status().err() == EEXIST);
  CHECK(r.status().message().find("\"vda\"") != std::string::npos);

  SECTION("a disk without target dev") {
    CHECK(xp::add_disk(kDomain, "<disk type='file'/>").status().err() == EINVAL);
  }
  SECTION("not a disk") {
    CHECK(xp::add_disk(kDomain, "<interface type='network'/>").status().err() == EINVAL);
  }
  SECTION("bad disk XML") {
    auto bad = xp::add_disk(kDomain, "<disk><target dev='vdx'/>");
    CHECK(bad.status().err() == EINVAL);
    CHECK(bad.status().message().find("disk XML does not parse") != std::string::npos);
  }
  SECTION("two disks") {
    CHECK(xp::add_disk(kDomain, "<disk><target dev='vdx'/></disk><disk/>").status().err() ==
          EINVAL);
  }
}

TEST_CASE("cache modes are checked before anything is changed", "[xmlpatch]") {
  SECTION("an unknown mode is EINVAL") {
    auto r = xp::set_disk_cache_mode(kDomain, {"vda", ""}, "fast");
    CHECK(r.status().err() == EINVAL);
    CHECK(r.status().message().find("\"fast\"") != std::string::npos);
  }
  SECTION("a caching mode on a shareable disk is EINVAL") {
    CHECK(xp::set_disk_cache_mode(kDomain, {"vdb", ""}, "writeback").status().err() == EINVAL);
    CHECK(xp::set_disk_cache_mode(kDomain, {"vdb", ""}, "directsync").ok());
  }
  SECTION("make_disk_shareable takes only none and directsync") {
    CHECK(xp::make_disk_shareable(kDomain, {"sda", ""}, "writeback").status().err() == EINVAL);
    CHECK(xp::make_disk_shareable(kDomain, {"sda", ""}, "directsync").ok());
  }
  SECTION("a qcow2 disk is not made shareable") {
    auto r = xp::make_disk_shareable(kDomain, {"vda", ""}, "none");
    CHECK(r.status().err() == EINVAL);
    CHECK(r.status().message().find("\"qcow2\"") != std::string::npos);
  }
}

TEST_CASE("set_disk_cache_mode changes only the cache attribute", "[xmlpatch]") {
  auto r = xp::set_disk_cache_mode(kDomain, {"", "volumes/v1"}, "directsync");
  REQUIRE(r.ok());
  std::string expected = kDomain;
  expected.replace(expected.find("cache='none'"), 12, "cache='directsync'");
  CHECK(*r == expected);

  SECTION("a driver without cache gets it after its type") {
    auto r2 = xp::set_disk_cache_mode(kDomain, {"vda", ""}, "writeback");
    REQUIRE(r2.ok());
    CHECK(r2->find("<driver name='qemu' type='qcow2' cache='writeback'/>") != std::string::npos);
  }
  SECTION("a disk without driver gets one, indented like its first child") {
    auto r2 = xp::set_disk_cache_mode(kDomain, {"sda", ""}, "none");
    REQUIRE(r2.ok());
    CHECK(r2->find("<disk type='file' device='cdrom'>\n      <driver name='qemu' cache='none'/>\n"
                   "      <target dev='sda' bus='sata'/>") != std::string::npos);
  }
}

TEST_CASE("disk_xml_of returns the disk on its own at column 0", "[xmlpatch]") {
  auto r = xp::disk_xml_of(kDomain, {"", "volumes/v1"});
  REQUIRE(r.ok());
  CHECK(*r ==
        "<disk type='network' device='disk'>\n"
        "  <driver name='qemu' type='raw' cache='none'/>\n"
        "  <source protocol='rbd' name='volumes/v1'>\n"
        "    <host name='10.0.0.1' port='6789'/>\n"
        "  </source>\n"
        "  <target dev='vdb' bus='virtio'/>\n"
        "  <shareable/>\n"
        "</disk>");
  SECTION("and adding it back after removing it restores the document") {
    auto removed = xp::remove_disk(kDomain, {"vdb", ""});
    REQUIRE(removed.ok());
    auto moved = xp::add_disk(*removed, *r);
    REQUIRE(moved.ok());
    // It comes back last, after the cdrom.
    auto disks = xp::list_disks(*moved);
    REQUIRE(disks.ok());
    CHECK(disks->back().target_dev == "vdb");
    auto again = xp::remove_disk(*moved, {"vdb", ""});
    REQUIRE(again.ok());
    CHECK(*again == *removed);
  }
}

TEST_CASE("documents that are not as libvirt writes them are still handled", "[xmlpatch]") {
  SECTION("double quotes, CRLF line ends, a declaration, a PI and CDATA stay as they are") {
    std::string xml =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<?app data?>\r\n"
        "<domain type=\"kvm\">\r\n  <description><![CDATA[a<b]]></description>\r\n"
        "  <devices>\r\n    <disk type=\"file\">\r\n      <target dev=\"vda\" "
        "bus=\"virtio\"/>\r\n    </disk>\r\n  </devices>\r\n</domain>\r\n";
    auto same = xp::rewrite_domain_xml(xml);
    REQUIRE(same.ok());
    CHECK(*same == xml);
    xp::RbdDisk d = sample_disk();
    auto added = xp::add_disk(xml, built(d));
    REQUIRE(added.ok());
    CHECK(added->find("\r\n    <disk type='network' device='disk'>\r\n      <driver ") !=
          std::string::npos);
    auto removed = xp::remove_disk(*added, {"vdb", ""});
    REQUIRE(removed.ok());
    CHECK(*removed == xml);
  }
  SECTION("a document on one line gets a disk on one line") {
    std::string xml = "<domain><devices><disk><target dev='vda'/></disk></devices></domain>";
    auto added = xp::add_disk(xml, built(sample_disk()));
    REQUIRE(added.ok());
    CHECK(added->find('\n') == std::string::npos);
    auto removed = xp::remove_disk(*added, {"vdb", ""});
    REQUIRE(removed.ok());
    CHECK(*removed == xml);
  }
  SECTION("an attribute in double quotes that holds a single quote keeps its quotes") {
    std::string xml = "<domain><title a=\"it's\"/><devices/></domain>";
    auto r = xp::rewrite_domain_xml(xml);
    REQUIRE(r.ok());
    CHECK(*r == xml);
    auto added = xp::add_disk(xml, "<disk x=\"'\"><target dev=\"vdq\"/></disk>");
    REQUIRE(added.ok());
    CHECK(added->find("<disk x=\"'\"><target dev=\"vdq\"/></disk>") != std::string::npos);
  }
}

namespace {

// Every device under <devices> that has a <boot order>, by its target dev
// (disks), or its element name (others), with its order.
std::vector<std::pair<std::string, std::string>> boot_orders(const std::string& xml) {
  pugi::xml_document doc;
  pugi::xml_node root = parse_root(doc, xml);
  std::vector<std::pair<std::string, std::string>> out;
  for (pugi::xml_node device : root.child("devices").children()) {
    for (pugi::xml_node boot : device.children("boot")) {
      std::string dev = device.child("target").attribute("dev").value();
      if (std::strcmp(device.name(), "disk") != 0) dev = device.name();
      out.emplace_back(dev, boot.attribute("order").value());
    }
  }
  return out;
}

using Orders = std::vector<std::pair<std::string, std::string>>;

// A domain with the devices and <os> given, each disk a file disk.
std::string domain_with(const std::string& os, const std::string& devices) {
  return "<domain type='test'>\n  <name>vm</name>\n  <os>\n    <type arch='x86_64'>hvm</type>\n" +
         os + "  </os>\n  <devices>\n" + devices + "  </devices>\n</domain>\n";
}

std::string file_disk(const std::string& dev, const std::string& bus, const std::string& boot,
                      const std::string& tail = "") {
  std::string x = "    <disk type='file' device='disk'>\n      <source file='/srv/" + dev +
                  ".img'/>\n      <target dev='" + dev + "' bus='" + bus + "'/>\n";
  if (!boot.empty()) x += "      <boot order='" + boot + "'/>\n";
  return x + tail + "    </disk>\n";
}

std::string boot_of(const std::string& xml) {
  auto r = xp::make_boot_disk(xml, {"vdc", ""});
  INFO(r.status().message());
  REQUIRE(r.ok());
  return *r;
}

}  // namespace

TEST_CASE("make_boot_disk puts the disk first and shifts the others, never sharing an order",
          "[xmlpatch][boot]") {
  SECTION("no device had an order: only the disk gets one") {
    std::string in =
        domain_with("", file_disk("vda", "virtio", "") + file_disk("vdc", "virtio", ""));
    std::string out = boot_of(in);
    CHECK(boot_orders(out) == Orders{{"vdc", "1"}});
    // One line added, right after the disk's <target>, indented like it.
    CHECK(out.find("<target dev='vdc' bus='virtio'/>\n      <boot order='1'/>\n    </disk>") !=
          std::string::npos);
    CHECK(out.size() == in.size() + std::string("      <boot order='1'/>\n").size());
  }
  SECTION("several orders: every one moves up by one") {
    std::string in =
        domain_with("", file_disk("vda", "virtio", "1") + file_disk("sda", "sata", "2") +
                            "    <interface type='network'>\n      <source network='default'/>\n"
                            "      <boot order='3'/>\n    </interface>\n" +
                            file_disk("vdc", "virtio", ""));
    CHECK(boot_orders(boot_of(in)) ==
          Orders{{"vda", "2"}, {"sda", "3"}, {"interface", "4"}, {"vdc", "1"}});
  }
  SECTION("the disk had an order: those before it move up, those after it stay") {
    std::string in =
        domain_with("", file_disk("vda", "virtio", "1") + file_disk("sda", "sata", "2") +
                            file_disk("vdc", "virtio", "3") + file_disk("vdd", "virtio", "4"));
    std::string out = boot_of(in);
    CHECK(boot_orders(out) == Orders{{"vda", "2"}, {"sda", "3"}, {"vdc", "1"}, {"vdd", "4"}});
    // Changed in place: the same length, only digits differ.
    CHECK(out.size() == in.size());
  }
  SECTION("gaps stay gaps, and no two devices ever share an order") {
    std::string in =
        domain_with("", file_disk("vda", "virtio", "2") + file_disk("vdb", "virtio", "5") +
                            file_disk("vdc", "virtio", "9"));
    CHECK(boot_orders(boot_of(in)) == Orders{{"vda", "3"}, {"vdb", "6"}, {"vdc", "1"}});
  }
  SECTION("a disk that already boots first: the document is unchanged") {
    std::string in =
        domain_with("", file_disk("vdc", "virtio", "1") + file_disk("vda", "virtio", "2"));
    CHECK(boot_of(in) == in);
    CHECK(boot_of(boot_of(in)) == in);
  }
  SECTION("os/boot elements are removed with their indentation, bootmenu stays") {
    std::string in =
        domain_with("    <boot dev='cdrom'/>\n    <boot dev='hd'/>\n    <bootmenu enable='yes'/>\n",
                    file_disk("vda", "virtio", "") + file_disk("vdc", "virtio", ""));
    std::string out = boot_of(in);
    CHECK(out.find("<boot dev=") == std::string::npos);
    CHECK(out.find("  <os>\n    <type arch='x86_64'>hvm</type>\n    <bootmenu enable='yes'/>\n  "
                   "</os>") != std::string::npos);
    CHECK(boot_orders(out) == Orders{{"vdc", "1"}});
  }
  SECTION("the new <boot> goes before <alias> and <address>") {
    std::string in = domain_with(
        "", file_disk("vdc", "virtio", "",
                      "      <serial>abc</serial>\n      <alias name='virtio-disk2'/>\n"
                      "      <address type='pci' domain='0x0000' bus='0x00' slot='0x05' "
                      "function='0x0'/>\n"));
    std::string out = boot_of(in);
    CHECK(out.find("<serial>abc</serial>\n      <boot order='1'/>\n      <alias ") !=
          std::string::npos);
  }
  SECTION("an order that is not a number is refused, the document untouched") {
    for (const char* bad : {"0", "x", "1x", "-1", "1234567890"}) {
      std::string in =
          domain_with("", file_disk("vda", "virtio", bad) + file_disk("vdc", "virtio", ""));
      auto r = xp::make_boot_disk(in, {"vdc", ""});
      INFO(bad << ": " << r.status().message());
      CHECK(r.status().err() == EINVAL);
      CHECK(r.status().message().find("boot order") != std::string::npos);
    }
  }
  SECTION("a disk selected by its rbd source") {
    std::string in = kDomain;
    auto r = xp::make_boot_disk(in, {"", "volumes/v1"});
    REQUIRE(r.ok());
    CHECK(boot_orders(*r) == Orders{{"vdb", "1"}});
  }
}

TEST_CASE("set_domain_basics names a template's domain and sets memory and vcpus",
          "[xmlpatch][boot]") {
  const std::string tmpl =
      "<domain type='kvm'>\n  <name>template</name>\n"
      "  <uuid>11111111-2222-3333-4444-555555555555</uuid>\n"
      "  <memory unit='KiB'>2097152</memory>\n  <currentMemory unit='KiB'>1048576</currentMemory>\n"
      "  <vcpu placement='static' current='2'>4</vcpu>\n  <os>\n    <type>hvm</type>\n  </os>\n"
      "</domain>\n";
  SECTION("name only: the uuid goes, the rest stays byte for byte") {
    auto r = xp::set_domain_basics(tmpl, {"vm-new", 0, 0});
    REQUIRE(r.ok());
    std::string want = tmpl;
    want.replace(want.find("template"), 8, "vm-new");
    want.erase(want.find("  <uuid>"),
               std::string("  <uuid>11111111-2222-3333-4444-555555555555</uuid>\n").size());
    CHECK(*r == want);
  }
  SECTION("memory and vcpus") {
    auto r = xp::set_domain_basics(tmpl, {"vm-new", 256, 1});
    REQUIRE(r.ok());
    CHECK(r->find(
              "  <memory unit='MiB'>256</memory>\n  <currentMemory unit='MiB'>256</currentMemory>\n"
              "  <vcpu placement='static'>1</vcpu>\n") != std::string::npos);
  }
  SECTION("missing elements are added where libvirt writes them") {
    auto r = xp::set_domain_basics(
        "<domain type='qemu'>\n  <os>\n    <type>hvm</type>\n  </os>\n</domain>\n", {"a", 64, 2});
    REQUIRE(r.ok());
    CHECK(*r ==
          "<domain type='qemu'>\n  <name>a</name>\n  <memory unit='MiB'>64</memory>\n"
          "  <vcpu>2</vcpu>\n  <os>\n    <type>hvm</type>\n  </os>\n</domain>\n");
  }
  SECTION("a bad name is refused") {
    CHECK(xp::set_domain_basics(tmpl, {"a<b", 0, 0}).status().err() == EINVAL);
    CHECK(xp::set_domain_basics(tmpl, {"", 0, 0}).status().err() == EINVAL);
    CHECK(xp::set_domain_basics("<network/>", {"a", 0, 0}).status().err() == EINVAL);
  }
}

TEST_CASE("ensure_virtio_scsi_controller adds one only where no scsi controller is",
          "[xmlpatch][boot]") {
  SECTION("after the last controller, indented like it") {
    const std::string in =
        "<domain>\n  <devices>\n    <disk type='file'>\n      <target dev='sda' bus='scsi'/>\n"
        "    </disk>\n    <controller type='usb' index='0'/>\n  </devices>\n</domain>\n";
    auto r = xp::ensure_virtio_scsi_controller(in);
    REQUIRE(r.ok());
    std::string want = in;
    want.insert(want.find("  </devices>"),
                "    <controller type='scsi' index='0' model='virtio-scsi'/>\n");
    CHECK(*r == want);
  }
  SECTION("after the last disk when there is no controller") {
    auto r = xp::ensure_virtio_scsi_controller(
        "<domain>\n  <devices>\n    <disk type='file'/>\n    <serial type='pty'/>\n"
        "  </devices>\n</domain>\n");
    REQUIRE(r.ok());
    CHECK(*r ==
          "<domain>\n  <devices>\n    <disk type='file'/>\n"
          "    <controller type='scsi' index='0' model='virtio-scsi'/>\n"
          "    <serial type='pty'/>\n  </devices>\n</domain>\n");
  }
  SECTION("a scsi controller of any model is left as it is") {
    const std::string in =
        "<domain><devices><controller type=\"scsi\" model=\"lsilogic\"/></devices></domain>";
    auto r = xp::ensure_virtio_scsi_controller(in);
    REQUIRE(r.ok());
    CHECK(*r == in);
  }
  SECTION("no <devices>") {
    CHECK(xp::ensure_virtio_scsi_controller("<domain/>").status().err() == EINVAL);
  }
}
