#include "plugin/copy_engine.h"

#include <unistd.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>

namespace rbdvol::plugin {

namespace asio = boost::asio;

namespace {

// A reader starts reading `len` bytes at `offset` into `buf` and later calls
// `done` with the byte count or a negative errno, from any thread.
using ReadDone = std::function<void(ssize_t)>;
using Reader = std::function<void(uint64_t offset, size_t len, char* buf, ReadDone done)>;

// librbd calls this on one of its own threads: hand the result over and
// return at once; the work happens on the event loop.
void on_rbd_aio_complete(rbd_completion_t c, void* arg) {
  std::unique_ptr<ReadDone> done(static_cast<ReadDone*>(arg));
  ssize_t r = rbd_aio_get_return_value(c);
  rbd_aio_release(c);
  (*done)(r);
}

// Submits `submit(completion)`; when that fails the completion is released
// and `done` is called with the error at once.
void start_rbd_aio(ReadDone done, const std::function<int(rbd_completion_t)>& submit) {
  auto* arg = new ReadDone(std::move(done));
  rbd_completion_t c = nullptr;
  int r = rbd_aio_create_completion(arg, on_rbd_aio_complete, &c);
  if (r < 0) {
    std::unique_ptr<ReadDone> owned(arg);
    (*owned)(r);
    return;
  }
  r = submit(c);
  if (r < 0) {
    rbd_aio_release(c);
    std::unique_ptr<ReadDone> owned(arg);
    (*owned)(r);
  }
}

// The extents cut at chunk boundaries; within one chunk, the span from the
// first allocated byte to the last (reading a small hole costs less than a
// second request). Sorted by offset.
std::vector<Extent> chunk_pieces(const std::vector<Extent>& extents, uint64_t chunk,
                                 uint64_t limit) {
  std::vector<Extent> pieces;
  for (const auto& e : extents) {
    uint64_t off = e.offset;
    const uint64_t end = std::min(e.offset + e.length, limit);
    while (off < end) {
      const uint64_t chunk_end = (off / chunk + 1) * chunk;
      const uint64_t piece_end = std::min(end, chunk_end);
      if (!pieces.empty() && pieces.back().offset / chunk == off / chunk) {
        pieces.back().length = piece_end - pieces.back().offset;
      } else {
        pieces.push_back({off, piece_end - off});
      }
      off = piece_end;
    }
  }
  return pieces;
}

// [begin, end) of `buf` without its leading and trailing all-zero 4 KiB
// blocks; begin == end when it is all zeros.
std::pair<size_t, size_t> nonzero_span(const char* buf, size_t len) {
  static const char zeros[4096] = {0};
  const size_t block = sizeof(zeros);
  auto zero = [&](size_t at) {
    const size_t n = std::min(block, len - at);
    return std::memcmp(buf + at, zeros, n) == 0;
  };
  size_t begin = 0;
  while (begin < len && zero(begin)) begin += block;
  if (begin >= len) return {len, len};
  size_t last = (len - 1) / block * block;
  while (last > begin && zero(last)) last -= block;
  return {begin, std::min(len, last + block)};
}

// Runs the pipeline: `depth` slots, each reading one piece, then (unless it
// is all zeros) writing it, then taking the next piece.
Result<CopyStats> run_pipeline(const std::vector<Extent>& pieces, uint64_t chunk,
                               const Reader& read, rbd_image_t dst, const std::string& src_label,
                               const std::string& dst_label, const Progress& progress,
                               const CopyOptions& options, CopyStats stats) {
  const auto start = std::chrono::steady_clock::now();
  for (const auto& p : pieces) stats.allocated += p.length;

  asio::io_context loop(1);
  auto guard = asio::make_work_guard(loop);
  struct Slot {
    std::vector<char> buf;
    Extent piece;
  };
  std::vector<Slot> slots(std::max<size_t>(1, std::min(options.depth, pieces.size())));
  size_t next = 0;
  size_t in_flight = 0;
  uint64_t done_bytes = 0;
  Status failure;

  std::function<void(Slot&)> start_next;
  auto fail = [&](int r, const std::string& what, const Extent& piece) {
    if (!failure.ok()) return;
    failure =
        Status::Error(r, what + " at offset " + std::to_string(piece.offset) + " (" +
                             std::to_string(piece.length) + " bytes) failed: " + ceph_strerror(r));
  };
  auto slot_done = [&](Slot& s) {
    --in_flight;
    start_next(s);
    if (in_flight == 0) guard.reset();
  };
  auto on_written = [&](Slot& s, ssize_t r) {
    if (r < 0) {
      fail(static_cast<int>(r), "write of " + dst_label, s.piece);
    } else {
      done_bytes += s.piece.length;
      progress(options.stage, done_bytes, stats.allocated);
    }
    slot_done(s);
  };
  auto on_read = [&](Slot& s, ssize_t r) {
    if (r < 0 || static_cast<uint64_t>(r) != s.piece.length) {
      fail(r < 0 ? static_cast<int>(r) : EIO, "read of " + src_label, s.piece);
      slot_done(s);
      return;
    }
    ++stats.chunks_read;
    auto [b, e] = nonzero_span(s.buf.data(), s.piece.length);
    if (b == e || !failure.ok()) {
      if (b == e) ++stats.chunks_zero;
      on_written(s, 0);
      return;
    }
    ++stats.chunks_written;
    stats.written += e - b;
    const uint64_t off = s.piece.offset + b;
    const size_t len = e - b;
    char* data = s.buf.data() + b;
    start_rbd_aio(
        [&loop, &s, &on_written](ssize_t wr) {
          asio::post(loop, [&s, &on_written, wr] { on_written(s, wr); });
        },
        [&](rbd_completion_t c) { return rbd_aio_write(dst, off, len, data, c); });
  };
  start_next = [&](Slot& s) {
    if (!failure.ok() || next >= pieces.size()) return;
    s.piece = pieces[next++];
    if (s.buf.size() < chunk) s.buf.resize(chunk);
    ++in_flight;
    read(s.piece.offset, s.piece.length, s.buf.data(), [&loop, &s, &on_read](ssize_t r) {
      asio::post(loop, [&s, &on_read, r] { on_read(s, r); });
    });
  };

  for (auto& s : slots) start_next(s);
  if (in_flight == 0) guard.reset();
  loop.run();
  if (!failure.ok()) return failure;
  int r = rbd_flush(dst);
  if (r < 0) return Status::Error(r, "flush of " + dst_label + " failed: " + ceph_strerror(r));
  if (pieces.empty()) progress(options.stage, 0, 0);
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

Result<uint64_t> object_size(rbd_image_t image, const std::string& label) {
  rbd_image_info_t info{};
  int r = rbd_stat(image, &info, sizeof(info));
  if (r < 0) return Status::Error(r, "cannot stat " + label + ": " + ceph_strerror(r));
  return info.obj_size;
}

Result<uint64_t> check_fits(rbd_image_t dst, const std::string& dst_label, uint64_t size) {
  uint64_t dst_size = 0;
  int r = rbd_get_size(dst, &dst_size);
  if (r < 0)
    return Status::Error(r, "cannot read the size of " + dst_label + ": " + ceph_strerror(r));
  if (dst_size < size) {
    return Status::Invalid(dst_label + " (" + std::to_string(dst_size) +
                           " bytes) is smaller than the source (" + std::to_string(size) +
                           " bytes)");
  }
  return dst_size;
}

}  // namespace

CopyOptions default_copy_options(const char* stage) {
  CopyOptions options;
  options.stage = stage;
  if (const char* env = std::getenv("RBDVOL_COPY_DEPTH")) {
    long depth = std::strtol(env, nullptr, 10);
    if (depth >= 1 && depth <= 256) options.depth = static_cast<size_t>(depth);
  }
  return options;
}

Result<std::vector<Extent>> allocated_extents(rbd_image_t image, const std::string& label) {
  uint64_t size = 0;
  int r = rbd_get_size(image, &size);
  if (r < 0) return Status::Error(r, "cannot read the size of " + label + ": " + ceph_strerror(r));
  std::vector<Extent> extents;
  auto cb = [](uint64_t off, size_t len, int exists, void* arg) -> int {
    auto* out = static_cast<std::vector<Extent>*>(arg);
    if (!exists) return 0;
    if (!out->empty() && out->back().offset + out->back().length == off) {
      out->back().length += len;
    } else {
      out->push_back({off, len});
    }
    return 0;
  };
  // Against no snapshot, whole_object = false: the extents that hold data
  // (parent data included for a clone), not the object map's whole objects,
  // which would also count objects left by a discard.
  r = rbd_diff_iterate2(image, nullptr, 0, size, 1, 0, cb, &extents);
  if (r < 0) {
    return Status::Error(r,
                         "cannot list the allocated extents of " + label + ": " + ceph_strerror(r));
  }
  std::sort(extents.begin(), extents.end(),
            [](const Extent& a, const Extent& b) { return a.offset < b.offset; });
  return extents;
}

Result<CopyStats> copy_image_data(rbd_image_t src, const std::string& src_label, rbd_image_t dst,
                                  const std::string& dst_label, const Progress& progress,
                                  const CopyOptions& options) {
  uint64_t size = 0;
  int r = rbd_get_size(src, &size);
  if (r < 0) {
    return Status::Error(r, "cannot read the size of " + src_label + ": " + ceph_strerror(r));
  }
  auto fits = check_fits(dst, dst_label, size);
  if (!fits.ok()) return fits.status();
  auto chunk =
      options.chunk_size ? Result<uint64_t>(options.chunk_size) : object_size(dst, dst_label);
  if (!chunk.ok()) return chunk.status();
  auto extents = allocated_extents(src, src_label);
  if (!extents.ok()) return extents.status();
  Reader read = [src](uint64_t offset, size_t len, char* buf, ReadDone done) {
    start_rbd_aio(std::move(done),
                  [&](rbd_completion_t c) { return rbd_aio_read(src, offset, len, buf, c); });
  };
  CopyStats stats;
  stats.size = size;
  return run_pipeline(chunk_pieces(*extents, *chunk, size), *chunk, read, dst, src_label, dst_label,
                      progress, options, stats);
}

Result<CopyStats> copy_file_data(int fd, const std::string& path, uint64_t size, rbd_image_t dst,
                                 const std::string& dst_label, const Progress& progress,
                                 const CopyOptions& options) {
  auto fits = check_fits(dst, dst_label, size);
  if (!fits.ok()) return fits.status();
  auto chunk =
      options.chunk_size ? Result<uint64_t>(options.chunk_size) : object_size(dst, dst_label);
  if (!chunk.ok()) return chunk.status();

  // The file's data extents; a file system without SEEK_DATA gives one.
  std::vector<Extent> extents;
  off_t pos = 0;
  while (static_cast<uint64_t>(pos) < size) {
    off_t data = ::lseek(fd, pos, SEEK_DATA);
    if (data < 0 && errno == ENXIO) break;
    if (data < 0) {
      extents = {{0, size}};
      break;
    }
    off_t hole = ::lseek(fd, data, SEEK_HOLE);
    if (hole < 0) hole = static_cast<off_t>(size);
    const uint64_t end = std::min<uint64_t>(static_cast<uint64_t>(hole), size);
    if (static_cast<uint64_t>(data) < end) {
      extents.push_back({static_cast<uint64_t>(data), end - static_cast<uint64_t>(data)});
    }
    pos = hole;
  }

  // pread blocks: it runs on a pool, never on the event loop.
  asio::thread_pool readers(std::min<size_t>(4, std::max<size_t>(1, options.depth)));
  Reader read = [fd, &readers](uint64_t offset, size_t len, char* buf, ReadDone done) {
    asio::post(readers, [fd, offset, len, buf, done = std::move(done)] {
      size_t got = 0;
      while (got < len) {
        ssize_t n = ::pread(fd, buf + got, len - got, static_cast<off_t>(offset + got));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          done(-errno);
          return;
        }
        if (n == 0) break;
        got += static_cast<size_t>(n);
      }
      done(static_cast<ssize_t>(got));
    });
  };
  CopyStats stats;
  stats.size = size;
  auto result = run_pipeline(chunk_pieces(extents, *chunk, size), *chunk, read, dst, path,
                             dst_label, progress, options, stats);
  readers.join();
  return result;
}

}  // namespace rbdvol::plugin
