#include "plugin/ops/request.h"

#include <cctype>
#include <limits>

#include "plugin/records/naming.h"

namespace rbdvol::plugin {

Result<std::string> required_string(const nlohmann::json& request, const char* key) {
  auto it = request.find(key);
  if (it == request.end() || !it->is_string() || it->get<std::string>().empty()) {
    return Status::Invalid(std::string("request field '") + key +
                           "' is required and must be a non-empty string");
  }
  return it->get<std::string>();
}

Result<std::string> optional_string(const nlohmann::json& request, const char* key) {
  auto it = request.find(key);
  if (it == request.end() || it->is_null()) return std::string();
  if (!it->is_string()) {
    return Status::Invalid(std::string("request field '") + key + "' must be a string");
  }
  return it->get<std::string>();
}

Result<bool> optional_bool(const nlohmann::json& request, const char* key, bool fallback) {
  auto it = request.find(key);
  if (it == request.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) {
    return Status::Invalid(std::string("request field '") + key + "' must be true or false");
  }
  return it->get<bool>();
}

Result<std::optional<uint64_t>> optional_offset(const nlohmann::json& request, const char* key) {
  auto it = request.find(key);
  if (it == request.end() || it->is_null()) return std::optional<uint64_t>();
  if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<int64_t>() >= 0)) {
    return Status::Invalid(std::string("request field '") + key +
                           "' must be a byte count: an integer of 0 or more");
  }
  return std::optional<uint64_t>(it->get<uint64_t>());
}

Result<uint64_t> required_offset(const nlohmann::json& request, const char* key) {
  auto value = optional_offset(request, key);
  if (!value.ok()) return value.status();
  if (!*value) {
    return Status::Invalid(std::string("request field '") + key +
                           "' is required: a byte count, an integer of 0 or more");
  }
  return **value;
}

Result<uint64_t> parse_size(const std::string& text) {
  size_t i = 0;
  uint64_t value = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    uint64_t digit = static_cast<uint64_t>(text[i] - '0');
    if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
      return Status::Invalid("size '" + text + "' is too large");
    }
    value = value * 10 + digit;
    ++i;
  }
  if (i == 0) return Status::Invalid("size '" + text + "' is not a number with a unit (10G, 512M)");
  std::string unit = text.substr(i);
  uint64_t mult = 1;
  if (!unit.empty()) {
    char u = static_cast<char>(std::toupper(static_cast<unsigned char>(unit[0])));
    std::string rest = unit.substr(1);
    if (rest != "" && rest != "B" && rest != "iB" && rest != "ib" && rest != "b") u = '?';
    switch (u) {
      case 'B':
        mult = rest.empty() ? 1 : 0;
        break;
      case 'K':
        mult = 1ULL << 10;
        break;
      case 'M':
        mult = 1ULL << 20;
        break;
      case 'G':
        mult = 1ULL << 30;
        break;
      case 'T':
        mult = 1ULL << 40;
        break;
      default:
        mult = 0;
    }
    if (mult == 0) {
      return Status::Invalid("size '" + text + "' has an unknown unit (use K, M, G or T)");
    }
  }
  if (value == 0) return Status::Invalid("size '" + text + "' must be larger than zero");
  if (value > std::numeric_limits<uint64_t>::max() / mult) {
    return Status::Invalid("size '" + text + "' is too large");
  }
  return value * mult;
}

Result<std::optional<uint64_t>> optional_size(const nlohmann::json& request, const char* key) {
  auto it = request.find(key);
  if (it == request.end() || it->is_null()) return std::optional<uint64_t>();
  if (it->is_number_integer() && !it->is_number_unsigned() && it->get<int64_t>() < 0) {
    return Status::Invalid(std::string("request field '") + key + "' must not be negative");
  }
  if (it->is_number_integer()) {
    if (it->get<uint64_t>() == 0) {
      return Status::Invalid(std::string("request field '") + key + "' must be larger than 0");
    }
    return std::optional<uint64_t>(it->get<uint64_t>());
  }
  if (it->is_string()) {
    auto size = parse_size(it->get<std::string>());
    if (!size.ok()) return size.status().Prefixed(std::string("request field '") + key + "'");
    return std::optional<uint64_t>(*size);
  }
  return Status::Invalid(std::string("request field '") + key +
                         "' must be a byte count or a size text like 10G");
}

Result<std::string> optional_name(const nlohmann::json& request, const char* key,
                                  const std::string& what) {
  auto it = request.find(key);
  if (it == request.end() || it->is_null()) return std::string();
  if (!it->is_string()) {
    return Status::Invalid(std::string("request field '") + key + "' must be a string");
  }
  RETURN_IF_ERROR(check_name(what, it->get<std::string>()));
  return it->get<std::string>();
}

Result<std::string> required_name(const nlohmann::json& request, const char* key,
                                  const std::string& what) {
  if (request.find(key) == request.end()) {
    return Status::Invalid(std::string("request field '") + key + "' (the " + what +
                           " name) is required");
  }
  return optional_name(request, key, what);
}

Result<std::optional<uint64_t>> optional_volume_size(const nlohmann::json& request,
                                                     const char* key) {
  ASSIGN_OR_RETURN(auto size, optional_size(request, key));
  if (!size) return size;
  if (*size % 512 != 0) {
    return Status::Invalid(std::string("request field '") + key + "': size " +
                           std::to_string(*size) +
                           " bytes is not a multiple of 512 (a disk sector)");
  }
  if (*size > kMaxVolumeBytes) {
    return Status::Invalid(std::string("request field '") + key + "': size " +
                           std::to_string(*size) + " bytes is larger than the largest volume, " +
                           std::to_string(kMaxVolumeBytes) +
                           " bytes (976.5 TiB: 256,000,000 objects of 4 MiB, the most an RBD "
                           "object map covers)");
  }
  return size;
}

}  // namespace rbdvol::plugin
