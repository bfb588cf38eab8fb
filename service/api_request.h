// An HTTP request and answer as the API handlers see them: plain values, no
// Beast types, so that the routers and handlers are tested without sockets.
#pragma once

#include <map>
#include <string>
#include <vector>

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

struct ApiResponse {
  int status = 200;
  Headers headers;   // beyond Content-Type, x-openstack-request-id
  std::string body;  // JSON text, or empty
};

// Splits `target` into a decoded path, its segments and the decoded query.
// False when it is not a valid origin-form target: not starting with '/', a
// bad percent escape, or a decoded NUL or control character in the path.
bool parse_target(const std::string& target, ApiRequest* request);

}  // namespace rbdvol::service
