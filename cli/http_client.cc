#include "cli/http_client.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>

namespace rbdvol::cli {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

// The largest answer read: the API's JSON answers are small.
constexpr uint64_t kMaxAnswerBytes = 16ull << 20;
// How long an answer is waited for after the server stopped taking a body.
constexpr std::chrono::seconds kRefusalWait{5};

bool is_ip_address(const std::string& host) {
  beast::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

struct HttpConnection::Impl {
  HttpEndpoint endpoint;
  HttpOptions options;
  asio::io_context ioc;
  std::unique_ptr<ssl::context> tls;
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;

  Impl(HttpEndpoint e, HttpOptions o) : endpoint(std::move(e)), options(std::move(o)) {}

  std::string origin() const {
    return std::string(endpoint.tls ? "https://" : "http://") + endpoint.host_header;
  }

  bool is_open() const { return plain || secure; }

  beast::tcp_stream& lowest() { return secure ? beast::get_lowest_layer(*secure) : *plain; }

  void close() {
    if (is_open()) {
      beast::error_code ignored;
      lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
      lowest().close();
    }
    secure.reset();
    plain.reset();
    buffer.consume(buffer.size());
  }

  // Starts one asynchronous operation with `start(handler)` and runs it to its
  // end, the stream closed by its timer after `timeout`: synchronous I/O
  // with a deadline.
  template <class Start>
  beast::error_code run(Start&& start, std::chrono::seconds timeout) {
    lowest().expires_after(timeout);
    beast::error_code result = asio::error::operation_aborted;
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
  }

  template <class F>
  beast::error_code with_stream(F&& f) {
    if (secure) return f(*secure);
    return f(*plain);
  }

  Status failure(const std::string& what, const beast::error_code& ec) {
    int err = EIO;
    std::string text = ec.message();
    if (ec == beast::error::timeout) {
      err = ETIMEDOUT;
      text = "no answer within " + std::to_string(options.timeout.count()) + " s";
    } else if (ec == asio::error::eof || ec == http::error::end_of_stream ||
               ec == http::error::partial_message || ec == ssl::error::stream_truncated) {
      err = ECONNRESET;
      text = "the server closed the connection";
    } else if (ec.category() == asio::error::get_system_category()) {
      err = ec.value();
    } else if (ec.category() == asio::error::get_ssl_category() ||
               ec.category() == http::make_error_code(http::error::bad_version).category()) {
      err = EPROTO;
    }
    return Status::Error(err, origin() + ": " + what + ": " + text);
  }

  Status connect() {
    close();
    tcp::resolver resolver(ioc);
    beast::error_code ec;
    auto addresses = resolver.resolve(endpoint.host, endpoint.port, ec);
    if (ec) {
      return Status::Error(EHOSTUNREACH,
                           origin() + ": cannot resolve " + endpoint.host + ": " + ec.message());
    }
    if (endpoint.tls) {
      if (!tls) {
        tls = std::make_unique<ssl::context>(ssl::context::tls_client);
        SSL_CTX_set_min_proto_version(tls->native_handle(), TLS1_2_VERSION);
        tls->set_default_verify_paths(ec);
        if (ec) return failure("cannot load the system's CA certificates", ec);
      }
      secure = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ioc, *tls);
    } else {
      plain = std::make_unique<beast::tcp_stream>(ioc);
    }
    ec = run([&](auto handler) { lowest().async_connect(addresses, std::move(handler)); },
             options.timeout);
    if (ec) {
      close();
      return failure("connect", ec);
    }
    lowest().socket().set_option(tcp::no_delay(true), ec);
    if (secure) {
      if (!is_ip_address(endpoint.host)) {
        SSL_set_tlsext_host_name(secure->native_handle(), endpoint.host.c_str());
      }
      if (options.verify_tls) {
        secure->set_verify_mode(ssl::verify_peer);
        secure->set_verify_callback(ssl::host_name_verification(endpoint.host));
      } else {
        secure->set_verify_mode(ssl::verify_none);
      }
      ec = run(
          [&](auto handler) {
            secure->async_handshake(ssl::stream_base::client, std::move(handler));
          },
          options.timeout);
      if (ec) {
        const long verify = SSL_get_verify_result(secure->native_handle());
        Status s = failure("TLS handshake", ec);
        close();
        if (verify != X509_V_OK) {
          return Status::Error(EPROTO, s.message() + " (" + X509_verify_cert_error_string(verify) +
                                           "; the certificate is checked against the system's "
                                           "CA certificates, or $SSL_CERT_FILE's)");
        }
        return s;
      }
    }
    return Status::Ok();
  }

  template <class Body>
  void set_common_fields(http::request<Body>& req) {
    req.set(http::field::host, endpoint.host_header);
    req.set(http::field::user_agent, "rbdvol");
    req.set(http::field::accept, "application/json");
    if (!options.token.empty()) req.set("X-Auth-Token", options.token);
  }

  Result<HttpResponse> read_answer(const std::string& what, std::chrono::seconds timeout) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxAnswerBytes);
    beast::error_code ec = with_stream([&](auto& stream) {
      return run(
          [&](auto handler) { http::async_read(stream, buffer, parser, std::move(handler)); },
          timeout);
    });
    if (ec) {
      close();
      return failure("reading the answer to " + what, ec);
    }
    auto& res = parser.get();
    HttpResponse out;
    out.status = res.result_int();
    out.body = std::move(res.body());
    if (!res.keep_alive()) close();
    return out;
  }
};

HttpConnection::HttpConnection(HttpEndpoint endpoint, HttpOptions options)
    : impl_(std::make_unique<Impl>(std::move(endpoint), std::move(options))) {}

HttpConnection::~HttpConnection() { impl_->close(); }

void HttpConnection::close() { impl_->close(); }

std::string HttpConnection::origin() const { return impl_->origin(); }

Result<HttpResponse> HttpConnection::request(const std::string& method, const std::string& target,
                                             const std::string& json_body,
                                             std::chrono::seconds timeout) {
  Impl& c = *impl_;
  if (timeout.count() == 0) timeout = c.options.timeout;
  const std::string what = method + " " + target;
  if (!c.is_open()) RETURN_IF_ERROR(c.connect());
  http::request<http::string_body> req{http::string_to_verb(method), c.endpoint.base_path + target,
                                       11};
  c.set_common_fields(req);
  if (!json_body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = json_body;
  }
  req.prepare_payload();
  beast::error_code ec = c.with_stream([&](auto& stream) {
    return c.run([&](auto handler) { http::async_write(stream, req, std::move(handler)); },
                 c.options.timeout);
  });
  if (ec) {
    c.close();
    return c.failure("sending " + what, ec);
  }
  return c.read_answer(what, timeout);
}

Result<HttpResponse> HttpConnection::request_streamed(const std::string& method,
                                                      const std::string& target,
                                                      const Headers& headers, uint64_t length,
                                                      const BodyFill& fill, size_t buffer_bytes,
                                                      const std::function<void(uint64_t)>& sent) {
  Impl& c = *impl_;
  const std::string what = method + " " + target;
  if (!c.is_open()) RETURN_IF_ERROR(c.connect());
  http::request<http::empty_body> req{http::string_to_verb(method), c.endpoint.base_path + target,
                                      11};
  c.set_common_fields(req);
  for (const auto& [name, value] : headers) req.set(name, value);
  req.content_length(length);
  http::request_serializer<http::empty_body> header{req};
  beast::error_code ec = c.with_stream([&](auto& stream) {
    return c.run(
        [&](auto handler) { http::async_write_header(stream, header, std::move(handler)); },
        c.options.timeout);
  });
  // The body goes out through one fixed buffer, whatever its length.
  std::vector<char> buf(static_cast<size_t>(std::min<uint64_t>(buffer_bytes, length)));
  uint64_t done = 0;
  while (!ec && done < length) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), length - done));
    Status filled = fill(buf.data(), n, done);
    if (!filled.ok()) {
      c.close();
      return filled;
    }
    ec = c.with_stream([&](auto& stream) {
      return c.run(
          [&](auto handler) {
            asio::async_write(stream, asio::buffer(buf.data(), n), std::move(handler));
          },
          c.options.timeout);
    });
    if (!ec) {
      done += n;
      if (sent) sent(n);
    }
  }
  if (ec) {
    // A server that refuses a request may answer and close before it took
    // the body: its answer says why, where the write's error would not.
    Status s = c.failure("sending " + what, ec);
    if (c.is_open() && ec != beast::error::timeout) {
      auto refusal = c.read_answer(what, kRefusalWait);
      c.close();
      if (refusal.ok()) return refusal;
    }
    c.close();
    return s;
  }
  return c.read_answer(what, c.options.timeout);
}

}  // namespace rbdvol::cli
