// Cinder's microversions: "OpenStack-API-Version: volume 3.x".
#pragma once

#include <optional>
#include <string>

namespace rbdvol::service::cinder {

struct Microversion {
  int major = 3;
  int minor = 0;
  bool at_least(int m) const { return minor >= m; }
  std::string text() const { return std::to_string(major) + "." + std::to_string(minor); }
};

inline constexpr int kMinMinor = 0;
inline constexpr int kMaxMinor = 70;  // what python3-cinderclient 9.1 asks for

// The version the request asks for: 3.0 without a header (or without a
// "volume" entry in it), the newest for "latest"; nullopt for a version
// that is malformed or outside 3.0..3.kMaxMinor (Cinder answers 406).
// The header may list several services: "compute 2.1, volume 3.50".
std::optional<Microversion> requested_microversion(const std::string& header);

}  // namespace rbdvol::service::cinder
