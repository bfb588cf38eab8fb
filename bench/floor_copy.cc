// floor_copy: the least a cross-cluster copy of some RADOS objects can cost
// on this machine, for bench/run to print beside rbdvol and the rbd tools.
//
//   floor_copy copy SRC_CONF SRC_POOL DST_CONF DST_POOL DST_PREFIX DEPTH < NAMES
//   floor_copy remove DST_CONF DST_POOL DST_PREFIX < NAMES
//
// `copy` connects to both clusters at once (as rbdvol does), then reads every
// object named on standard input whole from SRC_POOL and writes it whole
// (write_full) into DST_POOL as DST_PREFIX + its name, DEPTH objects in
// flight, each reply's buffer list handed to the write as it came. No RBD
// layer, no image, no record, no digest, no zero check: only the bytes through
// librados, the same client library every tool in the table uses. `remove`
// removes what `copy` wrote. Exit status 0, or 1 with a message naming the
// object and the error.
#include <rados/librados.hpp>

#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <future>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace {

struct Cluster {
  librados::Rados rados;
  librados::IoCtx io;
};

// Connects as client.admin with `conf` and opens `pool`; the error names both.
int open_cluster(Cluster& c, const std::string& conf, const std::string& pool, std::string* err) {
  int r = c.rados.init("admin");
  if (r == 0) r = c.rados.conf_read_file(conf.c_str());
  if (r == 0) r = c.rados.connect();
  if (r == 0) r = c.rados.ioctx_create(pool.c_str(), c.io);
  if (r < 0) *err = conf + " pool " + pool + ": " + std::strerror(-r);
  return r;
}

std::vector<std::string> read_names() {
  std::vector<std::string> names;
  for (std::string line; std::getline(std::cin, line);) {
    if (!line.empty()) names.push_back(line);
  }
  return names;
}

// DEPTH objects in flight: a read's completion starts its write, a write's
// completion starts the next read. The first error stops new starts.
class Pipeline {
 public:
  Pipeline(Cluster& src, Cluster& dst, std::string prefix, std::vector<std::string> names)
      : src_(src), dst_(dst), prefix_(std::move(prefix)), names_(std::move(names)) {}

  int run(size_t depth, std::string* err) {
    std::unique_lock<std::mutex> lock(mutex_);
    for (size_t i = 0; i < depth && next_ < names_.size(); ++i) start_read(lock);
    done_.wait(lock, [this] { return in_flight_ == 0; });
    *err = error_;
    return error_.empty() ? 0 : 1;
  }

 private:
  struct Slot {
    Pipeline* owner;
    std::string name;
    librados::bufferlist data;
    librados::AioCompletion* completion = nullptr;
  };

  // Called with mutex_ held.
  void start_read(std::unique_lock<std::mutex>&) {
    auto* s = new Slot{this, names_[next_++], {}, nullptr};
    ++in_flight_;
    s->completion = librados::Rados::aio_create_completion(s, &Pipeline::on_read);
    // Up to 1 GiB from offset 0: the whole object, whatever its size.
    int r = src_.io.aio_read(s->name, s->completion, &s->data, 1u << 30, 0);
    if (r < 0) fail_locked(s, "read", r);
  }

  // The slot of a finished read or write, with its completion released, and
  // the I/O's result in `r`.
  static Slot* finished(void* arg, int* r) {
    auto* s = static_cast<Slot*>(arg);
    *r = s->completion->get_return_value();
    s->completion->release();
    s->completion = nullptr;
    return s;
  }

  static void on_read(librados::completion_t, void* arg) {
    int r = 0;
    Slot* s = finished(arg, &r);
    Pipeline* p = s->owner;
    std::unique_lock<std::mutex> lock(p->mutex_);
    if (r < 0) return p->fail_locked(s, "read", r);
    s->completion = librados::Rados::aio_create_completion(s, &Pipeline::on_written);
    const int w = p->dst_.io.aio_write_full(p->prefix_ + s->name, s->completion, s->data);
    if (w < 0) p->fail_locked(s, "write", w);
  }

  static void on_written(librados::completion_t, void* arg) {
    int r = 0;
    Slot* s = finished(arg, &r);
    Pipeline* p = s->owner;
    std::unique_lock<std::mutex> lock(p->mutex_);
    if (r < 0) return p->fail_locked(s, "write", r);
    delete s;
    --p->in_flight_;
    if (p->error_.empty() && p->next_ < p->names_.size()) p->start_read(lock);
    if (p->in_flight_ == 0) p->done_.notify_all();
  }

  // Called with mutex_ held; `s` holds a completion only when its I/O could
  // not be started.
  void fail_locked(Slot* s, const char* what, int r) {
    if (error_.empty()) error_ = std::string(what) + " " + s->name + ": " + std::strerror(-r);
    if (s->completion) s->completion->release();
    delete s;
    --in_flight_;
    if (in_flight_ == 0) done_.notify_all();
  }

  Cluster& src_;
  Cluster& dst_;
  const std::string prefix_;
  const std::vector<std::string> names_;
  std::mutex mutex_;
  std::condition_variable done_;
  size_t next_ = 0;
  size_t in_flight_ = 0;
  std::string error_;
};

int copy(char** argv) {
  char* end = nullptr;
  const long depth = std::strtol(argv[5], &end, 10);
  if (*argv[5] == '\0' || *end != '\0' || depth < 1) {
    std::cerr << "floor_copy: DEPTH must be at least 1, not " << argv[5] << "\n";
    return 1;
  }
  Cluster src, dst;
  std::string src_err, dst_err;
  auto src_open =
      std::async(std::launch::async, [&] { return open_cluster(src, argv[0], argv[1], &src_err); });
  const int rd = open_cluster(dst, argv[2], argv[3], &dst_err);
  const int rs = src_open.get();
  if (rs < 0 || rd < 0) {
    std::cerr << "floor_copy: " << (rs < 0 ? src_err : dst_err) << "\n";
    return 1;
  }
  Pipeline pipeline(src, dst, argv[4], read_names());
  std::string err;
  if (pipeline.run(static_cast<size_t>(depth), &err) != 0) {
    std::cerr << "floor_copy: " << err << "\n";
    return 1;
  }
  return 0;
}

int remove_copies(char** argv) {
  Cluster dst;
  std::string err;
  if (open_cluster(dst, argv[0], argv[1], &err) < 0) {
    std::cerr << "floor_copy: " << err << "\n";
    return 1;
  }
  for (const auto& name : read_names()) {
    const int r = dst.io.remove(argv[2] + name);
    if (r < 0 && r != -ENOENT) {
      std::cerr << "floor_copy: remove " << argv[2] << name << ": " << std::strerror(-r) << "\n";
      return 1;
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "copy" && argc == 8) return copy(argv + 2);
  if (mode == "remove" && argc == 5) return remove_copies(argv + 2);
  std::cerr
      << "usage: floor_copy copy SRC_CONF SRC_POOL DST_CONF DST_POOL DST_PREFIX DEPTH < NAMES\n"
         "       floor_copy remove DST_CONF DST_POOL DST_PREFIX < NAMES\n";
  return 2;
}
