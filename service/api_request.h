// An HTTP request and answer as the API handlers see them: plain values, no
// Beast types, so that the routers and handlers are tested without sockets.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "status/status.h"

namespace rbdvol::service {

// Header names are kept lower case.
using Headers = std::map<std::string, std::string>;

struct ApiRequest {
  std::string method;                             // "GET", "POST", ...
  std::string target;                             // as sent: path and query
  std::string path;                               // percent-decoded path, without the query
  std::vector<std::string> segments;              // path split at '/', empty ones dropped
  std::multimap<std::string, std::string> query;  // percent-decoded
  Headers headers;
  std::string body;
  std::string request_id;  // "req-<uuid>", made by the server
  std::string base_url;    // "http://127.0.0.1:8776", for links

  // A streamed body (the listener's `streams` said so for this request):
  // `body` stays empty and the handler reads the body with `read_body`, on
  // its worker thread, in pieces of at most `len` bytes. It returns the bytes
  // read, 0 at the end of the body, or a negative errno: -ETIMEDOUT (no byte
  // within request_timeout), -EMSGSIZE (longer than the listener's limit),
  // -ECONNRESET (the client went away or sent a malformed body). Empty when
  // the body was read whole.
  std::function<int64_t(char* buf, size_t len)> read_body;
  // The Content-Length the client announced (none when chunked or absent).
  std::optional<uint64_t> content_length;

  // The header's value, or "" when absent. `name` in lower case.
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
  // The first value of a query parameter, or "" when absent.
  std::string param(const std::string& name) const {
    auto it = query.find(name);
    return it == query.end() ? std::string() : it->second;
  }
  bool has_param(const std::string& name) const { return query.count(name) > 0; }
};

// Writes `len` bytes of a streamed answer; false when the client is gone
// (the stream then stops).
using StreamWriter = std::function<bool(const char* data, size_t len)>;

struct ApiResponse {
  int status = 200;
  Headers headers;   // beyond Content-Type, x-openstack-request-id
  std::string body;  // JSON text, or empty

  // A streamed answer of exactly `stream_length` bytes (Content-Type
  // application/octet-stream unless `headers` sets one): after the status
  // line and headers are sent, the server calls `stream` on the worker
  // thread. An error, or fewer bytes than announced, closes the connection
  // (the client sees a short body) and is logged.
  std::function<Status(const StreamWriter& write)> stream;
  uint64_t stream_length = 0;

  ApiResponse() = default;
  ApiResponse(int s, Headers h, std::string b)
      : status(s), headers(std::move(h)), body(std::move(b)) {}
};

// Splits `target` into a decoded path, its segments and the decoded query.
// False when it is not a valid origin-form target: not starting with '/', a
// bad percent escape, or a decoded NUL or control character in the path.
bool parse_target(const std::string& target, ApiRequest* request);

// An answer of `status` with `body` as its JSON text (invalid UTF-8 in a
// string is replaced, never thrown on).
ApiResponse json_response(int status, const nlohmann::json& body);

}  // namespace rbdvol::service
