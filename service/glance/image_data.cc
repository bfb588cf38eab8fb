#include "service/glance/image_data.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

extern char** environ;

namespace rbdvol::service::glance {
namespace {

constexpr size_t kPiece = 4 << 20;

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr);
  }
  void update(const void* data, size_t len) { EVP_DigestUpdate(ctx_.get(), data, len); }
  std::string hex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_.get(), digest, &len);
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
      out += digits[digest[i] >> 4];
      out += digits[digest[i] & 15];
    }
    return out;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx_;
};

// SHA-256 of a stream, computed on a thread of its own: `update` copies the
// bytes into a queue (waiting while it holds kMaxQueued of them) and goes
// back to the stream at once; `hex` waits for the queue to empty.
class BackgroundSha256 {
 public:
  static constexpr size_t kMaxQueued = 16 << 20;
  BackgroundSha256() : thread_([this] { run(); }) {}
  ~BackgroundSha256() { stop(); }
  BackgroundSha256(const BackgroundSha256&) = delete;
  BackgroundSha256& operator=(const BackgroundSha256&) = delete;

  void update(const char* data, size_t len) {
    std::unique_lock<std::mutex> lock(mu_);
    space_.wait(lock, [&] { return queued_ < kMaxQueued; });
    std::string piece;
    if (!spare_.empty()) {
      piece = std::move(spare_.back());
      spare_.pop_back();
    }
    piece.assign(data, len);
    queue_.push_back(std::move(piece));
    queued_ += len;
    work_.notify_one();
  }
  std::string hex() {
    stop();
    return sha_.hex();
  }

 private:
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
      work_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
  }
  void run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      work_.wait(lock, [&] { return done_ || !queue_.empty(); });
      if (queue_.empty()) return;  // done_ and nothing left
      std::string piece = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      sha_.update(piece.data(), piece.size());
      lock.lock();
      queued_ -= piece.size();
      spare_.push_back(std::move(piece));  // its memory serves the next update
      space_.notify_one();
    }
  }

  std::mutex mu_;
  std::condition_variable work_, space_;
  std::deque<std::string> queue_;
  std::vector<std::string> spare_;
  size_t queued_ = 0;
  bool done_ = false;
  Sha256 sha_;
  std::thread thread_;  // last: starts once the rest is made
};

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

// A file removed when it goes out of scope.
struct TempFile {
  std::string path;
  ~TempFile() {
    if (!path.empty()) ::unlink(path.c_str());
  }
};

Status make_staging_dir(const config::Config& config) {
  const std::string& dir = config.service.image_staging_dir;
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status::Error(errno, "cannot make image_staging_dir " + dir + ": " + strerror(errno));
  }
  return Status::Ok();
}

// Runs argv (no shell); its stdout in *out, its stderr in the error.
Status run_command(const std::vector<std::string>& argv, std::string* out) {
  int pipes[2][2];
  if (::pipe2(pipes[0], O_CLOEXEC) != 0) return Status::Error(errno, "pipe");
  if (::pipe2(pipes[1], O_CLOEXEC) != 0) {
    ::close(pipes[0][0]);
    ::close(pipes[0][1]);
    return Status::Error(errno, "pipe");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipes[0][1], 1);
  posix_spawn_file_actions_adddup2(&actions, pipes[1][1], 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int r = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipes[0][1]);
  ::close(pipes[1][1]);
  std::string output, errors;
  if (r == 0) {
    // stdout is small (JSON of qemu-img info); stderr after it.
    char buf[4096];
    for (int which = 0; which < 2; ++which) {
      for (;;) {
        ssize_t n = ::read(pipes[which][0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        (which == 0 ? output : errors).append(buf, static_cast<size_t>(n));
      }
    }
  }
  ::close(pipes[0][0]);
  ::close(pipes[1][0]);
  if (r != 0) {
    return Status::Error(r == ENOENT ? ENOENT : r,
                         argv[0] + " cannot be run: " + strerror(r) +
                             (r == ENOENT ? " (is qemu-utils installed?)" : ""));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    while (!errors.empty() && (errors.back() == '\n' || errors.back() == '\r')) errors.pop_back();
    return Status::Invalid(argv[0] + " " + argv[1] + " failed: " +
                           (errors.empty() ? "exit status " + std::to_string(status) : errors));
  }
  if (out) *out = std::move(output);
  return Status::Ok();
}

// Copies `read` into a new file `path`: at most `cap` bytes.
Result<uint64_t> spool(const Reader& read, const std::string& path, uint64_t cap) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (fd.fd < 0) return Status::Error(errno, "cannot create " + path + ": " + strerror(errno));
  std::vector<char> buf(kPiece);
  uint64_t total = 0;
  for (;;) {
    int64_t n = read(buf.data(), buf.size());
    if (n < 0) {
      return Status::Error(EPIPE, "the data stopped after " + std::to_string(total) +
                                      " bytes: " + strerror(static_cast<int>(-n)));
    }
    if (n == 0) break;
    total += static_cast<uint64_t>(n);
    if (total > cap) {
      return Status::Error(EFBIG, "the image data is larger than " + std::to_string(cap) +
                                      " bytes (image_size_cap)");
    }
    for (int64_t done = 0; done < n;) {
      ssize_t w = ::write(fd.fd, buf.data() + done, static_cast<size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return Status::Error(errno, "cannot write " + path + ": " + strerror(errno));
      done += w;
    }
  }
  return total;
}

// The qcow2 at `path` checked (no backing file, no external data file) and
// converted into a raw file `raw`.
Status convert_qcow2(const std::string& path, const std::string& raw) {
  std::string info;
  RETURN_IF_ERROR(run_command({"qemu-img", "info", "--output=json", "-f", "qcow2", path}, &info)
                      .Prefixed("the data is not a valid qcow2 image"));
  Json j = Json::parse(info, nullptr, false);
  if (!j.is_object()) return Status::Invalid("qemu-img info gave no JSON for the qcow2 data");
  if (j.contains("backing-filename") || j.contains("full-backing-filename")) {
    return Status::Invalid("the qcow2 image has a backing file (" +
                           j.value("backing-filename", std::string("?")) +
                           "); only self-contained images are accepted");
  }
  const Json data = j.value("format-specific", Json::object()).value("data", Json::object());
  if (data.contains("data-file")) {
    return Status::Invalid(
        "the qcow2 image has an external data file; only self-contained "
        "images are accepted");
  }
  return run_command({"qemu-img", "convert", "-f", "qcow2", "-O", "raw", "-S", "4k", path, raw},
                     nullptr)
      .Prefixed("cannot convert the qcow2 image to raw");
}

bool is_qcow2_magic(const std::string& head) {
  return head.size() >= 4 && head.compare(0, 4, "QFI\xfb") == 0;
}

// Streams raw bytes into a transfer of `id`.
Result<Stored> write_raw(ImageService& images, const std::string& id, const std::string& backend,
                         const Reader& read, uint64_t cap, std::optional<uint64_t> announced,
                         bool refuse_qcow2) {
  RETURN_IF_ERROR(begin_transfer(images, id, backend, announced.value_or(0), 0).status());
  BackgroundSha256 sha;
  uint64_t total = 0;
  int read_error = 0;
  std::string head, refused;
  host::PluginHost::ReadFn reader = [&](void* buf, uint64_t len) -> int64_t {
    int64_t n = read(static_cast<char*>(buf), static_cast<size_t>(std::min<uint64_t>(len, kPiece)));
    if (n < 0) {
      read_error = static_cast<int>(-n);
      return n;
    }
    if (refuse_qcow2 && head.size() < 4) {
      head.append(static_cast<char*>(buf), static_cast<size_t>(std::min<int64_t>(n, 4)));
      if (is_qcow2_magic(head)) {
        refused = "the data is a qcow2 image but disk_format is raw";
        return -EINVAL;
      }
    }
    total += static_cast<uint64_t>(n);
    if (total > cap) {
      refused = "the image data is larger than " + std::to_string(cap) + " bytes (image_size_cap)";
      return -EFBIG;
    }
    sha.update(static_cast<const char*>(buf), static_cast<size_t>(n));
    return n;
  };
  auto written = images.call_stream(
      "image.write", {{"id", id}, {"backend", backend}, {"offset", 0}}, reader, nullptr);
  if (!refused.empty()) return Status::Error(total > cap ? EFBIG : EINVAL, refused);
  if (read_error != 0) {
    return Status::Error(EPIPE, "the upload stopped after " + std::to_string(total) +
                                    " bytes: " + strerror(read_error));
  }
  RETURN_IF_ERROR(written.status());
  if (announced && total != *announced) {
    return Status::Error(EPIPE, "the body had " + std::to_string(total) +
                                    " bytes, Content-Length said " + std::to_string(*announced));
  }
  if (total == 0) return Status::Invalid("the image data is empty");
  RETURN_IF_ERROR(
      images.call("image.transfer_finish", {{"id", id}, {"backend", backend}, {"size", total}})
          .status());
  return Stored{total, sha.hex()};
}

}  // namespace

Result<Json> begin_transfer(ImageService& images, const std::string& id, const std::string& backend,
                            uint64_t size, uint64_t chunk_size) {
  Json begin = {{"id", id}, {"backend", backend}};
  if (size > 0) begin["size"] = size;
  if (chunk_size > 0) begin["chunk_size"] = chunk_size;
  auto begun = images.call("image.transfer_begin", begin);
  if (begun.ok() || begun.status().err() != EEXIST) return begun;
  auto shown = images.call("image.show", {{"id", id}});
  if (shown.ok()) {
    for (const auto& l : shown->value("locations", Json::array())) {
      if (l.value("backend", "") == backend) {
        return Status::Exists("image " + id + " already has data in store " + backend);
      }
    }
  }
  auto removed = images.call("image.delete", {{"id", id}, {"backend", backend}});
  if (!removed.ok() && removed.status().err() != ENOENT) {
    return removed.status().Prefixed("a partial upload of image " + id + " is in store " + backend +
                                     " and cannot be removed");
  }
  return images.call("image.transfer_begin", begin);
}

std::string staging_path(const config::Config& config, const std::string& id) {
  return config.service.image_staging_dir + "/" + id + ".staged";
}

Result<Reader> file_reader(const std::string& path, uint64_t* size) {
  auto fd = std::make_shared<Fd>(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd->fd < 0) return Status::Error(errno, "cannot open " + path + ": " + strerror(errno));
  struct stat st {};
  if (::fstat(fd->fd, &st) != 0) return Status::Error(errno, "cannot stat " + path);
  if (size) *size = static_cast<uint64_t>(st.st_size);
  return Reader([fd](char* buf, size_t len) -> int64_t {
    for (;;) {
      ssize_t n = ::read(fd->fd, buf, len);
      if (n < 0 && errno == EINTR) continue;
      return n < 0 ? -errno : n;
    }
  });
}

Result<Stored> store_image_data(ImageService& images, const std::string& id,
                                const std::string& backend, const std::string& disk_format,
                                const Reader& read, uint64_t cap,
                                std::optional<uint64_t> announced) {
  if (disk_format != "qcow2") return write_raw(images, id, backend, read, cap, announced, true);
  RETURN_IF_ERROR(make_staging_dir(images.config()));
  TempFile qcow2{staging_path(images.config(), id) + ".qcow2." + images.instance()};
  TempFile raw{staging_path(images.config(), id) + ".raw." + images.instance()};
  ASSIGN_OR_RETURN(uint64_t spooled, spool(read, qcow2.path, cap));
  if (announced && spooled != *announced) {
    return Status::Error(EPIPE, "the body had " + std::to_string(spooled) +
                                    " bytes, Content-Length said " + std::to_string(*announced));
  }
  RETURN_IF_ERROR(convert_qcow2(qcow2.path, raw.path));
  ::unlink(qcow2.path.c_str());
  uint64_t size = 0;
  ASSIGN_OR_RETURN(Reader from_raw, file_reader(raw.path, &size));
  return write_raw(images, id, backend, from_raw, std::max(cap, size), size, false);
}

Result<uint64_t> stage_image_data(const config::Config& config, const std::string& id,
                                  const Reader& read, uint64_t cap) {
  RETURN_IF_ERROR(make_staging_dir(config));
  const std::string path = staging_path(config, id);
  auto size = spool(read, path, cap);
  if (!size.ok()) ::unlink(path.c_str());
  return size;
}

Status read_image_data(ImageService& images, const std::string& id, const std::string& backend,
                       uint64_t offset, uint64_t length, const StreamWriter& write) {
  host::PluginHost::WriteFn writer = [&](const void* data, uint64_t len) -> int {
    return write(static_cast<const char*>(data), static_cast<size_t>(len)) ? 0 : -EPIPE;
  };
  return images
      .call_stream("image.read",
                   {{"id", id}, {"backend", backend}, {"offset", offset}, {"length", length}},
                   nullptr, writer)
      .status();
}

Result<std::string> hash_image_data(ImageService& images, const std::string& id,
                                    const std::string& backend) {
  Sha256 sha;
  host::PluginHost::WriteFn writer = [&](const void* data, uint64_t len) -> int {
    sha.update(data, static_cast<size_t>(len));
    return 0;
  };
  RETURN_IF_ERROR(
      images.call_stream("image.read", {{"id", id}, {"backend", backend}}, nullptr, writer)
          .status());
  return sha.hex();
}

Result<std::optional<ByteRange>> parse_range(const std::string& header, uint64_t size) {
  if (header.empty()) return std::optional<ByteRange>();
  const std::string prefix = "bytes=";
  if (header.compare(0, prefix.size(), prefix) != 0) {
    return Status::Invalid("Range must be bytes=FIRST-LAST, bytes=FIRST- or bytes=-SUFFIX");
  }
  std::string spec = header.substr(prefix.size());
  if (spec.find(',') != std::string::npos) {
    return Status::Invalid("only one byte range may be asked for");
  }
  const size_t dash = spec.find('-');
  if (dash == std::string::npos) return Status::Invalid("Range has no '-'");
  auto number = [](const std::string& s, uint64_t* out) {
    if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != std::string::npos) {
      return false;
    }
    *out = std::stoull(s);
    return true;
  };
  const std::string first = spec.substr(0, dash), last = spec.substr(dash + 1);
  ByteRange r;
  if (first.empty()) {
    uint64_t suffix = 0;
    if (!number(last, &suffix) || suffix == 0) return Status::Invalid("bad suffix range");
    if (size == 0) return Status::Invalid("the image is empty");
    r.length = std::min(suffix, size);
    r.offset = size - r.length;
    return std::optional<ByteRange>(r);
  }
  uint64_t a = 0, b = 0;
  if (!number(first, &a)) return Status::Invalid("bad first byte in Range");
  if (a >= size) return Status::Invalid("the range starts past the end of the image");
  if (last.empty()) {
    b = size - 1;
  } else if (!number(last, &b) || b < a) {
    return Status::Invalid("bad last byte in Range");
  }
  b = std::min(b, size - 1);
  r.offset = a;
  r.length = b - a + 1;
  return std::optional<ByteRange>(r);
}

}  // namespace rbdvol::service::glance
