// Reading fields of a JSON request with errors that name the field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "status/status.h"

namespace rbdvol::plugin {

// EINVAL when missing or not a non-empty string.
Result<std::string> required_string(const nlohmann::json& request, const char* key);
// Empty when missing; EINVAL when present but not a string.
Result<std::string> optional_string(const nlohmann::json& request, const char* key);
Result<bool> optional_bool(const nlohmann::json& request, const char* key, bool fallback);
// A byte offset or count that may be 0: a JSON unsigned integer. nullopt
// when missing or null; EINVAL naming the field for anything else.
Result<std::optional<uint64_t>> optional_offset(const nlohmann::json& request, const char* key);
// The same, and EINVAL when missing.
Result<uint64_t> required_offset(const nlohmann::json& request, const char* key);
// A byte count: a JSON number, or a text with a unit ("10G", "512M", "4096").
Result<std::optional<uint64_t>> optional_size(const nlohmann::json& request, const char* key);

// A name field: empty when missing or null; EINVAL (check_name in
// records/naming.h) when present but empty, too long, not UTF-8 or holding a
// control character. `what` is "volume", "image" or "snapshot".
Result<std::string> optional_name(const nlohmann::json& request, const char* key,
                                  const std::string& what);
// The same, and EINVAL when missing.
Result<std::string> required_name(const nlohmann::json& request, const char* key,
                                  const std::string& what);

// The largest volume: 256,000,000 objects of 4 MiB (976.5 TiB), the most an
// RBD object map covers (librbd refuses a larger image with object-map on);
// QEMU serves far larger disks.
inline constexpr uint64_t kMaxVolumeBytes = 256000000ULL << 22;
// A volume size field (optional_size), also EINVAL when it is not a
// multiple of 512 (a disk's sector) or larger than kMaxVolumeBytes.
Result<std::optional<uint64_t>> optional_volume_size(const nlohmann::json& request,
                                                     const char* key);

// "10G" -> 10 GiB. Units K, M, G, T (binary, optional trailing "iB"/"B"),
// none = bytes. EINVAL for anything else, zero, or an overflow.
Result<uint64_t> parse_size(const std::string& text);

}  // namespace rbdvol::plugin
