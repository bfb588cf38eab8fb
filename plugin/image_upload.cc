// image.upload: a raw file becomes image-<uuid> with its protected snapshot
// in one backend's image pool. All or nothing: a failure removes what was
// created.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <vector>

#include "plugin/fault_injection.h"
#include "plugin/naming.h"
#include "plugin/operations.h"
#include "plugin/rbd_image.h"
#include "plugin/request.h"

namespace rbdvol::plugin {

namespace {

struct FileCloser {
  void operator()(int* fd) const {
    if (*fd >= 0) ::close(*fd);
    delete fd;
  }
};
using FilePtr = std::unique_ptr<int, FileCloser>;

bool all_zero(const char* p, size_t n) {
  static const char zeros[4096] = {0};
  while (n > 0) {
    size_t k = std::min(n, sizeof(zeros));
    if (std::memcmp(p, zeros, k) != 0) return false;
    p += k;
    n -= k;
  }
  return true;
}

// Reads `len` bytes at `offset`, short only at end of file.
Result<size_t> read_at(int fd, char* buf, size_t len, uint64_t offset, const std::string& path) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = ::pread(fd, buf + done, len - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::Error(errno, "cannot read " + path + ": " + std::strerror(errno));
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

// Writes the file into the open image, `depth` chunk writes in flight,
// chunks of zeros skipped (a new image reads as zeros there already).
Status write_file_into_image(int fd, const std::string& path, uint64_t size, rbd_image_t image,
                             const Progress& progress) {
  const size_t chunk = 4u << 20;
  const size_t depth = 8;
  struct Slot {
    std::vector<char> buf;
    CompletionPtr completion;
    uint64_t offset = 0;
    size_t len = 0;
  };
  std::vector<Slot> slots(depth);
  std::deque<Slot*> in_flight;
  auto wait_oldest = [&]() -> Status {
    Slot* s = in_flight.front();
    in_flight.pop_front();
    rbd_aio_wait_for_complete(s->completion.get());
    ssize_t r = rbd_aio_get_return_value(s->completion.get());
    s->completion.reset();
    if (r < 0) {
      return Status::Error(static_cast<int>(r),
                           "write at offset " + std::to_string(s->offset) +
                               " failed: " + ceph_strerror(static_cast<int>(r)));
    }
    return Status::Ok();
  };
  Status failure;
  size_t next_slot = 0;
  for (uint64_t offset = 0; offset < size && failure.ok(); offset += chunk) {
    Slot* s = &slots[next_slot];
    next_slot = (next_slot + 1) % depth;
    if (s->completion) {  // the oldest write still owns this slot's buffer
      failure = wait_oldest();
      if (!failure.ok()) break;
    }
    s->buf.resize(chunk);
    auto n = read_at(fd, s->buf.data(),
                     static_cast<size_t>(std::min<uint64_t>(chunk, size - offset)), offset, path);
    if (!n.ok()) {
      failure = n.status();
      break;
    }
    progress("upload", offset + *n, size);
    if (*n == 0 || all_zero(s->buf.data(), *n)) continue;
    rbd_completion_t c = nullptr;
    int r = rbd_aio_create_completion(nullptr, nullptr, &c);
    if (r < 0) {
      failure = Status::Error(r, "cannot create an I/O completion: " + ceph_strerror(r));
      break;
    }
    s->completion.reset(c);
    s->offset = offset;
    s->len = *n;
    r = rbd_aio_write(image, offset, *n, s->buf.data(), c);
    if (r < 0) {
      s->completion.reset();
      failure = Status::Error(
          r, "write at offset " + std::to_string(offset) + " failed: " + ceph_strerror(r));
      break;
    }
    in_flight.push_back(s);
  }
  while (!in_flight.empty()) {
    Status s = wait_oldest();
    if (failure.ok()) failure = s;
  }
  if (!failure.ok()) return failure;
  int r = rbd_flush(image);
  if (r < 0) return Status::Error(r, "flush failed: " + ceph_strerror(r));
  return Status::Ok();
}

bool looks_like_qcow2(const char* head, size_t n) {
  return n >= 4 && std::memcmp(head, "QFI\xfb", 4) == 0;
}

}  // namespace

Result<Json> image_upload(Driver& driver, const Json& request, const Progress& progress) {
  auto path = required_string(request, "path");
  if (!path.ok()) return path.status();
  auto name = required_string(request, "name");
  if (!name.ok()) return name.status();
  auto backend_id = optional_string(request, "backend");
  if (!backend_id.ok()) return backend_id.status();
  const std::string backend = backend_id->empty() ? driver.config().default_backend : *backend_id;
  Cluster* cluster = driver.cluster(backend);
  if (!cluster) return Status::NotFound("backend '" + backend + "' is not an enabled backend");

  FilePtr fd(new int(::open(path->c_str(), O_RDONLY | O_CLOEXEC)));
  if (*fd < 0) return Status::Error(errno, "cannot open " + *path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(*fd, &st) < 0) return Status::Error(errno, "cannot stat " + *path);
  if (!S_ISREG(st.st_mode)) return Status::Invalid(*path + " is not a regular file");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size == 0) return Status::Invalid(*path + " is empty");
  char head[16] = {0};
  auto n = read_at(*fd, head, sizeof(head), 0, *path);
  if (!n.ok()) return n.status();
  if (looks_like_qcow2(head, *n)) {
    return Status::Error(EOPNOTSUPP, *path +
                                         " is a qcow2 image; only raw images can be uploaded "
                                         "(convert with: qemu-img convert -O raw)");
  }

  auto io = cluster->open_image_pool();
  if (!io.ok()) return io.status();
  const std::string uuid = new_uuid();
  const std::string rbd_name = kImagePrefix + uuid;
  int order = 0;  // the cluster's default object size
  int r = rbd_create(io->get(), rbd_name.c_str(), size, &order);
  if (r < 0) {
    return Status::Error(r, backend + ": cannot create image " + image_spec(io->get(), rbd_name) +
                                ": " + ceph_strerror(r));
  }
  auto fill = [&]() -> Status {
    auto image = open_image(io->get(), rbd_name, false);
    if (!image.ok()) return image.status();
    Status s = write_file_into_image(*fd, *path, size, image->get(), progress);
    if (!s.ok()) return s;
    s = inject_fault("image.upload:after-write");
    if (!s.ok()) return s;
    for (const auto& [key, value] :
         {std::pair{meta::kName, *name}, std::pair{meta::kImageFormat, std::string("raw")},
          std::pair{meta::kImageSourceSize, std::to_string(size)},
          std::pair{meta::kCreatedAt, utc_now_iso8601()}}) {
      s = metadata_set(image->get(), key, value);
      if (!s.ok()) return s;
    }
    // The protected snapshot comes last: an image without it is not listed,
    // so nobody clones a half-written image.
    r = rbd_snap_create(image->get(), kImageSnapshot.c_str());
    if (r < 0)
      return Status::Error(r, "cannot create snapshot " + kImageSnapshot + ": " + ceph_strerror(r));
    r = rbd_snap_protect(image->get(), kImageSnapshot.c_str());
    if (r < 0)
      return Status::Error(r,
                           "cannot protect snapshot " + kImageSnapshot + ": " + ceph_strerror(r));
    return Status::Ok();
  };
  Status s = fill();
  if (!s.ok()) {
    Status undo = remove_image_and_snapshots(io->get(), rbd_name);
    std::string note =
        undo.ok() ? "" : " (and removing the partial image failed: " + undo.message() + ")";
    return Status::Error(s.err(), "upload of " + *path + " into backend " + backend +
                                      " failed: " + s.message() + note);
  }
  return Json{{"id", uuid},         {"name", *name},
              {"backend", backend}, {"pool", cluster->backend().image_pool},
              {"image", rbd_name},  {"size", size},
              {"format", "raw"},    {"snapshot", kImageSnapshot}};
}

}  // namespace rbdvol::plugin
