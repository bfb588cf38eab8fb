#include "plugin/copy_engine.h"

#include <openssl/evp.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
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

// An I/O starts reading or writing `len` bytes at `offset` and later calls
// `done` with the byte count or a negative errno, from any thread.
using IoDone = std::function<void(ssize_t)>;
using Reader = std::function<void(uint64_t offset, size_t len, char* buf, IoDone done)>;
using Writer = std::function<void(uint64_t offset, size_t len, const char* buf, IoDone done)>;

// librbd calls this on one of its own threads: hand the result over and
// return at once; the work happens on the event loop.
void on_rbd_aio_complete(rbd_completion_t c, void* arg) {
  std::unique_ptr<IoDone> done(static_cast<IoDone*>(arg));
  ssize_t r = rbd_aio_get_return_value(c);
  rbd_aio_release(c);
  (*done)(r);
}

// Submits `submit(completion)`; when that fails the completion is released
// and `done` is called with the error at once.
void start_rbd_aio(IoDone done, const std::function<int(rbd_completion_t)>& submit) {
  auto* arg = new IoDone(std::move(done));
  rbd_completion_t c = nullptr;
  int r = rbd_aio_create_completion(arg, on_rbd_aio_complete, &c);
  if (r < 0) {
    std::unique_ptr<IoDone> owned(arg);
    (*owned)(r);
    return;
  }
  r = submit(c);
  if (r < 0) {
    rbd_aio_release(c);
    std::unique_ptr<IoDone> owned(arg);
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

struct EvpCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

// SHA-256 of the chunk [chunk_offset, chunk_offset + chunk_length) whose
// bytes are zeros except `len` bytes of `data` at `data_offset`.
std::array<unsigned char, 32> chunk_sha256(uint64_t chunk_offset, uint64_t chunk_length,
                                           uint64_t data_offset, const char* data, size_t len) {
  static const char zeros[65536] = {0};
  std::unique_ptr<EVP_MD_CTX, EvpCtxDeleter> ctx(EVP_MD_CTX_new());
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  auto feed_zeros = [&](uint64_t n) {
    while (n > 0) {
      const size_t step = static_cast<size_t>(std::min<uint64_t>(n, sizeof(zeros)));
      EVP_DigestUpdate(ctx.get(), zeros, step);
      n -= step;
    }
  };
  feed_zeros(data_offset - chunk_offset);
  EVP_DigestUpdate(ctx.get(), data, len);
  feed_zeros(chunk_offset + chunk_length - (data_offset + len));
  std::array<unsigned char, 32> out{};
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx.get(), out.data(), &n);
  return out;
}

// What the pipeline moves, and where.
struct Transfer {
  std::vector<Extent> pieces;  // allocated pieces, at most one per chunk, sorted
  uint64_t chunk = 0;
  uint64_t size = 0;
  Reader read;
  Writer write;                                      // null: read and digest only
  std::function<Status()> flush;                     // blocking; null when nothing is written
  std::function<void(const ChunkDigest&)> on_chunk;  // on the loop; may be null
  std::string src_label, dst_label;
};

// Runs of chunks that hold no piece: holes of the source.
std::vector<ChunkDigest> hole_runs(const std::vector<Extent>& pieces, uint64_t chunk,
                                   uint64_t size) {
  std::vector<ChunkDigest> runs;
  const uint64_t chunks = (size + chunk - 1) / chunk;
  uint64_t next = 0;
  auto add = [&](uint64_t first, uint64_t end) {
    if (first >= end) return;
    ChunkDigest d;
    d.index = first;
    d.chunks = end - first;
    d.offset = first * chunk;
    d.length = std::min(end * chunk, size) - d.offset;
    d.zero = true;
    runs.push_back(d);
  };
  for (const auto& p : pieces) {
    const uint64_t index = p.offset / chunk;
    add(next, index);
    next = index + 1;
  }
  add(next, chunks);
  return runs;
}

// Runs the pipeline: `depth` slots, each reading one piece, digesting it,
// then (unless it is all zeros) writing it, then taking the next piece.
Result<CopyStats> run_pipeline(const Transfer& t, const Progress& progress,
                               const CopyOptions& options, CopyStats stats) {
  const auto start = std::chrono::steady_clock::now();
  const uint64_t chunk = t.chunk;
  stats.chunk_size = chunk;
  stats.chunks = (t.size + chunk - 1) / chunk;
  auto is_confirmed = [&](uint64_t index) {
    return index < options.confirmed.size() && options.confirmed[index];
  };
  std::vector<Extent> todo;
  uint64_t done_bytes = 0;
  for (const auto& p : t.pieces) {
    stats.allocated += p.length;
    if (is_confirmed(p.offset / chunk)) {
      ++stats.chunks_skipped_confirmed;
      done_bytes += p.length;
    } else {
      todo.push_back(p);
    }
  }
  if (options.record) {
    // Holes need no data, so they are confirmed before any is written.
    const auto runs = hole_runs(t.pieces, chunk, t.size);
    for (size_t i = 0; i < runs.size(); i += 512) {
      Status s = options.record(std::vector<ChunkDigest>(
          runs.begin() + static_cast<long>(i),
          runs.begin() + static_cast<long>(std::min(runs.size(), i + 512))));
      if (!s.ok()) return s;
    }
  }

  asio::io_context loop(1);
  auto guard = asio::make_work_guard(loop);
  // Digests, and for a file the blocking reads and writes, run here.
  asio::thread_pool workers(2);
  // Flush, then record: one batch at a time, in order.
  asio::thread_pool committer(1);
  struct Slot {
    std::vector<char> buf;
    Extent piece;
    ChunkDigest digest;
  };
  std::vector<Slot> slots(std::max<size_t>(1, std::min(options.depth, todo.size())));
  const size_t batch_size = std::max<size_t>(1, std::min<size_t>(8, options.depth));
  size_t next = 0;
  size_t in_flight = 0;
  bool committing = false;
  uint64_t recorded = 0;
  std::vector<ChunkDigest> pending;
  Status failure;

  std::function<void(Slot&)> start_next;
  std::function<void()> maybe_commit;
  auto fail = [&](int r, const std::string& what, const Extent& piece) {
    if (!failure.ok()) return;
    failure =
        Status::Error(r, what + " at offset " + std::to_string(piece.offset) + " (" +
                             std::to_string(piece.length) + " bytes) failed: " + ceph_strerror(r));
  };
  auto check_finished = [&] {
    if (in_flight == 0 && !committing && (pending.empty() || !failure.ok())) guard.reset();
  };
  maybe_commit = [&] {
    if (!options.record || committing || pending.empty() || !failure.ok()) return;
    if (in_flight > 0 && pending.size() < batch_size) return;
    committing = true;
    auto batch = std::make_shared<std::vector<ChunkDigest>>(std::move(pending));
    pending.clear();
    asio::post(committer, [&, batch] {
      Status s = t.flush ? t.flush() : Status::Ok();
      if (s.ok()) s = options.record(*batch);
      asio::post(loop, [&, batch, s] {
        committing = false;
        if (!s.ok() && failure.ok()) failure = s;
        recorded += batch->size();
        if (s.ok() && options.kill_after_chunks && recorded >= options.kill_after_chunks) {
          ::kill(::getpid(), SIGKILL);
        }
        maybe_commit();
        check_finished();
      });
    });
  };
  auto slot_done = [&](Slot& s) {
    --in_flight;
    start_next(s);
    maybe_commit();
    check_finished();
  };
  auto confirm = [&](Slot& s) {
    done_bytes += s.piece.length;
    progress(options.stage, done_bytes, stats.allocated);
    if (options.record) pending.push_back(s.digest);
    if (t.on_chunk) t.on_chunk(s.digest);
  };
  auto on_written = [&](Slot& s, ssize_t r) {
    if (r < 0) {
      fail(static_cast<int>(r), "write of " + t.dst_label, s.piece);
    } else {
      confirm(s);
    }
    slot_done(s);
  };
  auto on_digested = [&](Slot& s, size_t b, size_t e) {
    if (b == e) ++stats.chunks_zero;
    if (b == e || !t.write || !failure.ok()) {
      if (failure.ok()) confirm(s);
      slot_done(s);
      return;
    }
    ++stats.chunks_written;
    stats.written += e - b;
    t.write(s.piece.offset + b, e - b, s.buf.data() + b, [&loop, &s, &on_written](ssize_t wr) {
      asio::post(loop, [&s, &on_written, wr] { on_written(s, wr); });
    });
  };
  auto on_read = [&](Slot& s, ssize_t r) {
    if (r < 0 || static_cast<uint64_t>(r) != s.piece.length) {
      fail(r < 0 ? static_cast<int>(r) : EIO, "read of " + t.src_label, s.piece);
      slot_done(s);
      return;
    }
    ++stats.chunks_read;
    Slot* slot = &s;
    asio::post(workers, [slot, chunk, size = t.size, &loop, &on_digested] {
      ChunkDigest& d = slot->digest;
      d = ChunkDigest();
      d.index = slot->piece.offset / chunk;
      d.offset = d.index * chunk;
      d.length = std::min(chunk, size - d.offset);
      const auto span = nonzero_span(slot->buf.data(), slot->piece.length);
      d.zero = span.first == span.second;
      if (!d.zero) {
        d.sha256 = chunk_sha256(d.offset, d.length, slot->piece.offset, slot->buf.data(),
                                slot->piece.length);
      }
      asio::post(loop, [slot, span, &on_digested] { on_digested(*slot, span.first, span.second); });
    });
  };
  start_next = [&](Slot& s) {
    if (!failure.ok() || next >= todo.size()) return;
    s.piece = todo[next++];
    if (s.buf.size() < chunk) s.buf.resize(chunk);
    ++in_flight;
    t.read(s.piece.offset, s.piece.length, s.buf.data(), [&loop, &s, &on_read](ssize_t r) {
      asio::post(loop, [&s, &on_read, r] { on_read(s, r); });
    });
  };

  progress(options.stage, done_bytes, stats.allocated);
  for (auto& s : slots) start_next(s);
  check_finished();
  loop.run();
  workers.join();
  committer.join();
  if (!failure.ok()) return failure;
  if (t.flush) {
    Status s = t.flush();
    if (!s.ok()) return s;
  }
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

Writer rbd_writer(rbd_image_t dst) {
  return [dst](uint64_t offset, size_t len, const char* buf, IoDone done) {
    start_rbd_aio(std::move(done),
                  [&](rbd_completion_t c) { return rbd_aio_write(dst, offset, len, buf, c); });
  };
}

Reader rbd_reader(rbd_image_t src) {
  return [src](uint64_t offset, size_t len, char* buf, IoDone done) {
    start_rbd_aio(std::move(done),
                  [&](rbd_completion_t c) { return rbd_aio_read(src, offset, len, buf, c); });
  };
}

std::function<Status()> rbd_flusher(rbd_image_t dst, const std::string& label) {
  return [dst, label]() -> Status {
    int r = rbd_flush(dst);
    if (r < 0) return Status::Error(r, "flush of " + label + " failed: " + ceph_strerror(r));
    return Status::Ok();
  };
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
  Transfer t;
  t.pieces = chunk_pieces(*extents, *chunk, size);
  t.chunk = *chunk;
  t.size = size;
  t.read = rbd_reader(src);
  t.write = rbd_writer(dst);
  t.flush = rbd_flusher(dst, dst_label);
  t.src_label = src_label;
  t.dst_label = dst_label;
  CopyStats stats;
  stats.size = size;
  return run_pipeline(t, progress, options, stats);
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
  asio::thread_pool readers(2);
  Transfer t;
  t.pieces = chunk_pieces(extents, *chunk, size);
  t.chunk = *chunk;
  t.size = size;
  t.read = [fd, &readers](uint64_t offset, size_t len, char* buf, IoDone done) {
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
  t.write = rbd_writer(dst);
  t.flush = rbd_flusher(dst, dst_label);
  t.src_label = path;
  t.dst_label = dst_label;
  CopyStats stats;
  stats.size = size;
  auto result = run_pipeline(t, progress, options, stats);
  readers.join();
  return result;
}

Result<CopyStats> download_image_data(rbd_image_t src, const std::string& src_label, int fd,
                                      const std::string& path, const Progress& progress,
                                      const CopyOptions& options) {
  uint64_t size = 0;
  int r = rbd_get_size(src, &size);
  if (r < 0) {
    return Status::Error(r, "cannot read the size of " + src_label + ": " + ceph_strerror(r));
  }
  auto chunk =
      options.chunk_size ? Result<uint64_t>(options.chunk_size) : object_size(src, src_label);
  if (!chunk.ok()) return chunk.status();
  auto extents = allocated_extents(src, src_label);
  if (!extents.ok()) return extents.status();
  // The file gets its size first, as one hole; only data is written into it.
  if (::ftruncate(fd, static_cast<off_t>(size)) < 0) {
    return Status::Error(errno, "cannot size " + path + " to " + std::to_string(size) +
                                    " bytes: " + std::strerror(errno));
  }
  // pwrite blocks: it runs on a pool, never on the event loop.
  asio::thread_pool writers(2);
  Transfer t;
  t.pieces = chunk_pieces(*extents, *chunk, size);
  t.chunk = *chunk;
  t.size = size;
  t.read = rbd_reader(src);
  t.write = [fd, &writers](uint64_t offset, size_t len, const char* buf, IoDone done) {
    asio::post(writers, [fd, offset, len, buf, done = std::move(done)] {
      size_t put = 0;
      while (put < len) {
        ssize_t n = ::pwrite(fd, buf + put, len - put, static_cast<off_t>(offset + put));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          done(-errno);
          return;
        }
        put += static_cast<size_t>(n);
      }
      done(static_cast<ssize_t>(put));
    });
  };
  t.flush = [fd, path]() -> Status {
    if (::fdatasync(fd) < 0) {
      return Status::Error(errno, "cannot flush " + path + ": " + std::strerror(errno));
    }
    return Status::Ok();
  };
  t.src_label = src_label;
  t.dst_label = path;
  CopyStats stats;
  stats.size = size;
  auto result = run_pipeline(t, progress, options, stats);
  writers.join();
  return result;
}

Result<CopyStats> digest_image_data(rbd_image_t image, const std::string& label,
                                    uint64_t chunk_size,
                                    const std::function<void(const ChunkDigest&)>& on_chunk,
                                    const Progress& progress, const CopyOptions& options) {
  uint64_t size = 0;
  int r = rbd_get_size(image, &size);
  if (r < 0) return Status::Error(r, "cannot read the size of " + label + ": " + ceph_strerror(r));
  if (chunk_size == 0) return Status::Invalid("chunk size 0 for " + label);
  auto extents = allocated_extents(image, label);
  if (!extents.ok()) return extents.status();
  Transfer t;
  t.pieces = chunk_pieces(*extents, chunk_size, size);
  t.chunk = chunk_size;
  t.size = size;
  t.read = rbd_reader(image);
  t.on_chunk = on_chunk;
  t.src_label = label;
  CopyStats stats;
  stats.size = size;
  CopyOptions read_only = options;
  read_only.record = nullptr;
  read_only.confirmed.clear();
  return run_pipeline(t, progress, read_only, stats);
}

}  // namespace rbdvol::plugin
