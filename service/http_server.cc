#include "service/http_server.h"

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <vector>

namespace rbdvol::service {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

std::mutex log_mutex;

std::string new_request_id() {
  thread_local boost::uuids::random_generator generate;
  return "req-" + boost::uuids::to_string(generate());
}

}  // namespace

void log_line(const std::string& line) {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::lock_guard<std::mutex> lock(log_mutex);
  std::fprintf(stderr, "%s rbdvold: %s\n", stamp, line.c_str());
  std::fflush(stderr);
}

std::string printable(const std::string& text, size_t max) {
  std::string out;
  for (char c : text) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '"' || c == '\\') {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

// What every session needs of the server.
// Members are in this order so that the io_context goes first, with the
// sessions its pending handlers hold, while what they use still exists.
struct HttpServer::Impl {
  config::Service config;
  std::optional<ssl::context> tls;
  asio::thread_pool workers;

  std::atomic<bool> stopping{false};
  std::atomic<size_t> connections{0};
  std::atomic<size_t> in_flight{0};  // requests read and not yet answered

  // Sessions waiting for a request, closed at shutdown.
  std::mutex idle_mutex;
  uint64_t next_session = 0;
  std::map<uint64_t, std::function<void()>> idle_closers;

  asio::io_context ioc;

  // One listening address and what answers there.
  struct Endpoint {
    Listener listener;
    tcp::acceptor acceptor;
    std::string scheme_host;  // "http://127.0.0.1:8776"
    bool loopback = false;
  };
  std::deque<Endpoint> endpoints;

  explicit Impl(const config::Service& c) : config(c), workers(static_cast<size_t>(c.workers)) {}

  void accept(Endpoint& endpoint);
  void close_idle() {
    std::map<uint64_t, std::function<void()>> closers;
    {
      std::lock_guard<std::mutex> lock(idle_mutex);
      closers.swap(idle_closers);
    }
    for (auto& [id, close] : closers) close();
  }
};

namespace {

template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(HttpServer::Impl& server, HttpServer::Impl::Endpoint& endpoint, Stream stream)
      : server_(server),
        endpoint_(endpoint),
        stream_(std::move(stream)),
        request_timer_(lowest().get_executor()) {
    ++server_.connections;
    std::lock_guard<std::mutex> lock(server_.idle_mutex);
    id_ = server_.next_session++;
  }
  ~Session() {
    unmark_idle();
    --server_.connections;
  }

  void start() {
    if constexpr (std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>) {
      lowest().expires_after(std::chrono::seconds(server_.config.request_timeout));
      stream_.async_handshake(ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) return;  // not TLS, or too slow: dropped
                                self->wait_for_request();
                              });
    } else {
      wait_for_request();
    }
  }

 private:
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  void mark_idle() {
    std::lock_guard<std::mutex> lock(server_.idle_mutex);
    std::weak_ptr<Session> weak = this->shared_from_this();
    server_.idle_closers[id_] = [weak, this_ex = lowest().get_executor()] {
      asio::post(this_ex, [weak] {
        if (auto self = weak.lock()) self->lowest().socket().close();
      });
    };
  }
  void unmark_idle() {
    std::lock_guard<std::mutex> lock(server_.idle_mutex);
    server_.idle_closers.erase(id_);
  }

  // Waits up to idle_timeout for the first byte of a request; the request
  // itself then has request_timeout to arrive whole.
  void wait_for_request() {
    if (server_.stopping) return close();
    if (buffer_.size() > 0) return read_header();
    mark_idle();
    lowest().expires_after(std::chrono::seconds(server_.config.idle_timeout));
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                              self->unmark_idle();
                              if (ec) return self->close();
                              self->buffer_.commit(n);
                              self->read_header();
                            });
  }

  // The whole request has request_timeout to arrive. Our own timer rather
  // than the stream's expiry, which would close the socket: a plain-HTTP
  // client that is too slow still gets its 408.
  void read_header() {
    started_ = Clock::now();
    stream_parser_.reset();
    body_done_ = false;
    body_broken_ = false;
    direct_ = false;
    direct_left_ = 0;
    parser_.emplace();
    parser_->header_limit(server_.config.max_header_bytes);
    // The larger limit until the headers say which applies (on_header):
    // Beast checks a Content-Length against it as soon as it reads it.
    parser_->body_limit(
        std::max<uint64_t>(server_.config.max_body_bytes, endpoint_.listener.stream_limit));
    lowest().expires_never();
    timed_out_ = false;
    request_timer_.expires_after(std::chrono::seconds(server_.config.request_timeout));
    request_timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (ec) return;  // cancelled: the request arrived
      self->timed_out_ = true;
      beast::error_code ignored;
      self->lowest().socket().cancel(ignored);
    });
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) return self->read_failed(ec);
                              self->on_header();
                            });
  }

  void on_header() {
    auto& req = parser_->get();
    const bool streamed = streams_body();
    const uint64_t limit =
        streamed ? endpoint_.listener.stream_limit : server_.config.max_body_bytes;
    auto length = parser_->content_length();
    parser_->body_limit(limit);
    if (length && *length > limit) {
      return answer_error(413, "overLimit",
                          "the request body is larger than " + std::to_string(limit) + " bytes (" +
                              (streamed ? "the size cap" : "max_body_bytes") + ")");
    }
    if (beast::iequals(req[http::field::expect], "100-continue")) {
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
      http::async_write(
          stream_, *cont,
          [self = this->shared_from_this(), cont, streamed](beast::error_code ec, size_t) {
            if (ec) return self->close();
            streamed ? self->dispatch_streamed() : self->read_body();
          });
      return;
    }
    streamed ? dispatch_streamed() : read_body();
  }

  bool streams_body() {
    if (!endpoint_.listener.streams) return false;
    auto& req = parser_->get();
    std::string target(req.target());
    std::string path = target.substr(0, target.find('?'));
    return endpoint_.listener.streams(std::string(req.method_string()), path);
  }

  // The body is left on the connection; the handler reads it through
  // read_body, each read with request_timeout to bring a byte.
  void dispatch_streamed() {
    request_timer_.cancel();
    if (timed_out_) return read_failed(beast::error::timeout);
    stream_parser_.emplace(std::move(*parser_));
    stream_parser_->body_limit(endpoint_.listener.stream_limit);
    body_done_ = stream_parser_->is_done();
    auto request = make_request(stream_parser_->get());
    if (auto length = stream_parser_->content_length()) request->content_length = *length;
    // A body of known length is read straight into the handler's buffers
    // (read_direct); a chunked one goes through the parser.
    direct_left_ = stream_parser_->chunked() ? 0 : stream_parser_->content_length().value_or(0);
    direct_ = !stream_parser_->chunked() && stream_parser_->content_length().has_value();
    std::weak_ptr<Session> weak = this->shared_from_this();
    request->read_body = [weak](char* buf, size_t len) -> int64_t {
      auto self = weak.lock();
      return self ? self->read_some(buf, len) : -ECONNRESET;
    };
    run_handler(request);
  }

  // Runs on a worker thread: waits for one read on the connection's strand.
  int64_t read_some(char* buf, size_t len) {
    if (body_done_ || len == 0) return 0;
    if (body_broken_) return -ECONNRESET;
    std::promise<std::pair<beast::error_code, size_t>> done;
    auto result = done.get_future();
    if (direct_) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(len, direct_left_));
      asio::post(lowest().get_executor(), [this, buf, want, &done] {
        // What came in with the headers first, then the socket itself.
        const size_t buffered = std::min(buffer_.size(), want);
        asio::buffer_copy(asio::buffer(buf, buffered), buffer_.data());
        buffer_.consume(buffered);
        read_direct(buf, buffered, want, [&done](beast::error_code ec, size_t n) {
          done.set_value({ec, n});
        });
      });
      auto [ec, n] = result.get();
      direct_left_ -= n;
      if (direct_left_ == 0) body_done_ = true;
      if (!ec) return static_cast<int64_t>(n);
      body_broken_ = true;
      if (ec == beast::error::timeout) return -ETIMEDOUT;
      return -ECONNRESET;
    }
    asio::post(lowest().get_executor(), [this, buf, len, &done] {
      auto& body = stream_parser_->get().body();
      body.data = buf;
      body.size = len;
      body.more = true;
      lowest().expires_after(std::chrono::seconds(server_.config.request_timeout));
      http::async_read(stream_, buffer_, *stream_parser_,
                       [this, len, &done](beast::error_code ec, size_t) {
                         if (ec == http::error::need_buffer) ec = {};
                         done.set_value({ec, len - stream_parser_->get().body().size});
                       });
    });
    auto [ec, n] = result.get();
    if (stream_parser_->is_done()) body_done_ = true;
    if (!ec) return static_cast<int64_t>(n);
    body_broken_ = true;
    if (ec == beast::error::timeout) return -ETIMEDOUT;
    if (ec == http::error::body_limit) return -EMSGSIZE;
    return -ECONNRESET;
  }

  // Fills buf[got, want) from the socket, each read with request_timeout
  // to bring a byte, then calls `done` with the bytes in buf (on the strand).
  template <typename Done>
  void read_direct(char* buf, size_t got, size_t want, Done done) {
    if (got == want) return done(beast::error_code(), got);
    lowest().expires_after(std::chrono::seconds(server_.config.request_timeout));
    stream_.async_read_some(asio::buffer(buf + got, want - got),
                            [this, buf, got, want, done](beast::error_code ec, size_t n) mutable {
                              if (ec) return done(ec, got + n);
                              read_direct(buf, got + n, want, std::move(done));
                            });
  }

  void read_body() {
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) {
                       self->request_timer_.cancel();
                       if (ec) return self->read_failed(ec);
                       self->dispatch();
                     });
  }

  void read_failed(beast::error_code ec) {
    request_timer_.cancel();
    if (timed_out_) {
      if constexpr (std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>) {
        return close();  // a TLS stream whose read was cancelled is not written to
      }
      return answer_error(408, "requestTimeout",
                          "the request did not arrive whole within " +
                              std::to_string(server_.config.request_timeout) +
                              " s (request_timeout)");
    }
    if (ec == http::error::body_limit) {
      return answer_error(413, "overLimit",
                          "the request body is larger than " +
                              std::to_string(server_.config.max_body_bytes) +
                              " bytes (max_body_bytes)");
    }
    if (ec == http::error::header_limit) {
      return answer_error(431, "badRequest",
                          "the request headers are larger than " +
                              std::to_string(server_.config.max_header_bytes) +
                              " bytes (max_header_bytes)");
    }
    if (ec == beast::error::timeout) {
      return answer_error(408, "requestTimeout",
                          "the request did not arrive whole within " +
                              std::to_string(server_.config.request_timeout) +
                              " s (request_timeout)");
    }
    if (ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
        ec == http::error::partial_message) {
      return close();
    }
    return answer_error(400, "badRequest", "malformed HTTP request: " + ec.message());
  }

  // An answer the server makes itself, before any handler; the connection
  // is closed after it, as what follows on it cannot be trusted.
  void answer_error(int status, const std::string& kind, const std::string& message) {
    request_timer_.cancel();
    ApiResponse response;
    response.status = status;
    response.body = nlohmann::json{{kind, {{"message", message}, {"code", status}}}}.dump();
    request_id_ = new_request_id();
    method_ = parser_ && parser_->is_header_done() ? std::string(parser_->get().method_string())
                                                   : std::string("-");
    target_ = parser_ && parser_->is_header_done() ? std::string(parser_->get().target()) : "-";
    keep_alive_ = false;
    ++server_.in_flight;
    write(std::move(response));
  }

  void dispatch() {
    auto request = make_request(parser_->get());
    request->body = std::move(parser_->get().body());
    run_handler(request);
  }

  template <class Body>
  std::shared_ptr<ApiRequest> make_request(http::request<Body>& req) {
    auto request = std::make_shared<ApiRequest>();
    request->method = std::string(req.method_string());
    request->request_id = new_request_id();
    request_id_ = request->request_id;
    method_ = request->method;
    target_ = std::string(req.target());
    keep_alive_ = req.keep_alive();
    for (const auto& field : req) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      request->headers[name] = std::string(field.value());
    }
    request->base_url = endpoint_.scheme_host;
    std::string host = request->header("host");
    if (!host.empty() && host.find_first_of(" /\\\"<>") == std::string::npos) {
      request->base_url = (server_.tls ? "https://" : "http://") + host;
    }
    if (!parse_target(target_, request.get())) {
      request->target.clear();
      request->segments.clear();
      request->path = "\x01";  // the router answers 400 for it
    }
    return request;
  }

  void run_handler(std::shared_ptr<ApiRequest> request) {
    ++server_.in_flight;
    asio::post(server_.workers, [self = this->shared_from_this(), request] {
      ApiResponse response;
      try {
        response = self->endpoint_.listener.handler(*request);
      } catch (const std::exception& e) {
        log_line(request->request_id + " internal error: " + printable(e.what()));
        response = ApiResponse();
        response.status = 500;
        response.body = "{\"computeFault\": {\"message\": \"internal error\", \"code\": 500}}";
      }
      // A streamed body the handler did not read to its end leaves the
      // connection in an unknown place: it is closed after the answer.
      if (self->stream_parser_ && !self->body_done_) self->keep_alive_ = false;
      if (response.stream) return self->write_streamed(std::move(response));
      asio::post(self->lowest().get_executor(), [self, response = std::move(response)]() mutable {
        self->write(std::move(response));
      });
    });
  }

  // Runs `start(handler)` on the strand and waits for the handler's error.
  beast::error_code on_strand(
      const std::function<void(std::function<void(beast::error_code)>)>& start) {
    std::promise<beast::error_code> done;
    auto result = done.get_future();
    asio::post(lowest().get_executor(), [&] {
      lowest().expires_after(std::chrono::seconds(server_.config.request_timeout));
      start([&done](beast::error_code ec) { done.set_value(ec); });
    });
    return result.get();
  }

  // On the worker thread: the header, then the handler's bytes as it makes
  // them, each write with request_timeout to leave.
  void write_streamed(ApiResponse response) {
    auto self = this->shared_from_this();
    http::response<http::empty_body> res;
    res.version(11);
    res.result(static_cast<unsigned>(response.status));
    res.set(http::field::server, "rbdvold");
    res.set(http::field::content_type, "application/octet-stream");
    for (const auto& [name, value] : response.headers) res.set(name, value);
    res.set("x-openstack-request-id", request_id_);
    keep_alive_ = keep_alive_ && !server_.stopping;
    res.keep_alive(keep_alive_);
    res.content_length(response.stream_length);
    status_ = response.status;
    http::response_serializer<http::empty_body> serializer(res);
    beast::error_code ec = on_strand([&](std::function<void(beast::error_code)> done) {
      http::async_write_header(stream_, serializer,
                               [done](beast::error_code e, size_t) { done(e); });
    });
    uint64_t sent = 0;
    std::string failure;
    if (!ec) {
      Status s = response.stream([&](const char* data, size_t len) {
        if (len == 0) return true;
        if (sent + len > response.stream_length) {
          failure = "the answer grew past its announced length";
          return false;
        }
        ec = on_strand([&](std::function<void(beast::error_code)> done) {
          asio::async_write(stream_, asio::buffer(data, len),
                            [done](beast::error_code e, size_t) { done(e); });
        });
        if (ec) return false;
        sent += len;
        return true;
      });
      if (!s.ok() && failure.empty()) failure = s.message();
      if (failure.empty() && !ec && sent != response.stream_length) {
        failure = "the answer ended after " + std::to_string(sent) + " of " +
                  std::to_string(response.stream_length) + " bytes";
      }
    }
    if (!failure.empty()) {
      log_line(request_id_ + " streamed answer cut: " + printable(failure));
      keep_alive_ = false;
      if (!ec) ec = asio::error::connection_aborted;
    }
    asio::post(lowest().get_executor(), [self, ec] { self->finished(ec); });
  }

  void write(ApiResponse response) {
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(11);
    res->result(static_cast<unsigned>(response.status));
    res->set(http::field::server, "rbdvold");
    for (const auto& [name, value] : response.headers) res->set(name, value);
    res->set("x-openstack-request-id", request_id_);
    if (!response.body.empty()) res->set(http::field::content_type, "application/json");
    res->body() = std::move(response.body);
    keep_alive_ = keep_alive_ && !server_.stopping;
    res->keep_alive(keep_alive_);
    res->prepare_payload();
    status_ = response.status;
    lowest().expires_after(std::chrono::seconds(server_.config.request_timeout));
    http::async_write(stream_, *res,
                      [self = this->shared_from_this(), res](beast::error_code ec, size_t) {
                        self->finished(ec);
                      });
  }

  void finished(beast::error_code ec) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_);
    log_line(request_id_ + " " + printable(method_, 16) + " " + printable(target_) + " " +
             std::to_string(status_) + " " + std::to_string(ms.count()) + "ms" +
             (ec ? " (answer not sent: " + ec.message() + ")" : ""));
    --server_.in_flight;
    if (ec || !keep_alive_) return close();
    wait_for_request();
  }

  void close() {
    beast::error_code ec;
    if constexpr (std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>) {
      // No TLS close_notify round trip: it could wait on a client that left.
      lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    } else {
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    }
    lowest().socket().close(ec);
  }

  HttpServer::Impl& server_;
  HttpServer::Impl::Endpoint& endpoint_;
  Stream stream_;
  asio::steady_timer request_timer_;
  bool timed_out_ = false;
  uint64_t id_ = 0;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::request_parser<http::buffer_body>> stream_parser_;
  std::atomic<bool> body_done_{false}, body_broken_{false};
  // A streamed body of known length: read past the parser, this much left.
  bool direct_ = false;
  uint64_t direct_left_ = 0;
  Clock::time_point started_ = Clock::now();
  std::string request_id_, method_, target_;
  bool keep_alive_ = false;
  int status_ = 0;
};

}  // namespace

void HttpServer::Impl::accept(Endpoint& endpoint) {
  endpoint.acceptor.async_accept(
      asio::make_strand(ioc), [this, &endpoint](beast::error_code ec, tcp::socket socket) {
        if (ec) {
          if (ec == asio::error::operation_aborted || stopping) return;
          log_line("accept failed: " + ec.message());
          return accept(endpoint);
        }
        if (stopping) return;
        if (connections >= static_cast<size_t>(config.max_connections)) {
          // Over the limit: a short answer, then the connection is closed.
          auto sock = std::make_shared<tcp::socket>(std::move(socket));
          if (!tls) {
            const std::string body =
                "{\"overLimit\": {\"message\": \"too many connections (max_connections); try "
                "again later\", \"code\": 503}}";
            auto busy = std::make_shared<std::string>(
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                "Connection: close\r\nRetry-After: 1\r\nx-openstack-request-id: " +
                new_request_id() + "\r\nContent-Length: " + std::to_string(body.size()) +
                "\r\n\r\n" + body);
            asio::async_write(*sock, asio::buffer(*busy), [sock, busy](beast::error_code, size_t) {
              beast::error_code ignored;
              sock->shutdown(tcp::socket::shutdown_both, ignored);
              sock->close(ignored);
            });
          } else {
            beast::error_code ignored;
            sock->close(ignored);
          }
          log_line("connection refused: max_connections (" +
                   std::to_string(config.max_connections) + ") reached");
          return accept(endpoint);
        }
        if (tls) {
          std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
              *this, endpoint,
              beast::ssl_stream<beast::tcp_stream>(beast::tcp_stream(std::move(socket)), *tls))
              ->start();
        } else {
          std::make_shared<Session<beast::tcp_stream>>(*this, endpoint,
                                                       beast::tcp_stream(std::move(socket)))
              ->start();
        }
        accept(endpoint);
      });
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() {
  impl_->ioc.stop();
  impl_->workers.join();
}

namespace {

// Binds `listen` for `endpoint`.
Status bind_endpoint(HttpServer::Impl::Endpoint& endpoint, bool tls) {
  const std::string& listen = endpoint.listener.listen;
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return Status::Invalid("listen " + listen + ": no port");
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  uint16_t port = 0;
  try {
    port = static_cast<uint16_t>(std::stoi(listen.substr(colon + 1)));
  } catch (const std::exception&) {
    return Status::Invalid("listen " + listen + ": bad port");
  }
  beast::error_code ec;
  asio::ip::address address = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) {
    return Status::Invalid("listen " + listen + ": '" + host + "' is not an IP address (" +
                           ec.message() + ")");
  }
  endpoint.loopback = address.is_loopback();
  tcp::endpoint where(address, port);
  endpoint.acceptor.open(where.protocol(), ec);
  if (!ec) endpoint.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) endpoint.acceptor.bind(where, ec);
  if (!ec) endpoint.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Error(ec.value(), "cannot listen on " + listen + ": " + ec.message());
  }
  uint16_t bound = endpoint.acceptor.local_endpoint().port();
  std::string shown = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  endpoint.scheme_host =
      std::string(tls ? "https://" : "http://") + shown + ":" + std::to_string(bound);
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::make(const config::Service& service,
                                                     RequestHandler handler) {
  std::vector<Listener> one(1);
  one[0].listen = service.listen;
  one[0].handler = std::move(handler);
  return make(service, std::move(one));
}

Result<std::unique_ptr<HttpServer>> HttpServer::make(const config::Service& service,
                                                     std::vector<Listener> listeners) {
  auto impl = std::make_unique<Impl>(service);
  beast::error_code ec;
  if (!service.tls_cert.empty()) {
    impl->tls.emplace(ssl::context::tls_server);
    impl->tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                           ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                           ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
    impl->tls->use_certificate_chain_file(service.tls_cert, ec);
    if (ec) return Status::Invalid("tls_cert " + service.tls_cert + ": " + ec.message());
    impl->tls->use_private_key_file(service.tls_key, ssl::context::pem, ec);
    if (ec) return Status::Invalid("tls_key " + service.tls_key + ": " + ec.message());
  }
  for (auto& listener : listeners) {
    impl->endpoints.push_back(
        Impl::Endpoint{std::move(listener), tcp::acceptor(impl->ioc), "", false});
    RETURN_IF_ERROR(bind_endpoint(impl->endpoints.back(), impl->tls.has_value()));
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

uint16_t HttpServer::port(size_t i) const {
  return impl_->endpoints.at(i).acceptor.local_endpoint().port();
}
bool HttpServer::loopback() const {
  for (const auto& e : impl_->endpoints) {
    if (!e.loopback) return false;
  }
  return true;
}
bool HttpServer::tls() const { return impl_->tls.has_value(); }

size_t HttpServer::run(const BusyCount& busy) {
  Impl& impl = *impl_;
  asio::signal_set signals(impl.ioc, SIGTERM, SIGINT);
  std::atomic<size_t> left{0};
  Clock::time_point deadline{};
  asio::steady_timer poll(impl.ioc);
  std::function<void()> wait_for_work = [&] {
    impl.close_idle();
    size_t pending = impl.in_flight + (busy ? busy() : 0);
    if (pending == 0 || Clock::now() >= deadline) {
      left = pending;
      impl.ioc.stop();
      return;
    }
    poll.expires_after(std::chrono::milliseconds(50));
    poll.async_wait([&](beast::error_code) { wait_for_work(); });
  };
  signals.async_wait([&](beast::error_code ec, int signal) {
    if (ec) return;
    log_line(std::string(signal == SIGTERM ? "SIGTERM" : "SIGINT") +
             ": no new connections; waiting up to " + std::to_string(impl.config.shutdown_grace) +
             " s for work in flight");
    impl.stopping = true;
    beast::error_code ignored;
    for (auto& e : impl.endpoints) e.acceptor.close(ignored);
    deadline = Clock::now() + std::chrono::seconds(impl.config.shutdown_grace);
    wait_for_work();
  });
  for (auto& e : impl.endpoints) impl.accept(e);
  std::vector<std::thread> io_threads;
  for (int i = 0; i < 2; ++i) {
    io_threads.emplace_back([&impl] { impl.ioc.run(); });
  }
  for (auto& t : io_threads) t.join();
  return left;
}

}  // namespace rbdvol::service
