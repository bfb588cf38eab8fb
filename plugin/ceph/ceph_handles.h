// Owning handles for librados/librbd C objects, so that no path that can fail
// leaks a connection, an I/O context or an open image.
#pragma once

#include <rados/librados.h>
#include <rbd/librbd.h>

#include <cerrno>
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
struct WriteOpDeleter {
  void operator()(rados_write_op_t op) const { rados_release_write_op(op); }
};
struct ReadOpDeleter {
  void operator()(rados_read_op_t op) const { rados_release_read_op(op); }
};
struct OmapIterDeleter {
  void operator()(rados_omap_iter_t it) const { rados_omap_get_end(it); }
};

// rados_t, rados_ioctx_t, rbd_image_t and the op and iterator handles are
// all `void*`.
using RadosPtr = std::unique_ptr<std::remove_pointer_t<rados_t>, RadosDeleter>;
using IoCtxPtr = std::unique_ptr<std::remove_pointer_t<rados_ioctx_t>, IoCtxDeleter>;
using ImagePtr = std::unique_ptr<std::remove_pointer_t<rbd_image_t>, ImageDeleter>;
using CompletionPtr = std::unique_ptr<std::remove_pointer_t<rbd_completion_t>, CompletionDeleter>;
using WriteOpPtr = std::unique_ptr<std::remove_pointer_t<rados_write_op_t>, WriteOpDeleter>;
using ReadOpPtr = std::unique_ptr<std::remove_pointer_t<rados_read_op_t>, ReadOpDeleter>;
using OmapIterPtr = std::unique_ptr<std::remove_pointer_t<rados_omap_iter_t>, OmapIterDeleter>;

// strerror of a librados/librbd return value (negative errno). A full
// cluster or pool says so: rbdvol's writes carry librados' full-try flag
// (Cluster::open_pool), so ENOSPC and EDQUOT mean that, at once.
inline std::string ceph_strerror(int r) {
  const int e = r < 0 ? -r : r;
  if (e == ENOSPC) return "No space left: the cluster or pool is full";
  if (e == EDQUOT) return "Disk quota exceeded: the pool is full (its quota is reached)";
  return std::strerror(e);
}

}  // namespace rbdvol::plugin
