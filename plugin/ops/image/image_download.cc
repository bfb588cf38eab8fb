// image.download: an image's content (one backend's copy, at its snapshot
// `snap` when a volume made it, else its head: the same bytes) written into a
// new local file that stays sparse: holes and zero chunks of the image are
// not written.
#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "plugin/ceph/rbd_image.h"
#include "plugin/fault_injection.h"
#include "plugin/ops/operations.h"
#include "plugin/ops/request.h"
#include "plugin/records/catalog.h"
#include "plugin/records/naming.h"
#include "plugin/transfer/copy_engine.h"

namespace rbdvol::plugin {

Result<Json> image_download(Driver& driver, const Json& request, const Progress& progress) {
  auto id = required_string(request, "id");
  if (!id.ok()) return id.status();
  auto path = required_string(request, "path");
  if (!path.ok()) return path.status();
  auto only = optional_backend(driver, request);
  if (!only.ok()) return only.status();
  auto image = find_image(driver, *id);
  if (!image.ok()) return image.status();

  // The named backend's copy, else the first that opens.
  Status last = Status::NotFound("image " + image->id + " has no copy in backend " + *only);
  for (const auto& l : image->locations) {
    if (!only->empty() && l.backend != *only) continue;
    auto io = driver.cluster(l.backend)->open_pool(l.pool);
    if (!io.ok()) {
      last = io.status();
      continue;
    }
    auto opened = open_image_data_for_engine(**io, l.rbd_name, "backend " + l.backend);
    if (!opened.ok()) {
      last = opened.status();
      continue;
    }
    // A new file only: the engine writes data and leaves the rest as holes,
    // which is right only for a file that holds nothing yet.
    const int fd = ::open(path->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
      const int err = errno;
      return Status::Error(err, "cannot create " + *path + ": " + std::strerror(err) +
                                    (err == EEXIST ? " (download never overwrites a file)" : ""));
    }
    auto copied =
        download_image_data(**opened, fd, *path, progress, default_copy_options("download"));
    Status s = copied.ok() ? inject_fault("image.download:after-data") : copied.status();
    if (::close(fd) < 0 && s.ok()) {
      s = Status::Error(errno, "cannot close " + *path + ": " + std::strerror(errno));
    }
    if (!s.ok()) {
      ::unlink(path->c_str());
      return s.Prefixed("download of image " + image->id + " into " + *path +
                        " (the partial file was removed)");
    }
    return Json{{"id", image->id},
                {"name", image->name},
                {"backend", l.backend},
                {"path", *path},
                {"size", copied->size},
                {"bytes_read", copied->allocated},
                {"bytes_written", copied->written},
                {"chunks_written", copied->chunks_written},
                {"chunks_zero", copied->chunks_zero},
                {"seconds", copied->seconds}};
  }
  return last.Prefixed("download of image " + image->id);
}

}  // namespace rbdvol::plugin
