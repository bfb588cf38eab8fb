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
  return ceph.snapshots("volumes", image);
}

}  // namespace rbdvol::test
