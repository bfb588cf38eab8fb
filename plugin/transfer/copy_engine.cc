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
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

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

// Blocking I/O (a file's pread and pwrite): the byte count or a negative
// errno. The pipeline runs it on threads of its own, never on the loop.
using BlockingReader = std::function<ssize_t(uint64_t offset, size_t len, bufferlist* out)>;
using BlockingWriter = std::function<ssize_t(uint64_t offset, const bufferlist& data)>;

// What the pipeline moves, and where. A source has `read` or `read_blocking`;
// a destination, if any, `write` or `write_blocking`.
struct CopyJob {
  std::vector<Extent> pieces;  // allocated pieces, at most one per chunk, sorted
  uint64_t chunk = 0;
  uint64_t size = 0;
  Reader read;
  BlockingReader read_blocking;
  Writer write;  // neither: read and digest only
  BlockingWriter write_blocking;
  std::function<Status()> flush;                     // blocking; null when nothing is written
  std::function<void(const ChunkDigest&)> on_chunk;  // on the loop; may be null
  std::string src_label, dst_label;
  bool writes() const { return write || write_blocking; }
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

// The pipeline of one transfer: `depth` slots, each reading one piece,
// checking it for zeros and digesting it (when digests are wanted), then
// (unless it is all zeros) writing it, then taking the next piece.
//
// Threads: the loop (an io_context run by run() on the calling thread) owns
// every member below `loop_` that is not marked otherwise; the zero checks
// and digests run on `workers_`, blocking I/O on `blocking_io_`, the
// flush-then-record step on `committer_`, and each posts its result back to
// the loop. librbd's completion threads post too (post_from_foreign). run()
// returns only once every one of these threads is done with the pipeline:
// its own pools are joined and every foreign completion has returned from
// its post, so nothing touches the loop or a slot after it is gone.
class Pipeline {
 public:
  Pipeline(const CopyJob& t, const Progress& progress, const CopyOptions& options, CopyStats stats);
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Once only.
  Result<CopyStats> run();

 private:
  struct Slot {
    bufferlist data;     // the piece as read
    bufferlist written;  // the part of it being written
    Extent piece;
    ChunkDigest digest;
  };

  bool is_confirmed(uint64_t index) const {
    return index < options_.confirmed.size() && options_.confirmed[index];
  }
  // The source record's digest of chunk `index`, or null.
  const ChunkDigest* known_digest(uint64_t index) const;
  // Records the chunks that are holes of the source, before any data moves.
  Status record_holes();

  // On the loop.
  void start_next(Slot& s);
  void on_read(Slot& s, ssize_t r);
  void on_checked(Slot& s, size_t begin, size_t end, bool hashed);
  void on_written(Slot& s, ssize_t r);
  void confirm(Slot& s);
  void slot_done(Slot& s);
  void maybe_commit();
  void on_committed(size_t batch, const Status& s);
  void check_finished();
  void fail(int r, const std::string& what, const Extent& piece);

  // On a worker: the zero check and digest of a piece read into `s`.
  void check(Slot& s);

  // Posts `handler` to the loop from a thread the pipeline does not own (a
  // librbd completion). Each such thread is counted from the I/O's start
  // (expect_foreign) until its post has returned; run() waits for the count
  // to drop to zero before the loop may be destroyed.
  void expect_foreign();
  void post_from_foreign(std::function<void()> handler);
  void wait_for_foreign();

  const CopyJob& t_;
  const Progress& progress_;
  const CopyOptions& options_;
  CopyStats stats_;
  const uint64_t chunk_;
  const bool want_digests_;
  const size_t batch_size_;
  std::vector<Extent> todo_;
  uint64_t done_bytes_ = 0;

  std::mutex foreign_mutex_;
  std::condition_variable foreign_done_;
  size_t foreign_running_ = 0;  // guarded by foreign_mutex_

  // Declared before the pools and the slots: destroyed after them.
  asio::io_context loop_{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::vector<Slot> slots_;
  size_t next_ = 0;
  size_t in_flight_ = 0;
  bool committing_ = false;
  uint64_t recorded_ = 0;
  bool stopped_ = false;  // by options.stop_after_chunks
  std::vector<ChunkDigest> pending_;
  Status failure_;

  // Zero checks and digests.
  asio::thread_pool workers_{2};
  // Flush, then record: one batch at a time, in order.
  asio::thread_pool committer_{1};
  // A file's reads or writes; only for a transfer with blocking I/O.
  std::optional<asio::thread_pool> blocking_io_;
};

Pipeline::Pipeline(const CopyJob& t, const Progress& progress, const CopyOptions& options,
                   CopyStats stats)
    : t_(t),
      progress_(progress),
      options_(options),
      stats_(stats),
      chunk_(t.chunk),
      want_digests_(options.record || t.on_chunk),
      batch_size_(std::max<size_t>(1, std::min<size_t>(8, options.depth))),
      guard_(asio::make_work_guard(loop_)) {
  stats_.chunk_size = chunk_;
  stats_.chunks = (t_.size + chunk_ - 1) / chunk_;
  for (const auto& p : t_.pieces) {
    stats_.allocated += p.length;
    if (is_confirmed(p.offset / chunk_)) {
      ++stats_.chunks_skipped_confirmed;
      done_bytes_ += p.length;
    } else {
      todo_.push_back(p);
    }
  }
  slots_.resize(std::max<size_t>(1, std::min(options_.depth, todo_.size())));
  if (t_.read_blocking || t_.write_blocking) blocking_io_.emplace(2);
}

const ChunkDigest* Pipeline::known_digest(uint64_t index) const {
  if (index >= options_.source_digests.size()) return nullptr;
  const auto& d = options_.source_digests[index];
  return d && !d->zero ? &*d : nullptr;
}

Status Pipeline::record_holes() {
  if (!options_.record) return Status::Ok();
  // Holes need no data, so they are confirmed before any is written.
  const auto runs = hole_runs(t_.pieces, chunk_, t_.size);
  for (size_t i = 0; i < runs.size(); i += 512) {
    RETURN_IF_ERROR(options_.record(std::vector<ChunkDigest>(
        runs.begin() + static_cast<long>(i),
        runs.begin() + static_cast<long>(std::min(runs.size(), i + 512)))));
  }
  return Status::Ok();
}

Result<CopyStats> Pipeline::run() {
  const auto start = std::chrono::steady_clock::now();
  Status holes = record_holes();
  if (holes.ok()) {
    progress_(options_.stage, done_bytes_, stats_.allocated);
    for (auto& s : slots_) start_next(s);
    check_finished();
    loop_.run();
  }
  // Whatever ended the loop, no thread may use the pipeline once run()
  // returns: every task already posted to a pool runs to its end first.
  workers_.join();
  committer_.join();
  if (blocking_io_) blocking_io_->join();
  wait_for_foreign();
  RETURN_IF_ERROR(holes);
  RETURN_IF_ERROR(failure_);
  if (t_.flush) RETURN_IF_ERROR(t_.flush());
  stats_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats_;
}

void Pipeline::expect_foreign() {
  std::lock_guard<std::mutex> lock(foreign_mutex_);
  ++foreign_running_;
}

void Pipeline::post_from_foreign(std::function<void()> handler) {
  asio::post(loop_, std::move(handler));
  // Notified under the lock: wait_for_foreign cannot return (and the
  // pipeline go) before this thread lets go of the mutex.
  std::lock_guard<std::mutex> lock(foreign_mutex_);
  if (--foreign_running_ == 0) foreign_done_.notify_all();
}

void Pipeline::wait_for_foreign() {
  std::unique_lock<std::mutex> lock(foreign_mutex_);
  foreign_done_.wait(lock, [this] { return foreign_running_ == 0; });
}

void Pipeline::fail(int r, const std::string& what, const Extent& piece) {
  if (!failure_.ok()) return;
  failure_ =
      Status::Error(r, what + " at offset " + std::to_string(piece.offset) + " (" +
                           std::to_string(piece.length) + " bytes) failed: " + ceph_strerror(r));
}

void Pipeline::check_finished() {
  if (in_flight_ == 0 && !committing_ && (pending_.empty() || !failure_.ok())) guard_.reset();
}

void Pipeline::start_next(Slot& s) {
  if (!failure_.ok() || next_ >= todo_.size()) return;
  s.piece = todo_[next_++];
  ++in_flight_;
  if (t_.read_blocking) {
    asio::post(*blocking_io_, [this, &s] {
      const ssize_t r = t_.read_blocking(s.piece.offset, s.piece.length, &s.data);
      asio::post(loop_, [this, &s, r] { on_read(s, r); });
    });
    return;
  }
  expect_foreign();
  t_.read(s.piece.offset, s.piece.length, &s.data,
          [this, &s](ssize_t r) { post_from_foreign([this, &s, r] { on_read(s, r); }); });
}

void Pipeline::on_read(Slot& s, ssize_t r) {
  if (r < 0 || static_cast<uint64_t>(r) != s.piece.length || s.data.length() != s.piece.length) {
    fail(r < 0 ? static_cast<int>(r) : EIO, "read of " + t_.src_label, s.piece);
    slot_done(s);
    return;
  }
  ++stats_.chunks_read;
  asio::post(workers_, [this, &s] { check(s); });
}

void Pipeline::check(Slot& s) {
  ChunkDigest& d = s.digest;
  d = ChunkDigest();
  d.index = s.piece.offset / chunk_;
  d.offset = d.index * chunk_;
  d.length = std::min(chunk_, t_.size - d.offset);
  // One contiguous buffer: what a whole-object read gives; a read assembled
  // from pieces (a sparse object) is joined here.
  const char* bytes = s.data.c_str();
  const auto span = nonzero_span(bytes, s.piece.length);
  d.zero = span.first == span.second;
  bool hashed = false;
  if (!d.zero && want_digests_) {
    if (const ChunkDigest* known = known_digest(d.index)) {
      d.sha256 = known->sha256;
    } else {
      d.sha256 = chunk_sha256(d.offset, d.length, s.piece.offset, bytes, s.piece.length);
      hashed = true;
    }
  }
  asio::post(loop_, [this, &s, span, hashed] { on_checked(s, span.first, span.second, hashed); });
}

void Pipeline::on_checked(Slot& s, size_t begin, size_t end, bool hashed) {
  if (begin == end) ++stats_.chunks_zero;
  if (hashed) ++stats_.chunks_hashed;
  if (begin == end || !t_.writes() || !failure_.ok()) {
    if (failure_.ok()) confirm(s);
    slot_done(s);
    return;
  }
  ++stats_.chunks_written;
  stats_.written += end - begin;
  s.written.substr_of(s.data, static_cast<unsigned>(begin), static_cast<unsigned>(end - begin));
  const uint64_t offset = s.piece.offset + begin;
  if (t_.write_blocking) {
    asio::post(*blocking_io_, [this, &s, offset] {
      const ssize_t r = t_.write_blocking(offset, s.written);
      asio::post(loop_, [this, &s, r] { on_written(s, r); });
    });
    return;
  }
  expect_foreign();
  t_.write(offset, &s.written,
           [this, &s](ssize_t r) { post_from_foreign([this, &s, r] { on_written(s, r); }); });
}

void Pipeline::on_written(Slot& s, ssize_t r) {
  if (r < 0) {
    fail(static_cast<int>(r), "write of " + t_.dst_label, s.piece);
  } else {
    confirm(s);
  }
  slot_done(s);
}

void Pipeline::confirm(Slot& s) {
  done_bytes_ += s.piece.length;
  progress_(options_.stage, done_bytes_, stats_.allocated);
  if (options_.record) pending_.push_back(s.digest);
  if (t_.on_chunk) t_.on_chunk(s.digest);
}

void Pipeline::slot_done(Slot& s) {
  s.data.clear();
  s.written.clear();
  --in_flight_;
  start_next(s);
  maybe_commit();
  check_finished();
}

void Pipeline::maybe_commit() {
  if (!options_.record || committing_ || pending_.empty() || !failure_.ok()) return;
  if (in_flight_ > 0 && pending_.size() < batch_size_) return;
  committing_ = true;
  auto batch = std::make_shared<std::vector<ChunkDigest>>(std::move(pending_));
  pending_.clear();
  asio::post(committer_, [this, batch] {
    Status s = t_.flush ? t_.flush() : Status::Ok();
    if (s.ok()) s = options_.record(*batch);
    asio::post(loop_, [this, batch, s] { on_committed(batch->size(), s); });
  });
}

void Pipeline::on_committed(size_t batch, const Status& s) {
  committing_ = false;
  if (!s.ok() && failure_.ok()) failure_ = s;
  recorded_ += batch;
  if (s.ok() && options_.kill_after_chunks && recorded_ >= options_.kill_after_chunks) {
    ::kill(::getpid(), SIGKILL);
  }
  if (s.ok() && options_.stop_after_chunks && recorded_ >= options_.stop_after_chunks &&
      !stopped_) {
    stopped_ = true;
    ::kill(::getpid(), SIGSTOP);
  }
  maybe_commit();
  check_finished();
}

Result<CopyStats> run_pipeline(const CopyJob& t, const Progress& progress,
                               const CopyOptions& options, CopyStats stats) {
  Pipeline pipeline(t, progress, options, stats);
  return pipeline.run();
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
CopyJob rbd_source(OpenImage& src, const SourcePlan& plan) {
  CopyJob t;
  t.pieces = plan.pieces;
  t.chunk = plan.chunk_size;
  t.size = plan.size;
  t.read = rbd_reader(*src.image);
  t.src_label = src.label;
  return t;
}

Result<CopyJob> rbd_source(OpenImage& src, uint64_t chunk_size) {
  auto plan = plan_image_source(src, chunk_size);
  if (!plan.ok()) return plan.status();
  return rbd_source(src, *plan);
}

// Runs `t` into the open image `dst`.
Result<CopyStats> run_into_image(CopyJob t, OpenImage& dst, const Progress& progress,
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
// of `chunk`: only its data extents are read. pread blocks: the pipeline runs
// it on its own threads, never on the event loop. Each piece is read into a
// page-aligned buffer of its own, which a write then sends.
CopyJob file_source(int fd, const std::string& path, uint64_t size, uint64_t chunk) {
  CopyJob t;
  t.pieces = chunk_pieces(file_data_extents(fd, size), chunk, size);
  t.chunk = chunk;
  t.size = size;
  t.read_blocking = [fd](uint64_t offset, size_t len, bufferlist* out) -> ssize_t {
    ceph::bufferptr buf(ceph::buffer::create_page_aligned(static_cast<unsigned>(len)));
    size_t got = 0;
    while (got < len) {
      ssize_t n = ::pread(fd, buf.c_str() + got, len - got, static_cast<off_t>(offset + got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return -errno;
      if (n == 0) break;
      got += static_cast<size_t>(n);
    }
    buf.set_length(static_cast<unsigned>(got));
    out->push_back(std::move(buf));
    return static_cast<ssize_t>(got);
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
  return run_into_image(file_source(fd, path, size, *chunk), **dst, progress, options);
}

Result<CopyStats> digest_file_data(int fd, const std::string& path, uint64_t size,
                                   uint64_t chunk_size,
                                   const std::function<void(const ChunkDigest&)>& on_chunk,
                                   const Progress& progress, const CopyOptions& options) {
  if (chunk_size == 0) return Status::Invalid("chunk size 0 for " + path);
  CopyJob t = file_source(fd, path, size, chunk_size);
  t.on_chunk = on_chunk;
  CopyStats stats;
  stats.size = size;
  return run_pipeline(t, progress, read_only(options), stats);
}

Result<CopyStats> download_image_data(OpenImage& src, int fd, const std::string& path,
                                      const Progress& progress, const CopyOptions& options) {
  auto source = rbd_source(src, options.chunk_size);
  if (!source.ok()) return source.status();
  CopyJob t = std::move(source).value();
  // The file gets its size first, as one hole; only data is written into it.
  if (::ftruncate(fd, static_cast<off_t>(t.size)) < 0) {
    return Status::Error(errno, "cannot size " + path + " to " + std::to_string(t.size) +
                                    " bytes: " + std::strerror(errno));
  }
  // pwrite blocks: the pipeline runs it on its own threads, never on the
  // event loop.
  t.write_blocking = [fd](uint64_t offset, const bufferlist& data) -> ssize_t {
    uint64_t at = offset;
    for (const auto& piece : data.buffers()) {
      size_t put = 0;
      while (put < piece.length()) {
        ssize_t n =
            ::pwrite(fd, piece.c_str() + put, piece.length() - put, static_cast<off_t>(at + put));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -errno;
        put += static_cast<size_t>(n);
      }
      at += piece.length();
    }
    return static_cast<ssize_t>(at - offset);
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
  return run_pipeline(t, progress, options, stats);
}

Result<CopyStats> digest_image_data(OpenImage& image, uint64_t chunk_size,
                                    const std::function<void(const ChunkDigest&)>& on_chunk,
                                    const Progress& progress, const CopyOptions& options) {
  if (chunk_size == 0) return Status::Invalid("chunk size 0 for " + image.label);
  auto source = rbd_source(image, chunk_size);
  if (!source.ok()) return source.status();
  CopyJob t = std::move(source).value();
  t.on_chunk = on_chunk;
  CopyStats stats;
  stats.size = t.size;
  return run_pipeline(t, progress, read_only(options), stats);
}

}  // namespace rbdvol::plugin
