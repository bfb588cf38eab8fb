// rbdvold's HTTP front end on Boost.Beast, after Ceph RGW's Beast frontend:
// one session per connection (plain TCP or TLS), headers read first under
// limits, then the body; every request is handed to a bounded pool of worker
// threads (the handlers call the plugin, which blocks), and the answer is
// written back on the connection's strand.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "service/api_request.h"
#include "status/status.h"

namespace rbdvol::service {

// Runs on a worker thread; must not throw (the server answers 500 if it does).
using RequestHandler = std::function<ApiResponse(ApiRequest&)>;
// Count of background jobs still running (long operations); shutdown waits
// for them within the grace.
using BusyCount = std::function<size_t()>;

// Whether a request's body is streamed to its handler (ApiRequest::read_body)
// rather than read whole first; asked once its headers are in.
using StreamsBody = std::function<bool(const std::string& method, const std::string& path)>;

// One address the server listens on, and what answers there.
struct Listener {
  std::string listen;  // "HOST:PORT"
  RequestHandler handler;
  StreamsBody streams;        // empty: every body is read whole (max_body_bytes)
  uint64_t stream_limit = 0;  // the largest streamed body (413 beyond)
};

class HttpServer {
 public:
  // Binds every listener's address, sharing the workers, limits, TLS and log.
  // Loads the TLS certificate and key when configured. EADDRINUSE and
  // friends, or EINVAL naming a bad address or certificate.
  static Result<std::unique_ptr<HttpServer>> make(const config::Service& service,
                                                  std::vector<Listener> listeners);
  // One listener on `service.listen`, bodies read whole.
  static Result<std::unique_ptr<HttpServer>> make(const config::Service& service,
                                                  RequestHandler handler);
  ~HttpServer();

  // The port listener `i` bound (useful with port 0).
  uint16_t port(size_t i = 0) const;
  // True when every bound address is a loopback one.
  bool loopback() const;
  bool tls() const;

  // Serves until SIGTERM or SIGINT: then stops accepting, closes idle
  // connections, lets requests in flight and `busy` work finish within
  // shutdown_grace seconds, and returns the number of requests and jobs
  // still running when the grace ran out (0 on a clean stop).
  size_t run(const BusyCount& busy);

  struct Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A log line: one per request, and the service's own messages, on stderr.
void log_line(const std::string& line);

// `text` with control characters, '"' and '\' escaped and cut to `max`
// bytes: safe to put in a log line whatever a client sent.
std::string printable(const std::string& text, size_t max = 256);

}  // namespace rbdvol::service
