// The pure parts of rbdvol's HTTP client (cli/http_client.h): the image API's
// URL, query escaping, and what an HTTP error answer means as a Status.
// Unit-tested (tests/unit/ranged_upload_test.cc).
#pragma once

#include <string>

#include "status/status.h"

namespace rbdvol::cli {

// The image API's base, from --url: http://HOST[:PORT][/PREFIX][/v2][/]
// or https://... . HOST may be a name, an IPv4 address or [IPv6].
struct HttpEndpoint {
  bool tls = false;
  std::string host;         // without brackets
  std::string port;         // "80" or "443" when the URL names none
  std::string base_path;    // "" or "/prefix", without "/v2" or a trailing "/"
  std::string host_header;  // HOST[:PORT] as the URL has it, IPv6 in brackets
};

// EINVAL naming what is wrong: another scheme, no host, a bad port, a query
// or fragment, user info, a control character or space.
Result<HttpEndpoint> parse_http_url(const std::string& url);

// `text` for a query value: unreserved characters as they are, every other
// byte as %XX.
std::string query_escaped(const std::string& text);

// The Status of an answer with HTTP status `status` (not 2xx) and body
// `body` to `what` ("POST /v2/images"): its errno from the status (400
// EINVAL, 401 and 403 EACCES, 404 ENOENT, 409 EBUSY, 413 EFBIG, 416 ERANGE,
// 501 ENOSYS, 503 EHOSTUNREACH, 504 ETIMEDOUT, other 5xx EIO, else EPROTO),
// its message "WHAT: STATUS: MESSAGE" with the message of a Glance
// (`{"error": {"message"}}`) or Cinder (`{"fault": {"message"}}`) error body,
// else the body's start.
Status http_error(unsigned status, const std::string& body, const std::string& what);

}  // namespace rbdvol::cli
