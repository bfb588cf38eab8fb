#include "plugin/transfer/image_transfer.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

#include "plugin/ceph/omap_read.h"
#include "plugin/ceph/rbd_image.h"
#include "plugin/fan_out.h"
#include "plugin/records/naming.h"
#include "plugin/transfer/sha256.h"

namespace rbdvol::plugin {

namespace {

// The advisory lock on the chunk record that a writer growing the image holds.
const char kGrowLock[] = "rbdvol.transfer.grow";

bool all_zero(const char* buf, uint64_t len) {
  static const char zeros[4096] = {0};
  for (uint64_t at = 0; at < len; at += sizeof(zeros)) {
    const uint64_t n = std::min<uint64_t>(sizeof(zeros), len - at);
    if (std::memcmp(buf + at, zeros, n) != 0) return false;
  }
  return true;
}

// Whether `image` holds any object in [offset, offset+length): data an
// earlier write left there, which a chunk of zeros must overwrite.
Result<bool> holds_data(RbdImage& image, uint64_t offset, uint64_t length) {
  bool found = false;
  Status s = image.diff_iterate(offset, length, [&](uint64_t, size_t, bool exists) {
    if (exists) found = true;
    return 0;
  });
  if (!s.ok()) return s;
  return found;
}

// Makes the image of an undeclared-size transfer at least `end` bytes long,
// in steps of kTransferGrowStep, and its record say so; `t.header` gets the
// record as it is then. Under the record's advisory lock: another writer may
// have grown it meanwhile.
Status grow_transfer(Transfer& t, RbdImage& image, uint64_t end) {
  static std::atomic<uint64_t> calls{0};
  const std::string oid = chunk_record_object(t.rbd_name);
  const std::string cookie = this_process_owner() + "#" + std::to_string(++calls);
  for (int attempt = 0;; ++attempt) {
    Status s = t.io->lock_exclusive(oid, kGrowLock, cookie, 30);
    if (s.ok()) break;
    if (s.err() != EBUSY || attempt >= 3000) {
      return s.Prefixed("cannot lock " + t.io->name() + "/" + oid + " to grow " + t.label);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Status result = [&]() -> Status {
    auto header = read_chunk_record_header(*t.io, t.rbd_name);
    if (!header.ok()) return header.status();
    if (!*header) return Status::NotFound("the transfer of " + t.label + " was removed");
    if ((*header)->size < end) {
      const uint64_t size = (end + kTransferGrowStep - 1) / kTransferGrowStep * kTransferGrowStep;
      Status s = image.resize(size, false);
      if (!s.ok()) return s.Prefixed("cannot grow " + t.label + " to " + std::to_string(size));
      (*header)->size = size;
      RETURN_IF_ERROR(write_chunk_record_header(*t.io, t.rbd_name, **header, false));
    }
    t.header = **header;
    return Status::Ok();
  }();
  Status unlocked = t.io->unlock(oid, kGrowLock, cookie);
  if (result.ok() && !unlocked.ok()) return unlocked.Prefixed("cannot unlock " + oid);
  return result;
}

// The asynchronous I/O of one call: each request's completion, waited for
// in order on the calling thread. Every request is waited for before this
// goes (drain), so no callback outlives the buffers it was given.
class InFlight {
 public:
  struct Request {
    uint64_t offset = 0;
    uint64_t length = 0;
    ceph::bufferlist data;
    ChunkDigest digest;  // of a write
    // The SHA-256 of a write's data, computed on a thread of its own while
    // the write goes to the cluster (invalid when there is none to wait for).
    std::future<Sha256::Digest> sha256;
    bool zero = false;  // of a read: not read, zeros
    bool done = false;
    ssize_t result = 0;
  };
  ~InFlight() { drain(); }

  size_t size() const { return queue_.size(); }
  Request& add() {
    queue_.push_back(std::make_unique<Request>());
    return *queue_.back();
  }
  RbdImage::IoDone completion(Request& r) {
    return [this, &r](ssize_t result) {
      std::lock_guard<std::mutex> lock(mu_);
      r.result = result;
      r.done = true;
      cv_.notify_all();
    };
  }
  // Marks a request done without I/O.
  void complete(Request& r) {
    std::lock_guard<std::mutex> lock(mu_);
    r.done = true;
  }
  // Waits for the oldest request and hands it over.
  std::unique_ptr<Request> pop() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return queue_.front()->done; });
    auto r = std::move(queue_.front());
    queue_.pop_front();
    return r;
  }
  void drain() {
    while (!queue_.empty()) pop();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Request>> queue_;
};

}  // namespace

Status check_transfer_chunk_size(uint64_t chunk_size) {
  if (chunk_size < (64u << 10) || chunk_size > (64u << 20) || chunk_size % 4096 != 0) {
    return Status::Invalid("chunk_size " + std::to_string(chunk_size) +
                           " must be a multiple of 4096 from 65536 (64 KiB) to 67108864 (64 MiB)");
  }
  return Status::Ok();
}

Result<Transfer> find_transfer(Driver& driver, const std::string& id, const std::string& backend) {
  ASSIGN_OR_RETURN(std::string uuid, uuid_from_id(id, kImagePrefix, "image"));
  const std::string rbd_name = kImagePrefix + uuid;
  std::vector<Cluster*> clusters;
  if (!backend.empty()) {
    ASSIGN_OR_RETURN(Cluster * c, driver.enabled_cluster(backend));
    clusters.push_back(c);
  } else {
    clusters = driver.cluster_list();
  }
  struct Found {
    PoolPtr io;
    std::optional<ChunkRecordHeader> header;
    uint64_t version = 0;
  };
  auto found = fan_out(clusters, [&](Cluster* c) -> Result<Found> {
    auto io = c->open_image_pool();
    if (!io.ok()) return io.status();
    Found f;
    auto header = read_chunk_record_header(**io, rbd_name, &f.version);
    if (!header.ok()) return header.status();
    f.header = *header;
    f.io = std::move(io).value();
    return f;
  });
  std::string unreachable;
  for (size_t i = 0; i < found.size(); ++i) {
    if (!found[i].ok()) {
      unreachable += "; backend " + clusters[i]->id() + ": " + found[i].status().message();
      continue;
    }
    if (!found[i]->header) continue;
    const std::string label =
        "backend " + clusters[i]->id() + " " + image_spec(*found[i]->io, rbd_name);
    if (found[i]->header->source != kTransferSource) {
      return Status::Invalid("image " + uuid + " (" + label +
                             ") was not made by a transfer (its chunk record names " +
                             found[i]->header->source + ")");
    }
    Transfer t;
    t.uuid = uuid;
    t.backend = clusters[i]->id();
    t.rbd_name = rbd_name;
    t.label = label;
    t.cluster = clusters[i];
    t.io = std::move(found[i]->io);
    t.header = *found[i]->header;
    t.record_version = found[i]->version;
    return t;
  }
  if (!unreachable.empty()) {
    return Status::Error(EHOSTUNREACH, "image " + uuid +
                                           ": no transfer found in the backends that answered "
                                           "(not searched:" +
                                           unreachable.substr(1) + ")");
  }
  return Status::NotFound("image " + uuid + ": no transfer in " +
                          (backend.empty() ? std::string("any backend") : "backend " + backend) +
                          " (image.transfer_begin starts one)");
}

Result<TransferWrite> write_transfer_data(Transfer& t, uint64_t offset, DataStream& stream,
                                          const Progress& progress, uint64_t kill_after_chunks) {
  if (t.complete()) {
    return Status::Invalid("image " + t.uuid + " (" + t.label +
                           ") is complete: its transfer takes no more data");
  }
  const uint64_t cs = t.header.chunk_size;
  const uint64_t declared = t.header.transfer_size;
  if (offset % cs != 0) {
    return Status::Invalid("offset " + std::to_string(offset) +
                           " is not a multiple of the transfer's chunk size " + std::to_string(cs));
  }
  if (declared && offset >= declared) {
    return Status::Error(ERANGE, "offset " + std::to_string(offset) + " is past the end of image " +
                                     t.uuid + " (" + std::to_string(declared) + " bytes)");
  }
  ASSIGN_OR_RETURN(ImagePtr image, open_image(*t.io, t.rbd_name, false));

  TransferWrite out;
  out.first_chunk = out.last_chunk = offset / cs;
  InFlight inflight;
  std::vector<ChunkDigest> ready;  // written (or zero), not yet recorded
  uint64_t recorded = 0;
  // Flushes what was written and records the digests of `ready`.
  auto record_ready = [&]() -> Status {
    if (ready.empty()) return Status::Ok();
    Status s = image->flush();
    if (!s.ok()) return s.Prefixed("cannot flush " + t.label);
    RETURN_IF_ERROR(record_chunk_digests(*t.io, t.rbd_name, ready));
    recorded += ready.size();
    ready.clear();
    if (kill_after_chunks && recorded >= kill_after_chunks) ::kill(::getpid(), SIGKILL);
    return Status::Ok();
  };
  // Waits for the oldest write; its chunk becomes ready.
  auto finish_oldest = [&]() -> Status {
    auto done = inflight.pop();
    if (done->result < 0) {
      const int r = static_cast<int>(-done->result);
      return Status::Error(r, "cannot write " + std::to_string(done->length) + " bytes at " +
                                  std::to_string(done->offset) + " of " + t.label + ": " +
                                  ceph_strerror(-r));
    }
    if (done->sha256.valid()) done->digest.sha256 = done->sha256.get();
    ready.push_back(done->digest);
    return Status::Ok();
  };
  // Records when a batch is ready (or the test hook's count is reached).
  auto maybe_record = [&]() -> Status {
    const bool hook = kill_after_chunks && recorded + ready.size() >= kill_after_chunks;
    if (ready.size() >= 2 * kTransferDepth || hook) return record_ready();
    return Status::Ok();
  };

  Status s = [&]() -> Status {
    uint64_t at = offset;
    for (;;) {
      uint64_t want = cs;
      if (declared) {
        if (at >= declared) {
          char probe;
          ASSIGN_OR_RETURN(uint64_t more, stream.read_full(&probe, 1));
          if (more) {
            return Status::Error(ERANGE, "the data goes on past the end of image " + t.uuid + " (" +
                                             std::to_string(declared) + " bytes)");
          }
          return Status::Ok();
        }
        want = std::min(cs, declared - at);
      }
      ceph::bufferptr buf(ceph::buffer::create_page_aligned(static_cast<unsigned>(want)));
      ASSIGN_OR_RETURN(uint64_t n, stream.read_full(buf.c_str(), want));
      if (n == 0) return Status::Ok();
      if (n < want && declared) {
        return Status::Invalid("the data ends " + std::to_string(n) + " bytes into chunk " +
                               std::to_string(at / cs) + " (offset " + std::to_string(at) +
                               "): only the image's last chunk, which ends at its size " +
                               std::to_string(declared) + ", may be short");
      }
      if (!declared && at + n > t.header.size) RETURN_IF_ERROR(grow_transfer(t, *image, at + n));
      ChunkDigest d;
      d.index = at / cs;
      d.offset = at;
      d.length = n;
      d.zero = all_zero(buf.c_str(), n);
      bool write = true;
      if (d.zero) {
        ASSIGN_OR_RETURN(bool data, holds_data(*image, at, n));
        write = data;
        ++out.chunks_zero;
      }
      if (write) {
        while (inflight.size() >= kTransferDepth - 1) {
          RETURN_IF_ERROR(finish_oldest());
          RETURN_IF_ERROR(maybe_record());
        }
        auto& w = inflight.add();
        w.offset = at;
        w.length = n;
        w.digest = d;
        buf.set_length(static_cast<unsigned>(n));
        if (!d.zero) {
          // Hashed beside the write rather than before it: this thread goes
          // back to reading the stream (whose own reader may hash too).
          w.sha256 = std::async(std::launch::async, [data = buf] {
            Sha256 sha;
            sha.update(data.c_str(), data.length());
            return sha.finish();
          });
        }
        w.data.append(std::move(buf));
        image->aio_write(at, &w.data, inflight.completion(w));
      } else {
        ready.push_back(d);
        RETURN_IF_ERROR(maybe_record());
      }
      out.last_chunk = d.index;
      ++out.chunks;
      out.written += n;
      at += n;
      progress("write", out.written, declared ? declared - offset : 0);
      if (n < want) return Status::Ok();  // the data ended (in a short last chunk)
    }
  }();
  // Whatever happened, what was written is waited for, and what was written
  // well is recorded.
  while (inflight.size() > 0) {
    Status w = finish_oldest();
    if (s.ok()) s = w;
  }
  Status r = record_ready();
  if (s.ok()) s = r;
  if (!s.ok()) return s;
  return out;
}

Result<uint64_t> zero_transfer_range(Transfer& t, uint64_t offset, uint64_t length) {
  if (t.complete()) {
    return Status::Invalid("image " + t.uuid + " (" + t.label +
                           ") is complete: its transfer takes no more data");
  }
  const uint64_t cs = t.header.chunk_size;
  const uint64_t declared = t.header.transfer_size;
  const uint64_t end = offset + length;
  if (length == 0 || end < offset) return Status::Invalid("length must be more than 0");
  if (offset % cs != 0) {
    return Status::Invalid("offset " + std::to_string(offset) +
                           " is not a multiple of the transfer's chunk size " + std::to_string(cs));
  }
  if (declared && end > declared) {
    return Status::Error(ERANGE, "the range [" + std::to_string(offset) + ", " +
                                     std::to_string(end) + ") goes past the end of image " +
                                     t.uuid + " (" + std::to_string(declared) + " bytes)");
  }
  if (end % cs != 0 && declared && end != declared) {
    return Status::Invalid("length " + std::to_string(length) +
                           " is not a multiple of the chunk size " + std::to_string(cs) +
                           " and the range does not end at the image's end");
  }
  ASSIGN_OR_RETURN(ImagePtr image, open_image(*t.io, t.rbd_name, false));
  if (!declared && end > t.header.size) RETURN_IF_ERROR(grow_transfer(t, *image, end));
  // Chunks holding data from an earlier write get zeros written over them.
  std::vector<ByteRange> allocated;
  Status listed = image->diff_iterate(offset, length, [&](uint64_t off, size_t len, bool exists) {
    if (exists) allocated.push_back({off, len});
    return 0;
  });
  if (!listed.ok()) return listed.Prefixed(t.label);
  std::vector<char> zeros;
  std::vector<ChunkDigest> batch;
  uint64_t chunks = 0;
  for (uint64_t at = offset; at < end; at += cs) {
    ChunkDigest d;
    d.index = at / cs;
    d.offset = at;
    d.length = std::min(cs, end - at);
    d.zero = true;
    const bool holds = std::any_of(allocated.begin(), allocated.end(), [&](const ByteRange& r) {
      return r.offset < at + d.length && at < r.offset + r.length;
    });
    if (holds) {
      zeros.resize(d.length, '\0');
      ceph::bufferlist bl;
      bl.append(zeros.data(), static_cast<unsigned>(d.length));
      std::promise<ssize_t> written;
      image->aio_write(at, &bl, [&written](ssize_t r) { written.set_value(r); });
      const ssize_t r = written.get_future().get();
      if (r < 0) {
        return Status::Error(static_cast<int>(-r), "cannot write zeros at " + std::to_string(at) +
                                                       " of " + t.label + ": " +
                                                       ceph_strerror(static_cast<int>(r)));
      }
    }
    batch.push_back(d);
    ++chunks;
    if (batch.size() >= kOmapReadPage || at + cs >= end) {
      if (!zeros.empty()) {
        Status s = image->flush();
        if (!s.ok()) return s.Prefixed("cannot flush " + t.label);
      }
      RETURN_IF_ERROR(record_chunk_digests(*t.io, t.rbd_name, batch));
      batch.clear();
    }
  }
  return chunks;
}

std::vector<ByteRange> confirmed_ranges(const std::vector<std::optional<ChunkDigest>>& digests) {
  std::vector<ByteRange> out;
  for (const auto& d : digests) {
    if (!d) continue;
    if (!out.empty() && out.back().offset + out.back().length == d->offset) {
      out.back().length += d->length;
    } else {
      out.push_back({d->offset, d->length});
    }
  }
  return out;
}

std::vector<ByteRange> missing_ranges(uint64_t size, uint64_t chunk_size,
                                      const std::vector<std::optional<ChunkDigest>>& digests) {
  std::vector<ByteRange> out;
  for (uint64_t at = 0, i = 0; at < size; at += chunk_size, ++i) {
    if (i < digests.size() && digests[i]) continue;
    const uint64_t len = std::min(chunk_size, size - at);
    if (!out.empty() && out.back().offset + out.back().length == at) {
      out.back().length += len;
    } else {
      out.push_back({at, len});
    }
  }
  return out;
}

std::string range_list(const std::vector<ByteRange>& ranges) {
  std::string out;
  const size_t shown = std::min<size_t>(ranges.size(), 5);
  for (size_t i = 0; i < shown; ++i) {
    out += (i ? ", [" : "[") + std::to_string(ranges[i].offset) + ", " +
           std::to_string(ranges[i].offset + ranges[i].length) + ")";
  }
  if (ranges.size() > shown) out += " and " + std::to_string(ranges.size() - shown) + " more";
  return out;
}

Status read_image_range(RbdImage& image, uint64_t offset, uint64_t length, uint64_t piece,
                        const std::function<bool(uint64_t offset)>& is_zero,
                        const std::function<Status(const char* data, uint64_t len)>& sink) {
  InFlight inflight;
  std::vector<char> zeros;
  const uint64_t end = offset + length;
  uint64_t next = offset;
  while (next < end || inflight.size() > 0) {
    while (next < end && inflight.size() < kTransferDepth) {
      auto& r = inflight.add();
      r.offset = next;
      r.length = std::min(piece, end - next);
      next += r.length;
      if (is_zero && is_zero(r.offset)) {
        r.zero = true;
        inflight.complete(r);
      } else {
        image.aio_read(r.offset, r.length, &r.data, inflight.completion(r));
      }
    }
    auto done = inflight.pop();
    if (done->result < 0) {
      const int err = static_cast<int>(-done->result);
      return Status::Error(err, "cannot read " + std::to_string(done->length) + " bytes at " +
                                    std::to_string(done->offset) + " of " + image.spec() + ": " +
                                    ceph_strerror(-err));
    }
    if (done->zero) {
      zeros.resize(std::max<size_t>(zeros.size(), done->length), '\0');
      RETURN_IF_ERROR(sink(zeros.data(), done->length));
      continue;
    }
    if (done->data.length() != done->length) {
      return Status::Error(EIO, "read " + std::to_string(done->data.length()) + " bytes at " +
                                    std::to_string(done->offset) + " of " + image.spec() +
                                    " where " + std::to_string(done->length) + " were asked");
    }
    RETURN_IF_ERROR(sink(done->data.c_str(), done->length));
  }
  return Status::Ok();
}

}  // namespace rbdvol::plugin
