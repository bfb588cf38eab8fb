// Direct reads and writes of RBD images for the volume and snapshot tests:
// known bytes go in with librbd, and what a volume holds afterwards is read
// back the same way, without rbdvol in between.
#pragma once

#include <rbd/librbd.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/sandbox.h"

namespace rbdvol::test {

inline void write_bytes(CephView& ceph, const std::string& image, uint64_t offset,
                        const std::string& data) {
  rbd_image_t img = nullptr;
  REQUIRE(rbd_open(ceph.pool("volumes"), image.c_str(), &img, nullptr) == 0);
  ssize_t n = rbd_write(img, offset, data.size(), data.data());
  rbd_flush(img);
  rbd_close(img);
  REQUIRE(n == static_cast<ssize_t>(data.size()));
}

inline std::string read_bytes(CephView& ceph, const std::string& image, uint64_t offset,
                              size_t length) {
  rbd_image_t img = nullptr;
  REQUIRE(rbd_open_read_only(ceph.pool("volumes"), image.c_str(), &img, nullptr) == 0);
  std::string out(length, '\0');
  ssize_t n = rbd_read(img, offset, length, out.data());
  rbd_close(img);
  REQUIRE(n == static_cast<ssize_t>(length));
  return out;
}

// Names of every RBD snapshot of a volume, hidden ones included.
inline std::vector<std::string> rbd_snapshots(CephView& ceph, const std::string& image) {
  rbd_image_t img = nullptr;
  REQUIRE(rbd_open_read_only(ceph.pool("volumes"), image.c_str(), &img, nullptr) == 0);
  rbd_snap_info_t snaps[32];
  int max = 32;
  int n = rbd_snap_list(img, snaps, &max);
  rbd_close(img);
  REQUIRE(n >= 0);
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) names.emplace_back(snaps[i].name);
  rbd_snap_list_end(snaps);
  return names;
}

// Every RBD image in the volume pool of a backend.
inline size_t count_volume_images(CephView& ceph) {
  size_t max = 0;
  rbd_image_spec_t specs[1];
  int r = rbd_list2(ceph.pool("volumes"), specs, &max);
  REQUIRE((r == 0 || r == -ERANGE));
  return max;
}

// Removes volumes directly in Ceph when the test ends, however it ends:
// clones first (the reverse of creation), so their parents can go.
struct VolumeCleanup {
  std::vector<std::pair<std::string, std::string>> volumes;  // backend, image
  void add(const nlohmann::json& created) {
    volumes.emplace_back(created.at("backend").get<std::string>(),
                         created.at("image").get<std::string>());
  }
  ~VolumeCleanup() {
    for (auto it = volumes.rbegin(); it != volumes.rend(); ++it) {
      CephView ceph(it->first);
      ceph.remove_image("volumes", it->second);
    }
  }
};

// A copy of the sandbox's config with `line` added to [DEFAULT] (removed
// when the object goes).
class ConfigCopy {
 public:
  explicit ConfigCopy(const std::string& line) {
    std::ifstream in(std::getenv("RBDVOL_CONFIG"));
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    auto at = text.find("[DEFAULT]\n");
    REQUIRE(at != std::string::npos);
    text.insert(at + 10, line + "\n");
    path_ = "/tmp/rbdvol-test-config-" + std::to_string(::getpid()) + ".conf";
    std::ofstream(path_) << text;
  }
  ~ConfigCopy() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace rbdvol::test
