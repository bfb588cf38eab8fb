// Owning handles for librados/librbd C objects, so that no path that can fail
// leaks a connection, an I/O context or an open image.
#pragma once

#include <rados/librados.h>
#include <rbd/librbd.h>

#include <cstring>
#include <memory>
#include <string>
#include <type_traits>

namespace rbdvol::plugin {

struct RadosDeleter {
  void operator()(rados_t c) const { rados_shutdown(c); }
};
struct IoCtxDeleter {
  void operator()(rados_ioctx_t io) const { rados_ioctx_destroy(io); }
};
struct ImageDeleter {
  void operator()(rbd_image_t image) const { rbd_close(image); }
};
struct CompletionDeleter {
  void operator()(rbd_completion_t c) const { rbd_aio_release(c); }
};

// rados_t, rados_ioctx_t and rbd_image_t are all `void*`.
using RadosPtr = std::unique_ptr<std::remove_pointer_t<rados_t>, RadosDeleter>;
using IoCtxPtr = std::unique_ptr<std::remove_pointer_t<rados_ioctx_t>, IoCtxDeleter>;
using ImagePtr = std::unique_ptr<std::remove_pointer_t<rbd_image_t>, ImageDeleter>;
using CompletionPtr = std::unique_ptr<std::remove_pointer_t<rbd_completion_t>, CompletionDeleter>;

// strerror of a librados/librbd return value (negative errno).
inline std::string ceph_strerror(int r) { return std::strerror(r < 0 ? -r : r); }

}  // namespace rbdvol::plugin
