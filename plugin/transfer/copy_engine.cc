#include "plugin/transfer/copy_engine.h"

#include <signal.h>
#include <sys/uio.h>
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

#include "plugin/ceph/rbd_image.h"
#include "plugin/records/naming.h"
#include "plugin/transfer/sha256.h"

namespace rbdvol::plugin {

namespace asio = boost::asio;

namespace {

using ceph::bufferlist;

// An I/O starts reading `len` bytes at `offset` into `out` (a reader) or
// writing `data` at `offset` (a writer), and later calls `done` with the
// byte count or a negative errno, from any thread. The buffer list stays
// alive and untouched until then.
using IoDone = std::function<void(ssize_t)>;
using Reader = std::function<void(uint64_t offset, size_t len, bufferlist* out, IoDone done)>;
using Writer = std::function<void(uint64_t offset, bufferlist* data, IoDone done)>;

// The extents cut at chunk boundaries; within one chunk, the span from the
// first allocated byte to the last (SourcePlan). Sorted by offset.
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

// SHA-256 of the chunk [chunk_offset, chunk_offset + chunk_length) whose
// bytes are zeros except `len` bytes of `data` at `data_offset`.
std::array<unsigned char, 32> chunk_sha256(uint64_t chunk_offset, uint64_t chunk_length,
                                           uint64_t data_offset, const char* data, size_t len) {
  Sha256 sha;
  sha.update_zeros(data_offset - chunk_offset);
  sha.update(data, len);
  sha.update_zeros(chunk_offset + chunk_length - (data_offset + len));
  return sha.finish();
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

// Runs the pipeline: `depth` slots, each reading one piece, checking it for
// zeros and digesting it (when digests are wanted), then (unless it is all
// zeros) writing it, then taking the next piece.
Result<CopyStats> run_pipeline(const Transfer& t, const Progress& progress,
                               const CopyOptions& options, CopyStats stats) {
  const auto start = std::chrono::steady_clock::now();
  const uint64_t chunk = t.chunk;
  stats.chunk_size = chunk;
  stats.chunks = (t.size + chunk - 1) / chunk;
  const bool want_digests = options.record || t.on_chunk;
  auto is_confirmed = [&](uint64_t index) {
    return index < options.confirmed.size() && options.confirmed[index];
  };
  auto known_digest = [&](uint64_t index) -> const ChunkDigest* {
    if (index >= options.source_digests.size()) return nullptr;
    const auto& d = options.source_digests[index];
    return d && !d->zero ? &*d : nullptr;
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
  // Zero checks and digests, and for a file the blocking reads and writes,
  // run here.
  asio::thread_pool workers(2);
  // Flush, then record: one batch at a time, in order.
  asio::thread_pool committer(1);
  struct Slot {
    bufferlist data;     // the piece as read
    bufferlist written;  // the part of it being written
    Extent piece;
    ChunkDigest digest;
  };
  std::vector<Slot> slots(std::max<size_t>(1, std::min(options.depth, todo.size())));
  const size_t batch_size = std::max<size_t>(1, std::min<size_t>(8, options.depth));
  size_t next = 0;
  size_t in_flight = 0;
  bool committing = false;
  uint64_t recorded = 0;
  bool stopped = false;  // by options.stop_after_chunks
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
        if (s.ok() && options.stop_after_chunks && recorded >= options.stop_after_chunks &&
            !stopped) {
          stopped = true;
          ::kill(::getpid(), SIGSTOP);
        }
        maybe_commit();
        check_finished();
      });
    });
  };
  auto slot_done = [&](Slot& s) {
    s.data.clear();
    s.written.clear();
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
  auto on_checked = [&](Slot& s, size_t b, size_t e, bool hashed) {
    if (b == e) ++stats.chunks_zero;
    if (hashed) ++stats.chunks_hashed;
    if (b == e || !t.write || !failure.ok()) {
      if (failure.ok()) confirm(s);
      slot_done(s);
      return;
    }
    ++stats.chunks_written;
    stats.written += e - b;
    s.written.substr_of(s.data, static_cast<unsigned>(b), static_cast<unsigned>(e - b));
    t.write(s.piece.offset + b, &s.written, [&loop, &s, &on_written](ssize_t wr) {
      asio::post(loop, [&s, &on_written, wr] { on_written(s, wr); });
    });
  };
  auto on_read = [&](Slot& s, ssize_t r) {
    if (r < 0 || static_cast<uint64_t>(r) != s.piece.length || s.data.length() != s.piece.length) {
      fail(r < 0 ? static_cast<int>(r) : EIO, "read of " + t.src_label, s.piece);
      slot_done(s);
      return;
    }
    ++stats.chunks_read;
    Slot* slot = &s;
    asio::post(
        workers, [slot, chunk, size = t.size, want_digests, &known_digest, &loop, &on_checked] {
          ChunkDigest& d = slot->digest;
          d = ChunkDigest();
          d.index = slot->piece.offset / chunk;
          d.offset = d.index * chunk;
          d.length = std::min(chunk, size - d.offset);
          // One contiguous buffer: what a whole-object read gives; a read
          // assembled from pieces (a sparse object) is joined here.
          const char* bytes = slot->data.c_str();
          const auto span = nonzero_span(bytes, slot->piece.length);
          d.zero = span.first == span.second;
          bool hashed = false;
          if (!d.zero && want_digests) {
            if (const ChunkDigest* known = known_digest(d.index)) {
              d.sha256 = known->sha256;
            } else {
              d.sha256 =
                  chunk_sha256(d.offset, d.length, slot->piece.offset, bytes, slot->piece.length);
              hashed = true;
            }
          }
          asio::post(loop, [slot, span, hashed, &on_checked] {
            on_checked(*slot, span.first, span.second, hashed);
          });
        });
  };
  start_next = [&](Slot& s) {
    if (!failure.ok() || next >= todo.size()) return;
    s.piece = todo[next++];
    ++in_flight;
    t.read(s.piece.offset, s.piece.length, &s.data, [&loop, &s, &on_read](ssize_t r) {
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

// The image calls done from one of librbd's own threads: the IoDone hands
// the result over and returns at once; the work happens on the event loop.
Reader rbd_reader(RbdImage& src) {
  return [&src](uint64_t offset, size_t len, bufferlist* out, IoDone done) {
    src.aio_read(offset, len, out, std::move(done));
  };
}

Writer rbd_writer(RbdImage& dst) {
  return [&dst](uint64_t offset, bufferlist* data, IoDone done) {
    dst.aio_write(offset, data, std::move(done));
  };
}

std::function<Status()> rbd_flusher(RbdImage& dst, const std::string& label) {
  return [&dst, label]() -> Status {
    Status s = dst.flush();
    if (!s.ok()) return s.Prefixed(label);
    return Status::Ok();
  };
}

Result<uint64_t> image_size_of(RbdImage& image, const std::string& label) {
  auto size = image.size();
  if (!size.ok()) return size.status().Prefixed(label);
  return size;
}

Result<uint64_t> object_size(RbdImage& image, const std::string& label) {
  auto info = image.stat();
  if (!info.ok()) return info.status().Prefixed(label);
  return info->object_size;
}

Status check_fits(RbdImage& dst, const std::string& dst_label, uint64_t size) {
  auto dst_size = image_size_of(dst, dst_label);
  if (!dst_size.ok()) return dst_size.status();
  if (*dst_size < size) {
    return Status::Invalid(dst_label + " (" + std::to_string(*dst_size) +
                           " bytes) is smaller than the source (" + std::to_string(size) +
                           " bytes)");
  }
  return Status::Ok();
}

// The allocated objects of `image` as extents (offset, length), sorted, from
// diff_iterate2 against no snapshot.
Result<std::vector<Extent>> allocated_extents(RbdImage& image, const std::string& label,
                                              uint64_t size) {
  std::vector<Extent> extents;
  auto cb = [&extents](uint64_t off, size_t len, bool exists) -> int {
    auto* out = &extents;
    if (!exists) return 0;
    if (!out->empty() && out->back().offset + out->back().length == off) {
      out->back().length += len;
    } else {
      out->push_back({off, len});
    }
    return 0;
  };
  // Against no snapshot, parent data included for a clone, whole objects:
  // with fast-diff, librbd answers from the object map in one read; at byte
  // granularity it asks the OSD about every object of the image, allocated or
  // not (13 ms for 1 GiB on the sandbox, so about a second for 100 GiB). A
  // whole object costs little more to read: librbd asks for a sparse read of
  // an extent of rbd_sparse_read_threshold_bytes or more, so an object store
  // that keeps holes (BlueStore) sends only the data (the sandbox's memstore
  // sends an object from its start either way); a chunk found all zeros (an
  // object a discard left) is not written, and the rest loses its leading and
  // trailing zero blocks. Without fast-diff, or with its map invalid, librbd
  // takes the slow way itself.
  Status s = image.diff_iterate(0, size, cb);
  if (!s.ok()) return s.Prefixed(label);
  std::sort(extents.begin(), extents.end(),
            [](const Extent& a, const Extent& b) { return a.offset < b.offset; });
  return extents;
}

// The transfer of an open, planned RBD source.
Transfer rbd_source(OpenImage& src, const SourcePlan& plan) {
  Transfer t;
  t.pieces = plan.pieces;
  t.chunk = plan.chunk_size;
  t.size = plan.size;
  t.read = rbd_reader(*src.image);
  t.src_label = src.label;
  return t;
}

Result<Transfer> rbd_source(OpenImage& src, uint64_t chunk_size) {
  auto plan = plan_image_source(src, chunk_size);
  if (!plan.ok()) return plan.status();
  return rbd_source(src, *plan);
}

// Runs `t` into the open image `dst`.
Result<CopyStats> run_into_image(Transfer t, OpenImage& dst, const Progress& progress,
                                 const CopyOptions& options) {
  Status fits = check_fits(*dst.image, dst.label, t.size);
  if (!fits.ok()) return fits;
  t.write = rbd_writer(*dst.image);
  t.flush = rbd_flusher(*dst.image, dst.label);
  t.dst_label = dst.label;
  CopyStats stats;
  stats.size = t.size;
  return run_pipeline(t, progress, options, stats);
}

}  // namespace

Result<std::unique_ptr<OpenImage>> open_engine_image(const ImageRef& ref, bool read_only) {
  auto opened = std::make_unique<OpenImage>();
  opened->label = ref.label;
  auto image = ref.io->open_image(ref.name, ref.snap, read_only);
  if (!image.ok()) {
    const int r = image.status().err();
    return Status::Error(r, "cannot open " + ref.label + ": " + ceph_strerror(r));
  }
  opened->image = std::move(image).value();
  return opened;
}

Result<std::unique_ptr<OpenImage>> open_image_data_for_engine(Pool& io, const std::string& name,
                                                              const std::string& label) {
  auto opened = open_engine_image({&io, name, "", label + " " + image_spec(io, name)}, true);
  if (!opened.ok()) return opened.status();
  auto has_snap_or = (*opened)->image->snap_exists(kImageSnapshot);
  Status s = has_snap_or.status();
  const bool has_snap = has_snap_or.ok() && *has_snap_or;
  if (has_snap) s = (*opened)->image->snap_set(kImageSnapshot);
  if (!s.ok()) {
    const int r = s.err();
    return Status::Error(
        r, "cannot open " + (*opened)->label + "@" + kImageSnapshot + ": " + ceph_strerror(r));
  }
  if (has_snap) (*opened)->label += "@" + kImageSnapshot;
  return opened;
}

Result<SourcePlan> plan_image_source(OpenImage& src, uint64_t chunk_size) {
  auto size = image_size_of(*src.image, src.label);
  if (!size.ok()) return size.status();
  auto chunk = chunk_size ? Result<uint64_t>(chunk_size) : object_size(*src.image, src.label);
  if (!chunk.ok()) return chunk.status();
  if (*chunk == 0) return Status::Invalid("chunk size 0 for " + src.label);
  auto extents = allocated_extents(*src.image, src.label, *size);
  if (!extents.ok()) return extents.status();
  SourcePlan plan;
  plan.size = *size;
  plan.chunk_size = *chunk;
  plan.pieces = chunk_pieces(*extents, *chunk, *size);
  return plan;
}

CopyOptions default_copy_options(const char* stage) {
  CopyOptions options;
  options.stage = stage;
  if (const char* env = std::getenv("RBDVOL_COPY_DEPTH")) {
    long depth = std::strtol(env, nullptr, 10);
    if (depth >= 1 && depth <= 256) options.depth = static_cast<size_t>(depth);
  }
  return options;
}

Result<CopyStats> copy_planned_image_data(OpenImage& src, const SourcePlan& plan, OpenImage& dst,
                                          const Progress& progress, const CopyOptions& options) {
  return run_into_image(rbd_source(src, plan), dst, progress, options);
}

namespace {

// The data extents of the first `size` bytes of the regular file `fd`; a file
// system without SEEK_DATA gives one.
std::vector<Extent> file_data_extents(int fd, uint64_t size) {
  std::vector<Extent> extents;
  off_t pos = 0;
  while (static_cast<uint64_t>(pos) < size) {
    off_t data = ::lseek(fd, pos, SEEK_DATA);
    if (data < 0 && errno == ENXIO) break;
    if (data < 0) return {{0, size}};
    off_t hole = ::lseek(fd, data, SEEK_HOLE);
    if (hole < 0) hole = static_cast<off_t>(size);
    const uint64_t end = std::min<uint64_t>(static_cast<uint64_t>(hole), size);
    if (static_cast<uint64_t>(data) < end) {
      extents.push_back({static_cast<uint64_t>(data), end - static_cast<uint64_t>(data)});
    }
    pos = hole;
  }
  return extents;
}

// `options` for a transfer that reads and digests only: nothing recorded,
// nothing skipped, and every chunk hashed from its bytes.
CopyOptions read_only(CopyOptions options) {
  options.record = nullptr;
  options.confirmed.clear();
  options.source_digests.clear();
  return options;
}

// The transfer of the first `size` bytes of the regular file `fd`, in chunks
// of `chunk`: only its data extents are read. pread blocks: it runs on
// `readers`, never on the event loop. Each piece is read into a page-aligned
// buffer of its own, which a write then sends.
Transfer file_source(int fd, const std::string& path, uint64_t size, uint64_t chunk,
                     asio::thread_pool& readers) {
  Transfer t;
  t.pieces = chunk_pieces(file_data_extents(fd, size), chunk, size);
  t.chunk = chunk;
  t.size = size;
  t.read = [fd, &readers](uint64_t offset, size_t len, bufferlist* out, IoDone done) {
    asio::post(readers, [fd, offset, len, out, done = std::move(done)] {
      ceph::bufferptr buf(ceph::buffer::create_page_aligned(static_cast<unsigned>(len)));
      size_t got = 0;
      while (got < len) {
        ssize_t n = ::pread(fd, buf.c_str() + got, len - got, static_cast<off_t>(offset + got));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          done(-errno);
          return;
        }
        if (n == 0) break;
        got += static_cast<size_t>(n);
      }
      buf.set_length(static_cast<unsigned>(got));
      out->push_back(std::move(buf));
      done(static_cast<ssize_t>(got));
    });
  };
  t.src_label = path;
  return t;
}

}  // namespace

Result<CopyStats> copy_file_data(int fd, const std::string& path, uint64_t size,
                                 const ImageRef& dst_ref, const Progress& progress,
                                 const CopyOptions& options) {
  auto dst = open_engine_image(dst_ref, false);
  if (!dst.ok()) return dst.status();
  auto chunk = options.chunk_size ? Result<uint64_t>(options.chunk_size)
                                  : object_size(*(*dst)->image, dst_ref.label);
  if (!chunk.ok()) return chunk.status();
  asio::thread_pool readers(2);
  auto result =
      run_into_image(file_source(fd, path, size, *chunk, readers), **dst, progress, options);
  readers.join();
  return result;
}

Result<CopyStats> digest_file_data(int fd, const std::string& path, uint64_t size,
                                   uint64_t chunk_size,
                                   const std::function<void(const ChunkDigest&)>& on_chunk,
                                   const Progress& progress, const CopyOptions& options) {
  if (chunk_size == 0) return Status::Invalid("chunk size 0 for " + path);
  asio::thread_pool readers(2);
  Transfer t = file_source(fd, path, size, chunk_size, readers);
  t.on_chunk = on_chunk;
  CopyStats stats;
  stats.size = size;
  auto result = run_pipeline(t, progress, read_only(options), stats);
  readers.join();
  return result;
}

Result<CopyStats> download_image_data(OpenImage& src, int fd, const std::string& path,
                                      const Progress& progress, const CopyOptions& options) {
  auto source = rbd_source(src, options.chunk_size);
  if (!source.ok()) return source.status();
  Transfer t = std::move(source).value();
  // The file gets its size first, as one hole; only data is written into it.
  if (::ftruncate(fd, static_cast<off_t>(t.size)) < 0) {
    return Status::Error(errno, "cannot size " + path + " to " + std::to_string(t.size) +
                                    " bytes: " + std::strerror(errno));
  }
  // pwrite blocks: it runs on a pool, never on the event loop.
  asio::thread_pool writers(2);
  t.write = [fd, &writers](uint64_t offset, bufferlist* data, IoDone done) {
    asio::post(writers, [fd, offset, data, done = std::move(done)] {
      uint64_t at = offset;
      for (const auto& piece : data->buffers()) {
        size_t put = 0;
        while (put < piece.length()) {
          ssize_t n =
              ::pwrite(fd, piece.c_str() + put, piece.length() - put, static_cast<off_t>(at + put));
          if (n < 0 && errno == EINTR) continue;
          if (n < 0) {
            done(-errno);
            return;
          }
          put += static_cast<size_t>(n);
        }
        at += piece.length();
      }
      done(static_cast<ssize_t>(at - offset));
    });
  };
  t.flush = [fd, path]() -> Status {
    if (::fdatasync(fd) < 0) {
      return Status::Error(errno, "cannot flush " + path + ": " + std::strerror(errno));
    }
    return Status::Ok();
  };
  t.dst_label = path;
  CopyStats stats;
  stats.size = t.size;
  auto result = run_pipeline(t, progress, options, stats);
  writers.join();
  return result;
}

Result<CopyStats> digest_image_data(OpenImage& image, uint64_t chunk_size,
                                    const std::function<void(const ChunkDigest&)>& on_chunk,
                                    const Progress& progress, const CopyOptions& options) {
  if (chunk_size == 0) return Status::Invalid("chunk size 0 for " + image.label);
  auto source = rbd_source(image, chunk_size);
  if (!source.ok()) return source.status();
  Transfer t = std::move(source).value();
  t.on_chunk = on_chunk;
  CopyStats stats;
  stats.size = t.size;
  return run_pipeline(t, progress, read_only(options), stats);
}

}  // namespace rbdvol::plugin
