#include "service/cinder/microversion.h"

#include <cctype>

namespace rbdvol::service::cinder {
namespace {

std::string trim_lower(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c != ' ' && c != '\t')
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    else if (!out.empty() && out.back() != ' ')
      out += ' ';
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

bool parse_int(const std::string& s, int* out) {
  if (s.empty() || s.size() > 4) return false;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

}  // namespace

std::optional<Microversion> requested_microversion(const std::string& header) {
  size_t start = 0;
  while (start <= header.size()) {
    size_t comma = header.find(',', start);
    if (comma == std::string::npos) comma = header.size();
    std::string item = trim_lower(header.substr(start, comma - start));
    start = comma + 1;
    if (item.rfind("volume ", 0) != 0) continue;
    std::string version = item.substr(7);
    if (version == "latest") return Microversion{3, kMaxMinor};
    size_t dot = version.find('.');
    Microversion v;
    if (dot == std::string::npos || !parse_int(version.substr(0, dot), &v.major) ||
        !parse_int(version.substr(dot + 1), &v.minor)) {
      return std::nullopt;
    }
    if (v.major != 3 || v.minor < kMinMinor || v.minor > kMaxMinor) return std::nullopt;
    return v;
  }
  return Microversion{};
}

}  // namespace rbdvol::service::cinder
