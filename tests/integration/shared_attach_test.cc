// A shared volume in two running guests, and a plain volume refused for a
// second guest: against the sandbox's libvirtd, QEMU guests and Ceph.
#include <catch2/catch.hpp>

#include <pugixml.hpp>

#include "tests/integration/sandbox.h"

using namespace rbdvol::test;

namespace {

// Everything a test made, undone however it ends: detach (a guest without an
// OS never releases a virtio disk, so it is restarted), then the images.
struct AttachCleanup {
  std::string volume_id, volume_image, image_id;
  std::vector<std::string> guests;
  ~AttachCleanup() {
    if (!volume_id.empty()) run_rbdvol({"detach", volume_id});
    for (const auto& g : guests) Guest(g).restart();
    CephView fast("fast");
    if (!volume_image.empty()) fast.remove_image("volumes", volume_image);
    if (!image_id.empty()) fast.remove_image("images", "image-" + image_id);
  }
};

// The <disk> whose rbd source is `source` in a domain's XML.
pugi::xml_node find_rbd_disk(pugi::xml_document& doc, const std::string& xml,
                             const std::string& source) {
  REQUIRE(doc.load_string(xml.c_str()));
  for (auto disk : doc.child("domain").child("devices").children("disk")) {
    if (std::string(disk.child("source").attribute("name").value()) == source) return disk;
  }
  return {};
}

}  // namespace

TEST_CASE("a shared volume attached to vm1 and vm2 is one disk both QEMUs read and write",
          "[integration][attach]") {
  AttachCleanup cleanup;
  cleanup.image_id = upload_random_image(16 << 20, "fast", "shared-source");
  auto volume = rbdvol_json({"volume", "create", "--type", "shared", "--image", cleanup.image_id});
  cleanup.volume_image = volume.at("image");
  const std::string id = volume.at("id");
  const std::string source = "volumes/" + cleanup.volume_image;

  cleanup.volume_id = id;
  cleanup.guests = {"vm1", "vm2"};
  auto attached = rbdvol_json({"attach", id, "vm1", "vm2"});
  REQUIRE(attached.at("attachments").size() == 2);

  const auto* fast = sandbox_config().find_backend("fast");
  CephView ceph("fast");
  const std::string key = ceph.key();
  for (const char* name : {"vm1", "vm2"}) {
    Guest guest(name);
    for (bool persistent : {false, true}) {
      INFO(name << (persistent ? " persistent" : " live") << " XML");
      const std::string xml = persistent ? guest.persistent_xml() : guest.live_xml();
      pugi::xml_document doc;
      auto disk = find_rbd_disk(doc, xml, source);
      REQUIRE(disk);
      CHECK(std::string(disk.attribute("type").value()) == "network");
      CHECK(std::string(disk.child("source").attribute("protocol").value()) == "rbd");
      auto host = disk.child("source").child("host");
      CHECK(std::string(host.attribute("name").value()) == "127.0.0.1");
      CHECK_FALSE(std::string(host.attribute("port").value()).empty());
      CHECK(std::string(disk.child("auth").attribute("username").value()) == fast->rbd_user);
      CHECK(std::string(disk.child("auth").child("secret").attribute("type").value()) == "ceph");
      CHECK(std::string(disk.child("auth").child("secret").attribute("uuid").value()) ==
            fast->libvirt_secret_uuid);
      CHECK(std::string(disk.child("driver").attribute("type").value()) == "raw");
      CHECK(std::string(disk.child("driver").attribute("cache").value()) == "none");
      CHECK(disk.child("shareable"));
      CHECK(std::string(disk.child("serial").text().get()) == id);
      CHECK(std::string(disk.child("target").attribute("dev").value()).rfind("vd", 0) == 0);
      CHECK(xml.find(key) == std::string::npos);  // the secret's uuid, never the key
    }
  }
  // One watcher per QEMU process.
  CHECK(ceph.watcher_count("volumes", cleanup.volume_image) == 2);

  auto shown = rbdvol_json({"volume", "show", id});
  REQUIRE(shown.at("attachments").size() == 2);
  for (const auto& a : shown.at("attachments")) CHECK(a.at("state") == "attached");

  Guest vm1("vm1"), vm2("vm2");
  const std::string node1 = vm1.node_of(cleanup.volume_image);
  const std::string node2 = vm2.node_of(cleanup.volume_image);

  // vm1 writes at 1 MiB, vm2 reads the same bytes; vm2 writes at 2 MiB, vm1 reads them.
  CHECK(vm1.qemu_io(node1, "write -P 0xab 1M 64k").find("wrote 65536/65536 bytes") !=
        std::string::npos);
  std::string read2 = vm2.qemu_io(node2, "read -P 0xab 1M 64k");
  INFO("vm2 read: " << read2);
  CHECK(read2.find("read 65536/65536 bytes") != std::string::npos);
  CHECK(read2.find("verification failed") == std::string::npos);

  CHECK(vm2.qemu_io(node2, "write -P 0xcd 2M 64k").find("wrote 65536/65536 bytes") !=
        std::string::npos);
  std::string read1 = vm1.qemu_io(node1, "read -P 0xcd 2M 64k");
  INFO("vm1 read: " << read1);
  CHECK(read1.find("read 65536/65536 bytes") != std::string::npos);
  CHECK(read1.find("verification failed") == std::string::npos);

  // The check can fail: a pattern nobody wrote is reported as a mismatch.
  std::string wrong = vm1.qemu_io(node1, "read -P 0x11 2M 64k");
  CHECK(wrong.find("Pattern verification failed") != std::string::npos);
}

TEST_CASE("a volume that is not multiattach, attached to vm1, is refused for vm2",
          "[integration][attach]") {
  AttachCleanup cleanup;
  cleanup.image_id = upload_random_image(4 << 20, "fast", "single-source");
  auto volume = rbdvol_json({"volume", "create", "--type", "ssd", "--image", cleanup.image_id});
  cleanup.volume_image = volume.at("image");
  const std::string id = volume.at("id");
  cleanup.volume_id = id;
  cleanup.guests = {"vm1"};

  rbdvol_json({"attach", id, "vm1"});
  Guest vm1("vm1"), vm2("vm2");
  const std::string vm1_live = vm1.live_xml();
  const std::string vm1_persistent = vm1.persistent_xml();
  const std::string vm2_live = vm2.live_xml();

  auto refused = run_rbdvol({"attach", id, "vm2"});
  CHECK(refused.exit_code != 0);
  CHECK(refused.err.find("not multiattach") != std::string::npos);
  CHECK(refused.err.find("vm1") != std::string::npos);
  CHECK(refused.err.find("vm2") != std::string::npos);

  CHECK(vm1.live_xml() == vm1_live);
  CHECK(vm1.persistent_xml() == vm1_persistent);
  CHECK(vm2.live_xml() == vm2_live);
  auto shown = rbdvol_json({"volume", "show", id});
  REQUIRE(shown.at("attachments").size() == 1);
  CHECK(shown.at("attachments")[0].at("domain") == "vm1");

  SECTION("and deleting it while attached is refused") {
    auto del = run_rbdvol({"volume", "delete", id});
    CHECK(del.exit_code != 0);
    CHECK(del.err.find("attached to: vm1") != std::string::npos);
  }
}
