#include "plugin/image_file.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

extern char** environ;

namespace rbdvol::plugin {

namespace {

struct EvpCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

struct FdCloser {
  int fd = -1;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

// Runs argv without a shell; returns its exit status and what it wrote to
// stderr (stdout is discarded).
Result<std::pair<int, std::string>> run_tool(const std::vector<std::string>& args) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) < 0) {
    return Status::Error(errno, std::string("cannot create a pipe: ") + std::strerror(errno));
  }
  FdCloser read_end{pipe_fds[0]}, write_end{pipe_fds[1]};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  int r = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (r != 0) return Status::Error(r, "cannot run " + args[0] + ": " + std::strerror(r));
  ::close(write_end.fd);
  write_end.fd = -1;
  std::string err;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(read_end.fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (err.size() < 64 * 1024) err.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
  return std::make_pair(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), err);
}

}  // namespace

Result<std::string> detect_image_format(int fd, const std::string& path) {
  char head[4] = {0};
  ssize_t n = 0;
  do {
    n = ::pread(fd, head, sizeof(head), 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Status::Error(errno, "cannot read " + path + ": " + std::strerror(errno));
  if (n == 4 && std::memcmp(head, "QFI\xfb", 4) == 0) return std::string("qcow2");
  return std::string("raw");
}

ConvertedRawFile::ConvertedRawFile(ConvertedRawFile&& other) noexcept
    : path_(std::move(other.path_)) {
  other.path_.clear();
}

ConvertedRawFile::~ConvertedRawFile() {
  if (!path_.empty()) ::unlink(path_.c_str());
}

Result<ConvertedRawFile> ConvertedRawFile::convert(const std::string& qcow2_path) {
  const char* tmpdir = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmpdir && *tmpdir ? tmpdir : "/var/tmp") + "/rbdvol-upload-XXXXXX";
  // mkstemp reserves a name nobody else gets; qemu-img then writes into it.
  int fd = ::mkstemp(pattern.data());
  if (fd < 0) {
    return Status::Error(errno,
                         "cannot create a temporary file " + pattern + ": " + std::strerror(errno));
  }
  ::close(fd);
  ConvertedRawFile out;
  out.path_ = pattern;
  auto run = run_tool({"qemu-img", "convert", "-f", "qcow2", "-O", "raw", qcow2_path, out.path_});
  if (!run.ok()) return run.status();
  if (run->first != 0) {
    return Status::Invalid("qemu-img convert of the qcow2 file " + qcow2_path +
                           " to raw failed (exit " + std::to_string(run->first) +
                           "): " + run->second);
  }
  return out;
}

Result<std::string> sha256_of_file(int fd, const std::string& path, uint64_t size) {
  std::unique_ptr<EVP_MD_CTX, EvpCtxDeleter> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    return Status::Error(ENOMEM, "cannot start a SHA-256 digest of " + path);
  }
  std::vector<char> buf(1 << 20);
  uint64_t offset = 0;
  while (offset < size) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - offset));
    ssize_t n = ::pread(fd, buf.data(), want, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::Error(errno, "cannot read " + path + ": " + std::strerror(errno));
    if (n == 0) return Status::Error(EIO, path + " ended at " + std::to_string(offset) + " bytes");
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  static const char hex[] = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

}  // namespace rbdvol::plugin
