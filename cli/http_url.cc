#include "cli/http_url.h"

#include <cerrno>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace rbdvol::cli {
namespace {

bool is_digits(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

Result<HttpEndpoint> parse_http_url(const std::string& url) {
  for (unsigned char c : url) {
    if (c <= 0x20 || c == 0x7f)
      return Status::Invalid("the URL holds a space or control character");
  }
  HttpEndpoint e;
  std::string rest;
  if (url.compare(0, 7, "http://") == 0) {
    rest = url.substr(7);
  } else if (url.compare(0, 8, "https://") == 0) {
    e.tls = true;
    rest = url.substr(8);
  } else {
    return Status::Invalid("the URL must start with http:// or https://");
  }
  if (rest.find_first_of("?#") != std::string::npos) {
    return Status::Invalid("the URL must have no query or fragment");
  }
  const size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  std::string path = slash == std::string::npos ? "" : rest.substr(slash);
  if (authority.find('@') != std::string::npos) {
    return Status::Invalid(
        "the URL must name no user (the token comes from $OS_AUTH_TOKEN or "
        "--token-file)");
  }
  e.host_header = authority;
  std::string port;
  if (!authority.empty() && authority[0] == '[') {
    const size_t close = authority.find(']');
    if (close == std::string::npos) return Status::Invalid("the URL's IPv6 address lacks its ']'");
    e.host = authority.substr(1, close - 1);
    const std::string after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return Status::Invalid("the URL has text after its IPv6 address");
      port = after.substr(1);
      if (port.empty()) return Status::Invalid("the URL's port is empty");
    }
  } else {
    const size_t colon = authority.find(':');
    e.host = authority.substr(0, colon);
    if (colon != std::string::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) return Status::Invalid("the URL's port is empty");
    }
  }
  if (e.host.empty()) return Status::Invalid("the URL names no host");
  if (!port.empty()) {
    if (!is_digits(port) || port.size() > 5 || std::stoul(port) == 0 || std::stoul(port) > 65535) {
      return Status::Invalid("the URL's port '" + port + "' is not a port number");
    }
    e.port = port;
  } else {
    e.port = e.tls ? "443" : "80";
  }
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (path.size() >= 3 && path.compare(path.size() - 3, 3, "/v2") == 0) {
    path.resize(path.size() - 3);
  }
  while (!path.empty() && path.back() == '/') path.pop_back();
  e.base_path = path;
  return e;
}

std::string query_escaped(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

Status http_error(unsigned status, const std::string& body, const std::string& what) {
  int err = EPROTO;
  switch (status) {
    case 400:
      err = EINVAL;
      break;
    case 401:
    case 403:
      err = EACCES;
      break;
    case 404:
      err = ENOENT;
      break;
    case 409:
      err = EBUSY;
      break;
    case 413:
      err = EFBIG;
      break;
    case 416:
      err = ERANGE;
      break;
    case 501:
      err = ENOSYS;
      break;
    case 503:
      err = EHOSTUNREACH;
      break;
    case 504:
      err = ETIMEDOUT;
      break;
    default:
      if (status >= 500 && status < 600) err = EIO;
  }
  std::string message;
  const auto doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_object()) {
    for (const auto& [key, value] : doc.items()) {
      if (value.is_object() && value.contains("message") && value.at("message").is_string()) {
        message = value.at("message").get<std::string>();
        break;
      }
    }
  }
  if (message.empty()) {
    message = body.substr(0, 200);
    while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) {
      message.pop_back();
    }
  }
  std::string text = what + ": " + std::to_string(status);
  if (!message.empty()) text += ": " + message;
  return Status::Error(err, text);
}

}  // namespace rbdvol::cli
