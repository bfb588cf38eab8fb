// backend.auth: the cephx user and key of a backend, for a host that puts
// the key into a libvirt secret (rbdvol secret ensure). The only operation
// whose answer holds a key: hosts must never print or log it.
#include <openssl/evp.h>

#include <vector>

#include "config/keyring.h"
#include "plugin/ops/operations.h"
#include "plugin/ops/request.h"
#include "text/hex.h"

namespace rbdvol::plugin {

namespace {

std::string sha256_hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return text::hex_of(md, len);
}

std::string conf_value(Connection* cluster, const char* option) {
  return cluster->conf_get(option);
}

}  // namespace

Result<Json> backend_auth(Driver& driver, const Json& request, const Progress&) {
  auto id = required_string(request, "backend");
  if (!id.ok()) return id.status();
  auto found = driver.enabled_cluster(*id);
  if (!found.ok()) return found.status();
  Cluster* cluster = *found;
  auto rados = cluster->connect();
  if (!rados.ok()) return rados.status();
  const auto& b = cluster->backend();
  const std::string entity = "client." + b.rbd_user;
  // librados has already found the key to connect: in the config's keyring,
  // a "key" option, or the keyrings ceph.conf names.
  std::string key = conf_value(*rados, "key");
  std::vector<std::string> keyrings;
  if (!b.keyring.empty()) keyrings.push_back(b.keyring);
  std::string listed = conf_value(*rados, "keyring");
  for (size_t start = 0; start <= listed.size();) {
    size_t end = listed.find_first_of(",; ", start);
    if (end == std::string::npos) end = listed.size();
    if (end > start) keyrings.push_back(listed.substr(start, end - start));
    start = end + 1;
  }
  for (size_t i = 0; key.empty() && i < keyrings.size(); ++i) {
    // ceph.conf's default list names keyrings that usually do not exist: one
    // that cannot be read, or lacks the entity, is skipped like that.
    auto found_key = config::key_in_keyring(keyrings[i], entity);
    if (found_key.ok()) key = std::move(found_key).value();
  }
  if (key.empty()) {
    return Status::NotFound("no key for " + entity + " of backend " + b.id +
                            " in its keyring or ceph.conf");
  }
  return Json{{"backend", b.id},
              {"user", b.rbd_user},
              {"secret_uuid", b.libvirt_secret_uuid},
              {"key", key},
              {"key_sha256", sha256_hex(key)}};
}

}  // namespace rbdvol::plugin
