// The soak: several rbdvol processes at once on both clusters, for
// $RBDVOL_SOAK_SECONDS (default 30), doing random creates (blank, from an
// image, clones and copies of volumes), image copies, snapshots, reverts,
// deletes, writes, attaches and detaches, with some of them killed with
// SIGKILL at random moments. What each finished command reported is
// recorded; afterwards `rbdvol check` must find nothing but what the kills
// left (and deletes by design: an image's `snap` whose clones are all gone),
// `--repair` must clear it, every surviving volume must hold exactly the
// bytes written to it, and no volume a finished command created may be
// missing. It prints its operation counts and findings.
//
// Worker threads use no Catch2 macro (they are not thread-safe): they run
// processes and librbd calls that return codes, and the main thread checks.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "tests/integration/sandbox.h"

using namespace rbdvol::test;
using nlohmann::json;

namespace {

constexpr uint64_t kVolumeSize = 4 << 20;
constexpr int kWorkers = 4;
constexpr size_t kMaxVolumes = 14;
constexpr size_t kMaxAttached = 3;

struct Outcome {
  int exit_code = -1;
  bool killed = false;  // by the soak, before it ended
  std::string out, err;
};

std::string slurp(int fd) {
  std::string text;
  char buf[4096];
  lseek(fd, 0, SEEK_SET);
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return text;
}

// Runs `rbdvol --json ARGS`; when kill_after_ms > 0 and it still runs then,
// kills it with SIGKILL. No Catch2 macro: called from worker threads.
Outcome run_soak_rbdvol(const std::vector<std::string>& args, int kill_after_ms) {
  std::vector<std::string> with_json = {"--json"};
  with_json.insert(with_json.end(), args.begin(), args.end());
  const std::vector<std::string> argv = rbdvol_argv(with_json);
  char out_path[] = "/tmp/rbdvol-soak-XXXXXX";
  char err_path[] = "/tmp/rbdvol-soak-XXXXXX";
  const int out_fd = mkstemp(out_path), err_fd = mkstemp(err_path);
  Outcome o;
  if (out_fd < 0 || err_fd < 0) return o;
  unlink(out_path);
  unlink(err_path);
  std::vector<char*> cargs;
  for (const auto& a : argv) cargs.push_back(const_cast<char*>(a.c_str()));
  cargs.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    const int devnull = ::open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    execv(cargs[0], cargs.data());
    _exit(127);
  }
  int status = 0;
  if (pid > 0 && kill_after_ms > 0) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(kill_after_ms);
    while (waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() >= deadline) {
        ::kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        o.killed = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  } else if (pid > 0) {
    waitpid(pid, &status, 0);
  }
  o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  // It may have ended on its own just as it was killed.
  o.killed = o.killed && WIFSIGNALED(status);
  o.out = slurp(out_fd);
  o.err = slurp(err_fd);
  return o;
}

struct SoakImage {
  std::string id;
  std::string content;
};

struct SoakVolume {
  std::string id, backend, image;
  std::string source_image;                      // the image it was cloned from, "" otherwise
  std::string content;                           // what it must hold
  std::map<std::string, std::string> snapshots;  // id -> the content when taken
  std::string domain;                            // attached to, "" when not
  bool busy = false;
  bool maybe_gone = false;  // a delete of it was killed
};

struct OpCount {
  int ok = 0, refused = 0, killed = 0;
};

class Soak {
 public:
  Soak(rados_ioctx_t fast_volumes, rados_ioctx_t capacity_volumes, std::vector<SoakImage> images,
       uint64_t seed)
      : images_(std::move(images)), seed_(seed) {
    pools_["fast"] = fast_volumes;
    pools_["capacity"] = capacity_volumes;
  }

  void run_for(int seconds) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    std::vector<std::thread> workers;
    for (int w = 0; w < kWorkers; ++w) {
      workers.emplace_back([this, w, end] {
        std::mt19937_64 rng(seed_ + static_cast<uint64_t>(w));
        while (std::chrono::steady_clock::now() < end) step(rng);
      });
    }
    for (auto& t : workers) t.join();
  }

  std::mutex mu;
  std::map<std::string, SoakVolume> volumes;
  std::vector<SoakImage> images_;
  std::set<std::string> created;    // reported created by a finished command
  std::set<std::string> deleted;    // reported deleted by a finished command
  std::set<std::string> killed_on;  // ids a killed command worked on
  std::set<std::string> images_with_deleted_clones;
  std::map<std::string, OpCount> counts;
  std::vector<std::string> problems;  // seen while running (a write that failed, ...)
  std::vector<std::string> refusals;  // what each refused command said

 private:
  std::map<std::string, rados_ioctx_t> pools_;
  uint64_t seed_;

  // Takes an idle volume matching `want` and marks it busy; "" when none.
  std::string take(std::mt19937_64& rng, const std::function<bool(const SoakVolume&)>& want) {
    std::lock_guard<std::mutex> lock(mu);
    std::vector<std::string> ids;
    for (auto& [id, v] : volumes) {
      if (!v.busy && !v.maybe_gone && want(v)) ids.push_back(id);
    }
    if (ids.empty()) return "";
    const std::string id = ids[rng() % ids.size()];
    volumes[id].busy = true;
    return id;
  }
  void release(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = volumes.find(id);
    if (it != volumes.end()) it->second.busy = false;
  }
  void count(const std::string& op, const Outcome& o) {
    std::lock_guard<std::mutex> lock(mu);
    auto& c = counts[op];
    if (o.killed) {
      ++c.killed;
    } else if (o.exit_code == 0) {
      ++c.ok;
    } else {
      ++c.refused;
      refusals.push_back(op + ": " + o.err.substr(0, o.err.find('\n')));
    }
  }

  // A kill at a random moment of the command, for about one in eight.
  static int maybe_kill(std::mt19937_64& rng) {
    return rng() % 8 == 0 ? 20 + static_cast<int>(rng() % 700) : 0;
  }

  // Writes 64 KiB of one random byte at a random 4 KiB-aligned offset
  // through librbd and into `content`. 0 or a negative errno.
  int write_pattern(std::mt19937_64& rng, const std::string& backend, const std::string& image,
                    std::string& content) {
    const uint64_t offset = (rng() % ((kVolumeSize - (64 << 10)) / 4096)) * 4096;
    const std::string data(64 << 10, static_cast<char>(rng() % 255 + 1));
    rbd_image_t img = nullptr;
    int r = rbd_open(pools_.at(backend), image.c_str(), &img, nullptr);
    if (r < 0) return r;
    ssize_t n = rbd_write(img, offset, data.size(), data.data());
    if (n >= 0) r = rbd_flush(img);
    rbd_close(img);
    if (n < 0) return static_cast<int>(n);
    content.replace(offset, data.size(), data);
    return r;
  }

  // Adds a volume a finished create reported, after writing to it.
  void adopt(std::mt19937_64& rng, const json& answer, std::string content,
             const std::string& source_image) {
    SoakVolume v;
    v.id = answer.at("id");
    v.backend = answer.at("backend");
    v.image = answer.at("image");
    v.source_image = source_image;
    v.content = std::move(content);
    v.content.resize(kVolumeSize, '\0');
    const int r = write_pattern(rng, v.backend, v.image, v.content);
    std::lock_guard<std::mutex> lock(mu);
    created.insert(v.id);
    if (r < 0) problems.push_back("write to new volume " + v.id + ": " + std::strerror(-r));
    volumes[v.id] = std::move(v);
  }

  void step(std::mt19937_64& rng) {
    size_t live = 0, attached = 0;
    {
      std::lock_guard<std::mutex> lock(mu);
      live = volumes.size();
      for (const auto& [id, v] : volumes) attached += v.domain.empty() ? 0 : 1;
    }
    const std::string type = rng() % 2 ? "ssd" : "hdd";
    const int dice = static_cast<int>(rng() % 100);
    if (live >= kMaxVolumes && dice < 40) return delete_volume(rng);
    if (dice < 10) return create_blank(rng, type);
    if (dice < 25) return create_from_image(rng, type);
    if (dice < 37) return clone_volume(rng, type);
    if (dice < 42) return copy_image(rng);
    if (dice < 52) return snapshot(rng);
    if (dice < 58) return revert(rng);
    if (dice < 68) return delete_volume(rng);
    if (dice < 78) return write(rng);
    if (dice < 88 && attached < kMaxAttached) return attach(rng);
    return detach(rng);
  }

  void create_blank(std::mt19937_64& rng, const std::string& type) {
    auto o = run_soak_rbdvol({"volume", "create", "--type", type, "--size", "4M"}, 0);
    count("create blank", o);
    if (o.exit_code == 0) adopt(rng, json::parse(o.out), "", "");
  }

  void create_from_image(std::mt19937_64& rng, const std::string& type) {
    const SoakImage& image = images_[rng() % images_.size()];
    const int kill = maybe_kill(rng);
    auto o = run_soak_rbdvol({"volume", "create", "--type", type, "--image", image.id}, kill);
    count("create from image", o);
    if (o.killed) {
      std::lock_guard<std::mutex> lock(mu);
      killed_on.insert(image.id);
    } else if (o.exit_code == 0) {
      auto answer = json::parse(o.out);
      adopt(rng, answer, image.content,
            answer.at("method") == "clone" || answer.at("method") == "copy" ? image.id : "");
    }
  }

  // A volume from another: a clone on its own cluster, a copy to the other.
  void clone_volume(std::mt19937_64& rng, const std::string& type) {
    const std::string source = take(rng, [](const SoakVolume&) { return true; });
    if (source.empty()) return;
    std::string content;
    {
      std::lock_guard<std::mutex> lock(mu);
      content = volumes[source].content;
    }
    const int kill = maybe_kill(rng);
    auto o = run_soak_rbdvol({"volume", "create", "--type", type, "--source-volume", source}, kill);
    count("create from volume", o);
    if (o.killed) {
      std::lock_guard<std::mutex> lock(mu);
      killed_on.insert(source);
    } else if (o.exit_code == 0) {
      adopt(rng, json::parse(o.out), content, "");
    }
    release(source);
  }

  void copy_image(std::mt19937_64& rng) {
    const SoakImage& image = images_[rng() % images_.size()];
    const int kill = maybe_kill(rng);
    auto o = run_soak_rbdvol({"image", "copy", image.id, "--to", "capacity"}, kill);
    count("image copy", o);
    if (o.killed) {
      std::lock_guard<std::mutex> lock(mu);
      killed_on.insert(image.id);
    }
  }

  void snapshot(std::mt19937_64& rng) {
    const std::string id = take(rng, [](const SoakVolume& v) { return v.snapshots.size() < 3; });
    if (id.empty()) return;
    const int kill = maybe_kill(rng);
    auto o = run_soak_rbdvol({"snapshot", "create", id}, kill);
    count("snapshot create", o);
    std::lock_guard<std::mutex> lock(mu);
    if (o.killed) killed_on.insert(id);
    if (!o.killed && o.exit_code == 0) {
      volumes[id].snapshots[json::parse(o.out).at("id")] = volumes[id].content;
    }
    volumes[id].busy = false;
  }

  void revert(std::mt19937_64& rng) {
    const std::string id =
        take(rng, [](const SoakVolume& v) { return !v.snapshots.empty() && v.domain.empty(); });
    if (id.empty()) return;
    std::string snap;
    {
      std::lock_guard<std::mutex> lock(mu);
      auto& snaps = volumes[id].snapshots;
      auto it = snaps.begin();
      std::advance(it, static_cast<long>(rng() % snaps.size()));
      snap = it->first;
    }
    auto o = run_soak_rbdvol({"snapshot", "revert", snap}, 0);
    count("snapshot revert", o);
    std::lock_guard<std::mutex> lock(mu);
    if (o.exit_code == 0) volumes[id].content = volumes[id].snapshots[snap];
    volumes[id].busy = false;
  }

  void delete_volume(std::mt19937_64& rng) {
    const std::string id = take(rng, [](const SoakVolume& v) { return v.domain.empty(); });
    if (id.empty()) return;
    const int kill = maybe_kill(rng);
    auto o = run_soak_rbdvol({"volume", "delete", id, "--cascade"}, kill);
    count("volume delete", o);
    std::lock_guard<std::mutex> lock(mu);
    auto& v = volumes[id];
    if (o.killed) {
      killed_on.insert(id);
      v.maybe_gone = true;
    } else if (o.exit_code == 0) {
      deleted.insert(id);
      if (!v.source_image.empty()) images_with_deleted_clones.insert(v.source_image);
      volumes.erase(id);
      return;
    }
    v.busy = false;
  }

  void write(std::mt19937_64& rng) {
    const std::string id = take(rng, [](const SoakVolume& v) { return v.domain.empty(); });
    if (id.empty()) return;
    std::string backend, image, content;
    {
      std::lock_guard<std::mutex> lock(mu);
      backend = volumes[id].backend;
      image = volumes[id].image;
      content = volumes[id].content;
    }
    const int r = write_pattern(rng, backend, image, content);
    std::lock_guard<std::mutex> lock(mu);
    ++counts["write"].ok;
    if (r < 0) problems.push_back("write to " + id + ": " + std::strerror(-r));
    volumes[id].content = content;
    volumes[id].busy = false;
  }

  void attach(std::mt19937_64& rng) {
    const std::string id = take(rng, [](const SoakVolume& v) { return v.domain.empty(); });
    if (id.empty()) return;
    const std::string domain = "vm" + std::to_string(1 + rng() % 3);
    auto o = run_soak_rbdvol({"attach", id, domain, "--bus", "scsi"}, 0);
    count("attach", o);
    std::lock_guard<std::mutex> lock(mu);
    if (o.exit_code == 0) volumes[id].domain = domain;
    volumes[id].busy = false;
  }

  void detach(std::mt19937_64& rng) {
    const std::string id = take(rng, [](const SoakVolume& v) { return !v.domain.empty(); });
    if (id.empty()) return;
    auto o = run_soak_rbdvol({"detach", id}, 0);
    count("detach", o);
    std::lock_guard<std::mutex> lock(mu);
    if (o.exit_code == 0) volumes[id].domain.clear();
    volumes[id].busy = false;
  }
};

std::string whole_volume(CephView& ceph, const std::string& image, int* error) {
  rbd_image_t img = nullptr;
  std::string out(kVolumeSize, '\0');
  *error = rbd_open_read_only(ceph.pool("volumes"), image.c_str(), &img, nullptr);
  if (*error < 0) return "";
  ssize_t n = rbd_read(img, 0, kVolumeSize, out.data());
  rbd_close(img);
  if (n != static_cast<ssize_t>(kVolumeSize)) *error = n < 0 ? static_cast<int>(n) : -EIO;
  return out;
}

// The uuids in the names of rbdvol-clone-* snapshots of a volume.
std::vector<std::string> hidden_snapshot_uuids(CephView& ceph, const std::string& image) {
  std::vector<std::string> out;
  for (const auto& s : ceph.snapshots("volumes", image)) {
    if (s.rfind("rbdvol-clone-", 0) == 0) out.push_back(s.substr(13));
  }
  return out;
}

// The uuids of the volumes cloned from images/image-<id>@snap in a cluster.
std::vector<std::string> image_children(const std::string& backend, const std::string& id) {
  auto r = run({"rbd", "-c", sandbox_config().find_backend(backend)->ceph_conf, "children",
                "--format", "json", "images/image-" + id + "@snap"});
  std::vector<std::string> out;
  if (r.exit_code != 0) return out;  // no copy there, or no `snap`
  for (const auto& child : json::parse(r.out)) {
    const std::string image = child.value("image", "");
    if (image.rfind("volume-", 0) == 0) out.push_back(image.substr(7));
  }
  return out;
}

// The volume-<uuid> names in a backend's volume pool.
std::set<std::string> volume_names(const std::string& backend) {
  auto r = run({"rbd", "-c", sandbox_config().find_backend(backend)->ceph_conf, "ls", "volumes"});
  REQUIRE(r.exit_code == 0);
  std::set<std::string> out;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("volume-", 0) == 0) out.insert(line);
  }
  return out;
}

json check(const std::vector<std::string>& ids, bool repair, int* exit_code) {
  std::string only;
  for (const auto& id : ids) only += (only.empty() ? "" : ",") + id;
  std::vector<std::string> args = {"--json", "check", "--min-age", "0", "--only", only};
  if (repair) args.push_back("--repair");
  auto r = run_rbdvol(args);
  INFO("rbdvol check: " << r.err);
  REQUIRE(!r.out.empty());
  *exit_code = r.exit_code;
  return json::parse(r.out);
}

}  // namespace

TEST_CASE(
    "soak: concurrent rbdvol processes with kills leave only what check repairs, and every "
    "volume's bytes",
    "[integration][soak]") {
  const char* env = std::getenv("RBDVOL_SOAK_SECONDS");
  const int seconds = env && *env ? std::atoi(env) : 30;
  const uint64_t seed = static_cast<uint64_t>(::time(nullptr));
  std::printf("soak: %d s, %d workers, seed %llu\n", seconds, kWorkers,
              static_cast<unsigned long long>(seed));
  (void)sandbox_config();
  CephView fast("fast"), capacity("capacity");
  ImageCleanup cleanup;

  std::vector<SoakImage> images;
  for (int i = 0; i < 2; ++i) {
    TempFile file(kVolumeSize);
    const std::string id =
        rbdvol_json({"image", "upload", file.path(), "--name",
                     "soak-" + std::to_string(::getpid()) + "-" + std::to_string(i), "--backend",
                     "fast"})
            .at("id");
    cleanup.add("fast", "images", "image-" + id);
    cleanup.add("capacity", "images", "image-" + id);
    images.push_back({id, read_file(file.path())});
  }

  std::map<std::string, std::set<std::string>> before;
  for (const std::string backend : {"fast", "capacity"}) before[backend] = volume_names(backend);
  Soak soak(fast.pool("volumes"), capacity.pool("volumes"), images, seed);
  soak.run_for(seconds);

  // Every volume still attached is detached, so that the guests are left as
  // they were and the bytes are read with no writer.
  for (auto& [id, v] : soak.volumes) {
    if (v.domain.empty()) continue;
    auto r = run_rbdvol({"detach", id});
    INFO("detach " << id << " from " << v.domain << ": " << r.err);
    CHECK(r.exit_code == 0);
  }

  // The ids check is asked about: the soak's volumes and images, and the
  // volumes a killed command may have left under an id it never reported:
  // clones of its images, and the new volume a hidden snapshot is named for.
  std::set<std::string> ids, from_kills = soak.killed_on;
  for (const auto& i : images) ids.insert(i.id);
  for (const auto& id : soak.created) ids.insert(id);
  for (const auto& [id, v] : soak.volumes) {
    CephView& ceph = v.backend == "fast" ? fast : capacity;
    if (!ceph.image_exists("volumes", v.image)) continue;
    for (const auto& u : hidden_snapshot_uuids(ceph, v.image)) {
      if (soak.created.count(u) == 0) {
        ids.insert(u);
        from_kills.insert(u);
      }
    }
  }
  for (const auto& i : images) {
    for (const std::string backend : {"fast", "capacity"}) {
      for (const auto& u : image_children(backend, i.id)) {
        if (soak.created.count(u) == 0) {
          ids.insert(u);
          from_kills.insert(u);
        }
      }
    }
  }
  // A copy to the other cluster killed after its temporary snapshot went
  // leaves a volume with neither: new since the soak began, never reported,
  // and never finished (no disk type). Another test's create could be at
  // that point at this moment too; it would hold the image open, and check
  // leaves a volume a client writes.
  for (const std::string backend : {"fast", "capacity"}) {
    CephView& ceph = backend == "fast" ? fast : capacity;
    for (const auto& name : volume_names(backend)) {
      const std::string u = name.substr(7);
      if (before[backend].count(name) || soak.created.count(u) || ids.count(u)) continue;
      if (!ceph.image_exists("volumes", name)) continue;
      if (ceph.metadata("volumes", name, "rbdvol.disk_type").empty() && soak.killed_on.size()) {
        ids.insert(u);
        from_kills.insert(u);
      }
    }
  }
  const std::vector<std::string> id_list(ids.begin(), ids.end());
  // Removed at the end however the test ends: the volumes the kills left too.
  for (const auto& id : id_list) {
    for (const std::string backend : {"fast", "capacity"}) {
      cleanup.add(backend, "volumes", "volume-" + id);
    }
  }

  int code = 0;
  const json found = check(id_list, false, &code);
  int killed = 0;
  std::printf("soak operations (ok / refused / killed):\n");
  for (const auto& [op, c] : soak.counts) {
    std::printf("  %-20s %4d / %3d / %3d\n", op.c_str(), c.ok, c.refused, c.killed);
    killed += c.killed;
  }
  std::printf("soak: %zu volumes created, %zu deleted, %zu alive, %d commands killed\n",
              soak.created.size(), soak.deleted.size(), soak.volumes.size(), killed);
  for (const auto& r : soak.refusals) std::printf("  refused: %s\n", r.c_str());
  std::printf("soak findings (%zu):\n", found.at("findings").size());
  for (const auto& f : found.at("findings")) {
    std::printf("  %s %s/%s%s%s\n", f.at("kind").get<std::string>().c_str(),
                f.at("pool").get<std::string>().c_str(), f.at("image").get<std::string>().c_str(),
                f.at("snapshot").get<std::string>().empty() ? "" : "@",
                f.at("snapshot").get<std::string>().c_str());
  }
  for (const auto& p : soak.problems) FAIL_CHECK(p);

  // Each finding is the trace of a kill, or an image's `snap` left by
  // deleting the volumes cloned from it.
  for (const auto& f : found.at("findings")) {
    INFO(f.dump());
    bool explained = false;
    for (const auto& id : f.at("ids")) explained = explained || from_kills.count(id);
    if (f.at("kind") == "unused_image_snapshot") {
      explained = explained || soak.images_with_deleted_clones.count(f.at("ids")[0]);
    }
    CHECK(explained);
  }
  CHECK(found.at("unreachable").empty());

  const json repaired = check(id_list, true, &code);
  INFO(repaired.dump(2));
  CHECK(code == 0);
  CHECK(repaired.at("remaining") == 0);
  const json again = check(id_list, false, &code);
  INFO(again.dump(2));
  CHECK(code == 0);
  CHECK(again.at("findings").empty());

  // No volume a finished command created is missing, and each holds what
  // was written to it (a volume whose delete was killed may be gone).
  size_t verified = 0;
  for (const auto& [id, v] : soak.volumes) {
    INFO("volume " << id << " on " << v.backend);
    CephView& ceph = v.backend == "fast" ? fast : capacity;
    const bool exists = ceph.image_exists("volumes", v.image);
    if (!exists) {
      CHECK(v.maybe_gone);
      continue;
    }
    int error = 0;
    const std::string bytes = whole_volume(ceph, v.image, &error);
    REQUIRE(error == 0);
    // Compared here, not by Catch: it would print both 4 MiB strings.
    const auto diff = std::mismatch(bytes.begin(), bytes.end(), v.content.begin());
    const long first_difference = diff.first == bytes.end() ? -1 : diff.first - bytes.begin();
    CHECK(first_difference == -1);
    ++verified;
  }
  for (const auto& id : soak.created) {
    if (soak.deleted.count(id) == 0) CHECK(soak.volumes.count(id) == 1);
  }
  std::printf("soak: %zu surviving volumes' bytes verified\n", verified);

  // Clean up through rbdvol, newest first (clones before their sources).
  for (auto it = id_list.rbegin(); it != id_list.rend(); ++it) {
    if (soak.volumes.count(*it) || from_kills.count(*it)) {
      (void)run_rbdvol({"volume", "delete", *it, "--cascade"});
    }
  }
  for (const auto& i : images) (void)run_rbdvol({"image", "delete", i.id, "--force"});
}
