#include "service/api_request.h"

namespace rbdvol::service {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding; '+' is a space in a query only.
bool decode(const std::string& in, bool query, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = hex_value(in[i + 1]);
      int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (query && c == '+') {
      out->push_back(' ');
    } else {
      out->push_back(c);
    }
  }
  return true;
}

bool has_control(const std::string& s) {
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

}  // namespace

bool parse_target(const std::string& target, ApiRequest* request) {
  if (target.empty() || target[0] != '/') return false;
  size_t q = target.find('?');
  std::string raw_path = target.substr(0, q);
  // Segments are split before decoding, so an encoded '/' stays inside one.
  request->segments.clear();
  request->path.clear();
  size_t start = 1;
  while (start <= raw_path.size()) {
    size_t slash = raw_path.find('/', start);
    if (slash == std::string::npos) slash = raw_path.size();
    std::string segment;
    if (!decode(raw_path.substr(start, slash - start), false, &segment)) return false;
    if (has_control(segment)) return false;
    if (!segment.empty()) request->segments.push_back(segment);
    start = slash + 1;
  }
  if (!decode(raw_path, false, &request->path) || has_control(request->path)) return false;
  request->query.clear();
  if (q != std::string::npos) {
    std::string raw_query = target.substr(q + 1);
    size_t pos = 0;
    while (pos <= raw_query.size()) {
      size_t amp = raw_query.find('&', pos);
      if (amp == std::string::npos) amp = raw_query.size();
      std::string pair = raw_query.substr(pos, amp - pos);
      if (!pair.empty()) {
        size_t eq = pair.find('=');
        std::string key, value;
        if (!decode(pair.substr(0, eq), true, &key)) return false;
        if (eq != std::string::npos && !decode(pair.substr(eq + 1), true, &value)) return false;
        request->query.emplace(key, value);
      }
      pos = amp + 1;
    }
  }
  request->target = target;
  return true;
}

ApiResponse json_response(int status, const nlohmann::json& body) {
  return ApiResponse{
      status, {}, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

}  // namespace rbdvol::service
