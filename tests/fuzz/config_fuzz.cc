// libFuzzer target for the config loader (config/config.h). The input is the
// text of a config file. It is parsed from memory and, written to a file,
// loaded from disk; the target traps when:
//   - the two disagree (one fails, or they fail with different messages);
//   - an error has no errno or no message, or a message does not start with
//     the file's path (every message names the file), or the parser let an
//     exception out ("internal error");
//   - an accepted config breaks what docs/config.md promises: at least one
//     backend, ids unique and valid, default_backend among them, required
//     fields set, positive numbers, a UUID where one is given, known cache
//     modes, image_store "same" or a backend, a backend for every disk type.
// Sanitizers report everything else (overflows, leaks, UB).
#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

#include "config/config.h"

namespace cfg = rbdvol::config;

namespace {

void require(bool ok) {
  if (!ok) __builtin_trap();
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

bool is_uuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

void check_error(const rbdvol::Status& s, const std::string& path) {
  require(s.err() != 0);
  require(!s.message().empty());
  require(starts_with(s.message(), path));
  require(!starts_with(s.message(), path + ": internal error"));
}

void check_config(const cfg::Config& c, const std::string& path) {
  require(c.path == path);
  require(!c.backends.empty());
  std::set<std::string> ids;
  for (const auto& b : c.backends) {
    require(!b.id.empty() && b.id != "DEFAULT");
    require(ids.insert(b.id).second);
    require(!b.ceph_conf.empty() && !b.volume_pool.empty() && !b.image_pool.empty());
    require(!b.rbd_user.empty());
    require(std::isfinite(b.weight) && b.weight > 0);
    require(b.libvirt_secret_uuid.empty() || is_uuid(b.libvirt_secret_uuid));
    require(c.find_backend(b.id) == &b);
  }
  require(c.find_backend(c.default_backend) != nullptr);
  require(c.rados_connect_timeout > 0 && c.rados_osd_op_timeout > 0 && c.max_clone_depth > 0 &&
          c.copy_wait_timeout > 0);
  static const std::set<std::string> kCaches = {"none", "directsync", "writethrough", "writeback",
                                                "unsafe"};
  for (const auto& t : c.disk_types) {
    require(!t.name.empty());
    require(kCaches.count(t.cache) == 1);
    require(!t.multiattach || t.cache == "none" || t.cache == "directsync");
    require(t.image_store == "same" || c.find_backend(t.image_store) != nullptr);
    bool matched = false;
    for (const auto& b : c.backends) matched = matched || cfg::backend_matches(b, t.tags);
    require(matched);
    require(c.find_disk_type(t.name) != nullptr);
  }
}

// One file per fuzzing process, rewritten for every input.
const std::string& temp_path() {
  static const std::string path = [] {
    const char* dir = std::getenv("TMPDIR");
    std::string p = std::string(dir && *dir ? dir : "/tmp") + "/rbdvol-config-fuzz." +
                    std::to_string(getpid()) + ".conf";
    return p;
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::string& path = temp_path();

  auto parsed = cfg::parse_config(text, path);
  if (parsed.ok()) {
    check_config(*parsed, path);
  } else {
    check_error(parsed.status(), path);
  }

  std::FILE* f = std::fopen(path.c_str(), "wb");
  require(f != nullptr);
  require(std::fwrite(text.data(), 1, text.size(), f) == text.size());
  require(std::fclose(f) == 0);
  auto loaded = cfg::load_config_file(path);
  std::remove(path.c_str());
  require(loaded.ok() == parsed.ok());
  if (!loaded.ok()) require(loaded.status().message() == parsed.status().message());
  return 0;
}
