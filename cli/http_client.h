// One keep-alive HTTP/1.1 connection to the image API (Boost.Beast, plain or
// TLS), used by one thread at a time: small JSON requests, and requests whose
// body is streamed from a callback through a fixed buffer. Every network
// operation has a timeout; a connection that failed is closed and opened
// again by the next request.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cli/http_url.h"
#include "status/status.h"

namespace rbdvol::cli {

struct HttpResponse {
  unsigned status = 0;
  std::string body;
};

struct HttpOptions {
  std::string token;       // sent as X-Auth-Token when not empty
  bool verify_tls = true;  // https: the certificate and host name against the system's CAs
  std::chrono::seconds timeout{120};  // each connect, handshake, write and read
};

class HttpConnection {
 public:
  HttpConnection(HttpEndpoint endpoint, HttpOptions options);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  using Headers = std::vector<std::pair<std::string, std::string>>;

  // `method` `target` (a path under the endpoint's base) with `json_body`
  // (none when empty), the answer read whole. Any HTTP status is an ok
  // result; the Status is an error only when no answer came: ECONNREFUSED,
  // ETIMEDOUT, ECONNRESET, EPROTO (a TLS or HTTP failure), ... naming the
  // endpoint. `timeout` replaces the options' for this request when not zero.
  Result<HttpResponse> request(const std::string& method, const std::string& target,
                               const std::string& json_body = "",
                               std::chrono::seconds timeout = std::chrono::seconds(0));

  // A request with a body of `length` bytes, which `fill(buf, n, offset)`
  // puts into `buf` (n bytes, at `offset` within the body) for each
  // `buffer_bytes` or fewer the connection sends; its error ends the request
  // with that error and the connection closed. `sent(n)` is told of each
  // piece of the body written. When writing fails, an answer the server had
  // sent already (a refusal) is read for up to a few seconds and returned.
  using BodyFill = std::function<Status(char* buf, size_t n, uint64_t offset)>;
  Result<HttpResponse> request_streamed(const std::string& method, const std::string& target,
                                        const Headers& headers, uint64_t length,
                                        const BodyFill& fill, size_t buffer_bytes,
                                        const std::function<void(uint64_t)>& sent);

  // Closes the connection now; the next request opens it again.
  void close();

  // "http://HOST:PORT" for messages.
  std::string origin() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rbdvol::cli
