// Direct reads and writes of RBD images for the volume and snapshot tests:
// known bytes go in with librbd, and what a volume holds afterwards is read
// back the same way, without rbdvol in between. Images are held open through
// CephView's owned handles, so a failed REQUIRE leaves none open.
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
  ImagePtr img = ceph.open_writable("volumes", image);
  const ssize_t n = rbd_write(img.get(), offset, data.size(), data.data());
  REQUIRE(n == static_cast<ssize_t>(data.size()));
  REQUIRE(rbd_flush(img.get()) == 0);
}

inline std::string read_bytes(CephView& ceph, const std::string& image, uint64_t offset,
                              size_t length) {
  ImagePtr img = ceph.open("volumes", image);
  std::string out(length, '\0');
  const ssize_t n = rbd_read(img.get(), offset, length, out.data());
  REQUIRE(n == static_cast<ssize_t>(length));
  return out;
}

// Names of every RBD snapshot of a volume, hidden ones included.
inline std::vector<std::string> rbd_snapshots(CephView& ceph, const std::string& image) {
  return ceph.snapshots("volumes", image);
}

}  // namespace rbdvol::test
