// libFuzzer target for xmlpatch. The input is a selector byte, then NUL-
// separated fields: domain XML, arg1, arg2, disk XML. Every operation runs on
// them; the target traps when an operation hands back a document that pugixml
// cannot parse or whose root is not <domain> (or, for disk_xml_of and
// build_rbd_disk_xml, not <disk>), or when rewriting is not idempotent.
// Sanitizers report everything else (overflows, leaks, UB, uncaught throws).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <pugixml.hpp>

#include "xmlpatch/xmlpatch.h"

namespace xp = rbdvol::xmlpatch;

namespace {

void require(bool ok) {
  if (!ok) __builtin_trap();
}

void require_root(const std::string& xml, const char* root) {
  pugi::xml_document doc;
  pugi::xml_parse_result r = doc.load_buffer(xml.data(), xml.size(), pugi::parse_full);
  require(static_cast<bool>(r));
  require(std::strcmp(doc.document_element().name(), root) == 0);
}

// A returned domain document: parses, is a <domain>, and xmlpatch reads it
// back to the same bytes.
void check_domain(const rbdvol::Result<std::string>& r) {
  if (!r.ok()) {
    require(r.status().err() != 0 && !r.status().message().empty());
    return;
  }
  require_root(*r, "domain");
  auto again = xp::rewrite_domain_xml(*r);
  require(again.ok() && *again == *r);
}

std::vector<std::string> split(const std::string& s, size_t max_parts) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (parts.size() + 1 < max_parts) {
    size_t nul = s.find('\0', start);
    if (nul == std::string::npos) break;
    parts.push_back(s.substr(start, nul - start));
    start = nul + 1;
  }
  parts.push_back(s.substr(start));
  parts.resize(max_parts);
  return parts;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const unsigned sel = data[0];
  std::string rest(reinterpret_cast<const char*>(data + 1), size - 1);
  std::vector<std::string> f = split(rest, 4);
  // Now and then the whole input is the document, NUL bytes and all.
  const std::string doc = (sel & 0x80) ? rest : f[0];
  const std::string& arg1 = f[1];
  const std::string& arg2 = f[2];
  const std::string& disk_xml = f[3];

  static const char* const kBuses[] = {"virtio", "scsi", "sata", "usb", "ide", "xen"};
  static const char* const kModes[] = {"none",      "directsync", "writethrough",
                                       "writeback", "unsafe",     "bogus"};
  const std::string bus = kBuses[sel % 6];
  const std::string mode = kModes[(sel >> 3) % 6];
  xp::DiskSelector which;
  if (sel & 0x40) {
    which.rbd_source = arg1;
  } else {
    which.target_dev = arg1;
  }

  (void)xp::validate_domain_name(arg1);
  auto disks = xp::list_disks(doc);
  auto rewritten = xp::rewrite_domain_xml(doc);
  check_domain(rewritten);
  require(disks.ok() == rewritten.ok());

  auto dev = xp::first_free_target_dev(doc, bus);
  if (dev.ok()) require(!dev->empty());

  xp::RbdDisk disk;
  disk.pool = arg1;
  disk.image = arg2;
  disk.hosts = {{arg2, arg1}, {"10.0.0.1", "6789"}};
  disk.auth_username = (sel & 0x20) ? arg1 : "";
  disk.secret_uuid = (sel & 0x20) ? "5f0c3a56-0000-4000-8000-00000000abcd" : "";
  disk.serial = arg2;
  disk.cache = mode;
  disk.shareable = sel & 0x10;
  disk.target_bus = bus;
  disk.target_dev = dev.ok() ? *dev : arg2;
  auto built = xp::build_rbd_disk_xml(disk);
  if (built.ok()) {
    require(xp::validate_rbd_disk(disk).ok());
    require_root(*built, "disk");
    auto added = xp::add_disk(doc, *built);
    check_domain(added);
    if (added.ok()) {
      // The new disk is there, and taking it out again works.
      auto after = xp::list_disks(*added);
      require(after.ok() && disks.ok() && after->size() == disks->size() + 1);
      auto removed = xp::remove_disk(*added, {disk.target_dev, ""});
      check_domain(removed);
      require(removed.ok());
      auto listed = xp::list_disks(*removed);
      require(listed.ok() && listed->size() == disks->size());
    }
  }

  check_domain(xp::add_disk(doc, disk_xml));
  check_domain(xp::remove_disk(doc, which));
  check_domain(xp::set_disk_cache_mode(doc, which, mode));
  check_domain(xp::make_disk_shareable(doc, which, mode));
  check_domain(xp::set_disk_driver_type(doc, which, (sel & 0x08) ? "qcow2" : arg2));
  check_domain(xp::set_disk_auth(doc, which, arg2,
                                 (sel & 0x04) ? "5f0c3a56-0000-4000-8000-00000000abcd" : arg2));
  auto one = xp::disk_xml_of(doc, which);
  if (one.ok()) {
    require_root(*one, "disk");
    auto without = xp::remove_disk(doc, which);
    require(without.ok());
    check_domain(xp::add_disk(*without, *one));
  }
  return 0;
}
