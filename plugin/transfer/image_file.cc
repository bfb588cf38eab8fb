#include "plugin/transfer/image_file.h"

#include <fcntl.h>
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
  std::string pattern = std::string(tmpdir && *tmpdir ? tmpdir : "/var/tmp") + "/rbdvol-raw-XXXXXX";
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

FileDescriptor::~FileDescriptor() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<RawImageFile>> RawImageFile::open(const std::string& path,
                                                         const std::function<void()>& on_convert) {
  auto f = std::make_unique<RawImageFile>();
  f->path = path;
  f->file_ = std::make_unique<FileDescriptor>(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (f->file_->get() < 0) {
    return Status::Error(errno, "cannot open " + path + ": " + std::strerror(errno));
  }
  if (::fstat(f->file_->get(), &f->st) < 0) {
    return Status::Error(errno, "cannot stat " + path + ": " + std::strerror(errno));
  }
  if (!S_ISREG(f->st.st_mode)) return Status::Invalid(path + " is not a regular file");
  f->file_size = static_cast<uint64_t>(f->st.st_size);
  if (f->file_size == 0) return Status::Invalid(path + " is empty");
  auto format = detect_image_format(f->file_->get(), path);
  if (!format.ok()) return format.status();
  f->format = *format;
  f->size = f->file_size;
  f->label = path;
  if (f->format != "qcow2") return f;

  if (on_convert) on_convert();
  auto converted = ConvertedRawFile::convert(path);
  if (!converted.ok()) return converted.status();
  f->converted_.emplace(std::move(converted).value());
  const std::string& raw_path = f->converted_->path();
  f->raw_ = std::make_unique<FileDescriptor>(::open(raw_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (f->raw_->get() < 0) {
    return Status::Error(
        errno, "cannot open the converted file " + raw_path + ": " + std::strerror(errno));
  }
  struct stat raw_st {};
  if (::fstat(f->raw_->get(), &raw_st) < 0) {
    return Status::Error(errno, "cannot stat " + raw_path + ": " + std::strerror(errno));
  }
  f->size = static_cast<uint64_t>(raw_st.st_size);
  f->label = raw_path + " (raw of " + path + ")";
  if (f->size == 0) return Status::Invalid("the qcow2 image " + path + " has a virtual size of 0");
  return f;
}

}  // namespace rbdvol::plugin
