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
// A byte count: a JSON number, or a text with a unit ("10G", "512M", "4096").
Result<std::optional<uint64_t>> optional_size(const nlohmann::json& request, const char* key);

// "10G" -> 10 GiB. Units K, M, G, T (binary, optional trailing "iB"/"B"),
// none = bytes. EINVAL for anything else, zero, or an overflow.
Result<uint64_t> parse_size(const std::string& text);

}  // namespace rbdvol::plugin
