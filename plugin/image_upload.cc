// image.upload: a raw or qcow2 file becomes image-<uuid> with its protected
// snapshot in one backend's image pool. The format comes from the file's
// content; qcow2 is converted to a sparse raw file first. All or nothing: a
// failure removes what was created.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <future>
#include <optional>

#include "plugin/copy_engine.h"
#include "plugin/fault_injection.h"
#include "plugin/image_file.h"
#include "plugin/naming.h"
#include "plugin/operations.h"
#include "plugin/rbd_image.h"
#include "plugin/request.h"

namespace rbdvol::plugin {

namespace {

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

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

  FileDescriptor original(::open(path->c_str(), O_RDONLY | O_CLOEXEC));
  if (original.get() < 0) {
    return Status::Error(errno, "cannot open " + *path + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(original.get(), &st) < 0) return Status::Error(errno, "cannot stat " + *path);
  if (!S_ISREG(st.st_mode)) return Status::Invalid(*path + " is not a regular file");
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  if (file_size == 0) return Status::Invalid(*path + " is empty");
  auto format = detect_image_format(original.get(), *path);
  if (!format.ok()) return format.status();

  // The raw bytes to upload: the file itself, or its conversion.
  std::optional<ConvertedRawFile> converted;
  std::optional<FileDescriptor> converted_fd;
  int raw_fd = original.get();
  std::string raw_path = *path;
  uint64_t size = file_size;
  if (*format == "qcow2") {
    progress("convert", 0, 0);
    auto c = ConvertedRawFile::convert(*path);
    if (!c.ok()) return c.status();
    converted.emplace(std::move(c).value());
    converted_fd.emplace(::open(converted->path().c_str(), O_RDONLY | O_CLOEXEC));
    if (converted_fd->get() < 0) {
      return Status::Error(errno, "cannot open the converted file " + converted->path() + ": " +
                                      std::strerror(errno));
    }
    struct stat cst {};
    if (::fstat(converted_fd->get(), &cst) < 0) {
      return Status::Error(errno, "cannot stat " + converted->path());
    }
    raw_fd = converted_fd->get();
    raw_path = converted->path() + " (raw of " + *path + ")";
    size = static_cast<uint64_t>(cst.st_size);
    if (size == 0) return Status::Invalid("the qcow2 image " + *path + " has a virtual size of 0");
  }

  auto io = cluster->open_image_pool();
  if (!io.ok()) return io.status();
  const std::string uuid = new_uuid();
  const std::string rbd_name = kImagePrefix + uuid;
  const std::string label = "backend " + backend + " " + image_spec(io->get(), rbd_name);
  int order = 0;  // the cluster's default object size
  int r = rbd_create(io->get(), rbd_name.c_str(), size, &order);
  if (r < 0) {
    return Status::Error(r, "cannot create image " + image_spec(io->get(), rbd_name) +
                                " on backend " + backend + ": " + ceph_strerror(r));
  }
  std::string checksum;
  auto fill = [&]() -> Status {
    auto image = open_image(io->get(), rbd_name, false);
    if (!image.ok()) return image.status();
    // The digest reads the whole raw content in order (holes included) on its
    // own thread while the engine copies the allocated chunks.
    auto digest =
        std::async(std::launch::async, [&] { return sha256_of_file(raw_fd, raw_path, size); });
    auto copied = copy_file_data(raw_fd, raw_path, size, image->get(), label, progress,
                                 default_copy_options("upload"));
    auto sum = digest.get();
    if (!copied.ok()) return copied.status();
    if (!sum.ok()) return sum.status();
    checksum = *sum;
    Status s = inject_fault("image.upload:after-write");
    if (!s.ok()) return s;
    for (const auto& [key, value] :
         {std::pair{meta::kName, *name}, std::pair{meta::kImageFormat, *format},
          std::pair{meta::kImageSourceSize, std::to_string(file_size)},
          std::pair{meta::kImageChecksum, checksum},
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
  return Json{{"id", uuid},           {"name", *name},
              {"backend", backend},   {"pool", cluster->backend().image_pool},
              {"image", rbd_name},    {"size", size},
              {"format", *format},    {"file_size", file_size},
              {"checksum", checksum}, {"snapshot", kImageSnapshot}};
}

}  // namespace rbdvol::plugin
