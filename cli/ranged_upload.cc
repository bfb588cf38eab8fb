#include "cli/ranged_upload.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <thread>

#include "cli/upload_ranges.h"

namespace rbdvol::cli {
namespace {

// Each connection sends its body through a buffer of this size.
constexpr size_t kSendBufferBytes = 1 << 20;
// Holes are declared in ranges of at most this (rounded to the chunk size),
// so that a huge sparse file's are spread over the connections.
constexpr uint64_t kMaxZeroBytes = 16ull << 30;
// Tries of one piece before the upload gives up (asking for --resume).
constexpr int kPieceTries = 5;
// The finish reads the whole image back for its SHA-256.
constexpr std::chrono::seconds kFinishTimeout{6 * 3600};
// How long a finish waits for a range a dead writer left `writing`.
constexpr std::chrono::seconds kFinishWritingWait{90};

const char* const kResumeHint =
    "; what the transfer confirmed is kept: rerun the same command with --resume to send the rest";

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

Result<nlohmann::json> json_answer(const HttpResponse& r, const std::string& what) {
  auto doc = nlohmann::json::parse(r.body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Status::Error(EPROTO, what + ": the answer is not a JSON object");
  }
  return doc;
}

// A request whose answer must have one of the `ok` statuses and a JSON
// object body.
Result<nlohmann::json> call(HttpConnection& conn, const std::string& method,
                            const std::string& target, const nlohmann::json& body,
                            std::initializer_list<unsigned> ok,
                            std::chrono::seconds timeout = std::chrono::seconds(0)) {
  const std::string what = method + " " + target;
  ASSIGN_OR_RETURN(auto r,
                   conn.request(method, target, body.is_null() ? "" : body.dump(), timeout));
  if (std::find(ok.begin(), ok.end(), r.status) == ok.end()) {
    return http_error(r.status, r.body, conn.origin() + ": " + what);
  }
  return json_answer(r, conn.origin() + ": " + what);
}

struct Transfer {
  uint64_t size = 0;
  uint64_t chunk_size = 0;
  std::string store;
  std::vector<ByteRange> confirmed;
};

Result<Transfer> parse_transfer(const nlohmann::json& doc) {
  try {
    Transfer t;
    t.size = doc.at("size").get<uint64_t>();
    t.chunk_size = doc.at("chunk_size").get<uint64_t>();
    if (doc.contains("store") && doc.at("store").is_string()) {
      t.store = doc.at("store").get<std::string>();
    }
    for (const auto& r : doc.at("confirmed")) {
      t.confirmed.push_back({r.at(0).get<uint64_t>(), r.at(1).get<uint64_t>()});
    }
    if (t.chunk_size == 0) return Status::Error(EPROTO, "the transfer's chunk_size is 0");
    return t;
  } catch (const nlohmann::json::exception& e) {
    return Status::Error(EPROTO, std::string("the transfer is not as documented: ") + e.what());
  }
}

// One piece of work for a connection: a range of data to send, or a hole to
// declare.
struct Piece {
  bool zero = false;
  ByteRange range;
};

// What a try of a piece came to: done, or an error and whether trying again
// may help (a connection lost, a 5xx, a 409 while a range is still being
// written).
struct Outcome {
  Status status;
  bool retry = false;
};

bool retryable_http(unsigned status) {
  return status == 408 || status == 409 || status == 429 || status >= 500;
}

class Upload {
 public:
  Upload(const RangedUploadOptions& options, HttpEndpoint endpoint, int fd, uint64_t size,
         std::string image_id, const UploadProgress& progress)
      : options_(options),
        endpoint_(std::move(endpoint)),
        fd_(fd),
        size_(size),
        transfer_path_("/v2/images/" + image_id + "/transfer"),
        progress_(progress) {}

  // Runs every piece over at most options.connections connections.
  Status run(std::deque<Piece> pieces, uint64_t confirmed_before) {
    queue_ = std::move(pieces);
    confirmed_ = confirmed_before;
    if (progress_) progress_(confirmed_, size_);
    const size_t n = std::min<size_t>(options_.connections, queue_.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < n; ++i) threads.emplace_back([this] { work(); });
    for (auto& t : threads) t.join();
    connections_used_ = n;
    return failure_;
  }

  nlohmann::json counters() const {
    return {{"connections", connections_used_},
            {"bytes_sent", bytes_sent_.load()},
            {"bytes_zeroed", bytes_zeroed_.load()},
            {"requests", requests_.load()},
            {"retries", retries_.load()}};
  }

 private:
  void work() {
    HttpConnection conn(endpoint_, options_.http);
    for (;;) {
      Piece piece;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stop_ || queue_.empty()) return;
        piece = queue_.front();
        queue_.pop_front();
      }
      Status s = run_piece(conn, piece);
      std::lock_guard<std::mutex> lock(mutex_);
      if (!s.ok()) {
        if (failure_.ok()) failure_ = s;
        stop_ = true;
        return;
      }
      confirmed_ += piece.range.length;
      if (progress_) progress_(confirmed_, size_);
    }
  }

  // The piece, tried again on a new connection with only what the transfer
  // still lacks of it while the failure may pass.
  Status run_piece(HttpConnection& conn, const Piece& piece) {
    std::vector<ByteRange> todo = {piece.range};
    for (int attempt = 1;; ++attempt) {
      Outcome o = try_ranges(conn, piece.zero, todo);
      if (o.status.ok()) return o.status;
      if (!o.retry || stop_) return o.status;
      if (attempt >= kPieceTries) {
        return o.status.Prefixed("gave up after " + std::to_string(kPieceTries) + " tries");
      }
      ++retries_;
      conn.close();
      // 0.5, 1, 2, 4 s: time for the server to see the old connection gone.
      std::this_thread::sleep_for(std::chrono::milliseconds(500 << (attempt - 1)));
      if (stop_) return o.status;
      auto t = call(conn, "GET", transfer_path_, nullptr, {200});
      if (!t.ok()) {
        todo = {piece.range};  // tried again whole: what is confirmed is refused with a 409
        continue;
      }
      auto transfer = parse_transfer(*t);
      if (!transfer.ok()) return transfer.status();
      todo = subtract_ranges({piece.range}, transfer->confirmed);
      if (todo.empty()) return Status::Ok();
    }
  }

  Outcome try_ranges(HttpConnection& conn, bool zero, const std::vector<ByteRange>& ranges) {
    for (const auto& r : ranges) {
      Outcome o = zero ? declare_hole(conn, r) : send_range(conn, r);
      if (!o.status.ok()) return o;
    }
    return {};
  }

  Outcome declare_hole(HttpConnection& conn, const ByteRange& r) {
    const std::string what = "POST " + transfer_path_ + "/zero";
    ++requests_;
    auto answer = conn.request("POST", transfer_path_ + "/zero",
                               nlohmann::json{{"offset", r.offset}, {"length", r.length}}.dump());
    if (!answer.ok()) return {answer.status(), true};
    if (answer->status != 200) {
      return {http_error(answer->status, answer->body,
                         conn.origin() + ": " + what + " " + content_range(r, size_)),
              retryable_http(answer->status)};
    }
    bytes_zeroed_ += r.length;
    return {};
  }

  Outcome send_range(HttpConnection& conn, const ByteRange& r) {
    const std::string what = "PUT " + transfer_path_ + " " + content_range(r, size_);
    ++requests_;
    bool local_failure = false;
    auto fill = [&](char* buf, size_t n, uint64_t offset) -> Status {
      if (stop_) {
        local_failure = true;
        return Status::Error(ECANCELED, "stopped: another connection failed");
      }
      size_t got = 0;
      while (got < n) {
        const ssize_t k =
            ::pread(fd_, buf + got, n - got, static_cast<off_t>(r.offset + offset + got));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
          local_failure = true;
          return Status::Error(k < 0 ? errno : EIO,
                               "read " + options_.path + ": " +
                                   (k < 0 ? std::strerror(errno) : "the file got shorter"));
        }
        got += static_cast<size_t>(k);
      }
      return Status::Ok();
    };
    auto answer = conn.request_streamed(
        "PUT", transfer_path_,
        {{"Content-Range", content_range(r, size_)}, {"Content-Type", "application/octet-stream"}},
        r.length, fill, kSendBufferBytes, [this](uint64_t n) { bytes_sent_ += n; });
    if (!answer.ok()) return {answer.status(), !local_failure};
    if (answer->status != 200) {
      return {http_error(answer->status, answer->body, conn.origin() + ": " + what),
              retryable_http(answer->status)};
    }
    return {};
  }

  const RangedUploadOptions& options_;
  const HttpEndpoint endpoint_;
  const int fd_;
  const uint64_t size_;
  const std::string transfer_path_;
  const UploadProgress& progress_;

  std::mutex mutex_;  // guards the queue, failure_, confirmed_ and progress_ calls
  std::deque<Piece> queue_;
  Status failure_;
  uint64_t confirmed_ = 0;
  std::atomic<bool> stop_{false};
  size_t connections_used_ = 0;
  std::atomic<uint64_t> bytes_sent_{0}, bytes_zeroed_{0}, requests_{0}, retries_{0};
};

// POST .../finish. A 409 while nothing is missing means a range is still
// being written (after its writer died, until the OSDs time out its watch):
// asked again for a while.
Result<nlohmann::json> finish(HttpConnection& conn, const std::string& transfer_path) {
  const auto deadline = std::chrono::steady_clock::now() + kFinishWritingWait;
  for (;;) {
    auto finished = call(conn, "POST", transfer_path + "/finish", nlohmann::json::object(), {200},
                         kFinishTimeout);
    if (finished.ok() || finished.status().err() != EBUSY ||
        std::chrono::steady_clock::now() > deadline) {
      return finished;
    }
    auto shown = call(conn, "GET", transfer_path, nullptr, {200});
    if (!shown.ok() || !shown->value("writing", false) ||
        shown->value("missing_bytes", uint64_t{1}) != 0) {
      return finished;
    }
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
}

// The id of the one image named `name` that is `saving`.
Result<std::string> saving_image(HttpConnection& conn, const std::string& name) {
  const std::string target = "/v2/images?name=" + query_escaped(name) + "&status=saving&limit=1000";
  ASSIGN_OR_RETURN(auto doc, call(conn, "GET", target, nullptr, {200}));
  std::vector<std::string> ids;
  try {
    for (const auto& image : doc.at("images")) {
      if (image.at("name") == name && image.at("status") == "saving") {
        ids.push_back(image.at("id").get<std::string>());
      }
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::Error(EPROTO,
                         conn.origin() + ": GET /v2/images: an unexpected answer: " + e.what());
  }
  if (ids.empty()) {
    return Status::NotFound("no image named '" + name + "' is saving at " + conn.origin() +
                            ": nothing to resume (run without --resume to start a new upload)");
  }
  if (ids.size() > 1) {
    std::string list;
    for (const auto& id : ids) list += (list.empty() ? "" : ", ") + id;
    return Status::Exists(std::to_string(ids.size()) + " images named '" + name + "' are saving (" +
                          list +
                          "): resume picks one; abandon the others (DELETE "
                          "/v2/images/ID/transfer) or delete them");
  }
  return ids[0];
}

}  // namespace

Status check_token(const std::string& token) {
  for (unsigned char c : token) {
    if (c <= 0x20 || c == 0x7f) {
      return Status::Invalid("the token holds a space or a control character");
    }
  }
  return Status::Ok();
}

Result<std::string> read_token_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    const int err = errno ? errno : ENOENT;
    return Status::Error(err, "cannot read the token file " + path + ": " + std::strerror(err));
  }
  std::string line;
  while (std::getline(in, line)) {
    const size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    const size_t last = line.find_last_not_of(" \t\r");
    std::string token = line.substr(first, last - first + 1);
    RETURN_IF_ERROR(check_token(token).Prefixed("the token file " + path));
    return token;
  }
  return Status::Invalid("the token file " + path + " holds no token");
}

Result<nlohmann::json> ranged_upload(const RangedUploadOptions& options,
                                     const UploadProgress& progress) {
  ASSIGN_OR_RETURN(auto endpoint, parse_http_url(options.url));
  FileDescriptor file(::open(options.path.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.get() < 0) {
    return Status::Error(errno, "cannot open " + options.path + ": " + std::strerror(errno));
  }
  struct stat st;
  if (::fstat(file.get(), &st) != 0) {
    return Status::Error(errno, "stat " + options.path + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
    return Status::Invalid(options.path + " is neither a regular file nor a block device");
  }
  const off_t end = ::lseek(file.get(), 0, SEEK_END);
  if (end < 0) return Status::Error(errno, "lseek " + options.path + ": " + std::strerror(errno));
  const uint64_t size = static_cast<uint64_t>(end);
  if (size == 0) return Status::Invalid(options.path + " is empty: there is nothing to upload");
  char magic[4] = {};
  if (::pread(file.get(), magic, sizeof magic, 0) == 4 && std::memcmp(magic, "QFI\xfb", 4) == 0) {
    return Status::Invalid(options.path +
                           " is a qcow2 image: a ranged upload (--url) takes raw data only; "
                           "upload it without --url (a qcow2 is converted), or convert it first "
                           "with qemu-img convert -O raw");
  }
  ASSIGN_OR_RETURN(auto extents, data_extents(file.get(), size));

  HttpConnection conn(endpoint, options.http);
  std::string image_id;
  if (options.resume) {
    ASSIGN_OR_RETURN(image_id, saving_image(conn, options.name));
  } else {
    ASSIGN_OR_RETURN(
        auto image,
        call(conn, "POST", "/v2/images",
             {{"name", options.name}, {"disk_format", "raw"}, {"container_format", "bare"}},
             {201}));
    if (!image.contains("id") || !image.at("id").is_string()) {
      return Status::Error(EPROTO, conn.origin() + ": POST /v2/images: the answer has no id");
    }
    image_id = image.at("id").get<std::string>();
  }
  const std::string transfer_path = "/v2/images/" + image_id + "/transfer";
  nlohmann::json begin = {{"size", size}};
  if (!options.store.empty()) begin["store"] = options.store;
  auto begun = call(conn, "POST", transfer_path, begin, {200, 201});
  if (!begun.ok()) {
    if (!options.resume) {
      // The image this run made has no data and never will: not left behind.
      (void)conn.request("DELETE", "/v2/images/" + image_id);
    }
    return begun.status().Prefixed("image " + image_id);
  }
  auto transfer = parse_transfer(*begun);
  if (!transfer.ok()) return transfer.status().Prefixed(conn.origin() + ": image " + image_id);
  if (transfer->size != size) {
    return Status::Error(EPROTO, "image " + image_id + ": the transfer is of " +
                                     std::to_string(transfer->size) + " bytes, not " +
                                     std::to_string(size));
  }

  const UploadPlan plan = plan_upload(extents, size, transfer->chunk_size, transfer->confirmed);
  const uint64_t piece_bytes =
      piece_size_for(total_length(plan.data), options.connections, transfer->chunk_size);
  const uint64_t zero_bytes =
      std::max(transfer->chunk_size, kMaxZeroBytes / transfer->chunk_size * transfer->chunk_size);
  std::deque<Piece> pieces;
  for (const auto& r : split_ranges(plan.zero, zero_bytes)) pieces.push_back({true, r});
  for (const auto& r : split_ranges(plan.data, piece_bytes)) pieces.push_back({false, r});

  conn.close();  // idle while the others work; opened again for the finish
  Upload upload(options, endpoint, file.get(), size, image_id, progress);
  Status sent = upload.run(std::move(pieces), plan.confirmed_bytes);
  if (!sent.ok()) {
    return Status::Error(sent.err(), "image " + image_id + ": " + sent.message() + kResumeHint);
  }
  auto finished = finish(conn, transfer_path);
  if (!finished.ok()) {
    return Status::Error(finished.status().err(),
                         "image " + image_id + ": " + finished.status().message() + kResumeHint);
  }
  nlohmann::json image = std::move(finished).value();
  nlohmann::json counters = upload.counters();
  counters["url"] = options.url;
  counters["store"] = transfer->store;
  counters["chunk_size"] = transfer->chunk_size;
  counters["bytes_confirmed_before"] = plan.confirmed_bytes;
  image["upload"] = counters;
  return image;
}

}  // namespace rbdvol::cli
