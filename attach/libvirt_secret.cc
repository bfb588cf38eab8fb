#include "attach/libvirt_secret.h"

#include <pugixml.hpp>

#include "xmlpatch/xmlpatch.h"

namespace rbdvol::attach {

namespace {

// libvirt keeps a ceph secret's value as the raw key bytes (it encodes them
// in base64 again for QEMU), as `virsh secret-set-value` does without --plain.
Result<std::string> base64_decoded(const std::string& text) {
  auto value_of = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  unsigned int bits = 0;
  int nbits = 0;
  size_t padding = 0;
  for (char c : text) {
    if (c == '=') {
      ++padding;
      continue;
    }
    int v = value_of(c);
    // The message says what is wrong, never what the key is.
    if (v < 0 || padding > 0) return Status::Invalid("the backend's key is not valid base64");
    bits = (bits << 6) | static_cast<unsigned int>(v);
    nbits += 6;
    if (nbits >= 8) {
      nbits -= 8;
      out += static_cast<char>((bits >> nbits) & 0xff);
    }
  }
  if (padding > 2 || (text.size() % 4) != 0) {
    return Status::Invalid("the backend's key is not valid base64");
  }
  return out;
}

std::string digest_note(const std::string& digest) { return "key sha256:" + digest; }

}  // namespace

Result<std::string> ensure_ceph_secret(Hypervisor& hv, const CephSecret& secret) {
  if (secret.uuid.empty()) return Status::Invalid("no libvirt secret uuid given");
  if (secret.key.empty()) return Status::Invalid("the backend's key is empty");
  auto raw_key = base64_decoded(secret.key);
  if (!raw_key.ok()) return raw_key.status();
  auto existing = hv.secret_xml(secret.uuid);
  if (!existing.ok() && existing.status().err() != ENOENT) return existing.status();
  std::string usage = secret.usage_name;
  bool same = false;
  if (existing.ok()) {
    pugi::xml_document doc;
    if (!doc.load_string(existing->c_str())) {
      return Status::Error(EIO,
                           "libvirt gave secret " + secret.uuid + " an XML that does not parse");
    }
    auto root = doc.child("secret");
    const std::string type = root.child("usage").attribute("type").value();
    if (type != "ceph") {
      return Status::Exists("libvirt secret " + secret.uuid + " exists with usage type '" + type +
                            "', not ceph: undefine it or name another uuid in the config");
    }
    // libvirt refuses to change a secret's usage name: keep the one it has.
    usage = root.child("usage").child_value("name");
    same = std::string(root.attribute("private").value()) == "yes" &&
           std::string(root.attribute("ephemeral").value()) == "no" &&
           std::string(root.child_value("description")).find(digest_note(secret.key_digest)) !=
               std::string::npos;
  }
  if (same) return std::string("unchanged");
  const std::string xml =
      "<secret ephemeral='no' private='yes'>\n  <uuid>" + xmlpatch::escape_xml(secret.uuid) +
      "</uuid>\n  <description>" +
      xmlpatch::escape_xml(secret.description + " (" + digest_note(secret.key_digest) + ")") +
      "</description>\n  <usage type='ceph'>\n    <name>" + xmlpatch::escape_xml(usage) +
      "</name>\n  </usage>\n</secret>\n";
  Status s = hv.define_secret(xml);
  if (!s.ok()) return s;
  s = hv.set_secret_value(secret.uuid, *raw_key);
  for (auto& c : raw_key.value()) c = 0;
  if (!s.ok()) return s;
  return std::string(existing.ok() ? "updated" : "created");
}

}  // namespace rbdvol::attach
