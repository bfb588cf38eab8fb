// What the integration tests need from the sandbox (scripts/sandbox up): the
// rbdvol config it wrote ($RBDVOL_CONFIG), the rbdvol command and the plugin
// built next to these tests, direct librbd access to check what landed in
// Ceph, and libvirt access to look into the guests.
#pragma once

#include <rados/librados.h>
#include <rbd/librbd.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.h"

namespace rbdvol::plugin {
class Connection;
class Pool;
}  // namespace rbdvol::plugin

namespace rbdvol::test {

// Owned librados/librbd handles: a failed REQUIRE throws, and whatever a
// helper holds is closed on the way out. (All these C handles are void*.)
struct RadosShutdown {
  void operator()(void* cluster) const { rados_shutdown(cluster); }
};
using RadosPtr = std::unique_ptr<void, RadosShutdown>;
struct IoCtxDestroy {
  void operator()(void* io) const { rados_ioctx_destroy(io); }
};
using IoCtxPtr = std::unique_ptr<void, IoCtxDestroy>;
struct ImageClose {
  void operator()(void* image) const { rbd_close(image); }
};
using ImagePtr = std::unique_ptr<void, ImageClose>;
struct ReadOpRelease {
  void operator()(void* op) const { rados_release_read_op(op); }
};
using ReadOpPtr = std::unique_ptr<void, ReadOpRelease>;
struct WriteOpRelease {
  void operator()(void* op) const { rados_release_write_op(op); }
};
using WriteOpPtr = std::unique_ptr<void, WriteOpRelease>;
struct OmapIterEnd {
  void operator()(void* iter) const { rados_omap_get_end(iter); }
};
using OmapIterPtr = std::unique_ptr<void, OmapIterEnd>;

// The sandbox's config, loaded; the test fails with a hint when it is missing.
const config::Config& sandbox_config();

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// A command running beside the test, its output going to temporary files;
// killed (and waited for) if the test leaves it running.
class BackgroundCommand {
 public:
  // argv[0] is looked up in PATH unless it has a '/'.
  explicit BackgroundCommand(const std::vector<std::string>& argv);
  ~BackgroundCommand();
  BackgroundCommand(const BackgroundCommand&) = delete;
  BackgroundCommand& operator=(const BackgroundCommand&) = delete;
  // Waits until the command stops (SIGSTOP) or ends; true when it stopped.
  bool wait_stopped();
  // True while it has not ended (it may be stopped).
  bool running();
  // Sends SIGCONT.
  void resume();
  // Sends SIGKILL (and SIGCONT, for a stopped one) and waits for its end.
  void kill();
  // Waits for its end: exit code (128 + signal when killed), out and err.
  CommandResult finish();
  // What it has written to stderr so far.
  std::string err_so_far();
  // Waits until its stderr holds `text` (true), or it ended or `timeout`
  // passed without it (false).
  bool wait_for_err(const std::string& text, std::chrono::seconds timeout);

 private:
  pid_t pid_ = -1;
  int status_ = 0;
  bool ended_ = false;
  int out_fd_ = -1, err_fd_ = -1;
};

// Runs a command (argv[0] is looked up in PATH unless it has a '/').
CommandResult run(const std::vector<std::string>& argv);
// Runs the rbdvol command built with these tests.
CommandResult run_rbdvol(const std::vector<std::string>& args);
// The rbdvol command built with these tests, followed by `args`.
std::vector<std::string> rbdvol_argv(const std::vector<std::string>& args);
// Runs `rbdvol --json ARGS`, REQUIREs exit 0 and returns the parsed answer.
nlohmann::json rbdvol_json(const std::vector<std::string>& args);

// A file of `size` random bytes (removed when the object goes).
class TempFile {
 public:
  explicit TempFile(uint64_t size, const std::string& suffix = ".raw");
  ~TempFile();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A direct librados/librbd connection to one backend's cluster.
class CephView {
 public:
  explicit CephView(const std::string& backend_id);
  ~CephView();
  rados_ioctx_t pool(const std::string& name);
  // The same pool through the plugin's own Env (plugin/ceph/env.h), for
  // tests that call the plugin's record functions directly.
  plugin::Pool& plugin_pool(const std::string& name);
  bool image_exists(const std::string& pool, const std::string& image);
  // pool/image@snap of the image's parent, or "" when it has none.
  std::string parent_of(const std::string& pool, const std::string& image);
  uint64_t features(const std::string& pool, const std::string& image);
  uint64_t size(const std::string& pool, const std::string& image);
  int watcher_count(const std::string& pool, const std::string& image);
  // The client addresses watching the image (clients that have it open
  // read-write).
  std::vector<std::string> watchers(const std::string& pool, const std::string& image);
  // Blocklists a client address for five minutes, as an operator fencing a
  // dead host does: the OSDs drop its watches at once.
  void blocklist(const std::string& address);
  // Names of the image's RBD snapshots, in the order they were made.
  std::vector<std::string> snapshots(const std::string& pool, const std::string& image);
  // True when the image has snapshot `snap` and it is protected.
  bool snapshot_protected(const std::string& pool, const std::string& image,
                          const std::string& snap);
  // The image's metadata value for `key`; "" when it is not set.
  std::string metadata(const std::string& pool, const std::string& image, const std::string& key);
  // True when the pool holds the RADOS object `oid` (a chunk record, say).
  bool object_exists(const std::string& pool, const std::string& oid);
  // Removes an image, its snapshots and its chunk record, if there (test cleanup).
  void remove_image(const std::string& pool, const std::string& image);
  // The backend user's cephx key, as in its keyring.
  std::string key();
  // The image opened read-only, or read-write; REQUIREs that it opens.
  ImagePtr open(const std::string& pool, const std::string& image);
  ImagePtr open_writable(const std::string& pool, const std::string& image);
  // The whole content of pool/image (at `snap` when given); REQUIREs that
  // every read succeeds.
  std::string read(const std::string& pool, const std::string& image, const std::string& snap = "");

 private:
  const config::Backend* backend_;
  RadosPtr cluster_;
  std::vector<IoCtxPtr> pools_;  // closed before the cluster (declared after it)
  std::vector<std::string> pool_names_;
  std::unique_ptr<plugin::Connection> plugin_connection_;
  std::vector<std::unique_ptr<plugin::Pool>> plugin_pools_;  // closed before their connection
};

// A libvirt domain of the sandbox, seen from outside its QEMU.
class Guest {
 public:
  explicit Guest(const std::string& name);
  ~Guest();
  std::string live_xml();
  std::string persistent_xml();
  // HMP command through the QEMU monitor; returns what the monitor printed.
  std::string monitor(const std::string& hmp);
  // The block node of the disk whose source names `image`, from 'info block'.
  std::string node_of(const std::string& image);
  // Runs qemu-io on `node` and returns what it wrote to the guest's QEMU log.
  std::string qemu_io(const std::string& node, const std::string& command);
  // Destroys and starts the domain again: drops disks a guest without an OS
  // never released.
  void restart();

 private:
  // libvirt's handles, owned (the deleters live in sandbox.cc, beside libvirt).
  struct ConnectClose {
    void operator()(void* conn) const;
  };
  struct DomainFree {
    void operator()(void* dom) const;
  };
  std::string name_;
  std::unique_ptr<void, ConnectClose> conn_;
  std::unique_ptr<void, DomainFree> dom_;  // freed before the connection
};

// Pauses a sandbox cluster (scripts/sandbox pause: SIGSTOP of its daemons)
// for the life of the object, and resumes it however the test ends.
class PausedCluster {
 public:
  explicit PausedCluster(std::string name);
  ~PausedCluster();
  PausedCluster(const PausedCluster&) = delete;
  PausedCluster& operator=(const PausedCluster&) = delete;

 private:
  std::string name_;
};

// The whole content of a file.
std::string read_file(const std::string& path);
// The ceph.conf of a backend of the sandbox's config.
std::string ceph_conf_of(const std::string& backend);
// The backends of an image's `locations` (image show --json), sorted.
std::vector<std::string> location_backends(const nlohmann::json& image);
// A new random uuid, from the kernel.
std::string random_uuid();
// Runs rbdvol ARGS with RBDVOL_FAULT=fault and REQUIREs that it died of
// SIGKILL there.
void run_killed(const std::vector<std::string>& args, const std::string& fault);

// Runs rbdvol ARGS with RBDVOL_FAULT=`faults` (a fault list, docs/testing.md:
// "volume.create:after-create,new-id=<uuid>" fails there, and makes the new
// volume's id the one the test chose).
CommandResult run_rbdvol_with_faults(const std::string& faults,
                                     const std::vector<std::string>& args);

// The images of `pool` that belong to `ids` (volume or image ids a test
// made, or chose with new-id=<uuid>): those named "<prefix><id>", sorted.
// What a test counts instead of the whole pool, which the tests running
// beside it fill and empty.
std::vector<std::string> images_of(CephView& ceph, const std::string& pool,
                                   const std::vector<std::string>& ids);

// A sparse file of `size` bytes (at least 12 MiB) with three known runs of
// data and holes between them: 1 MiB of 0xab at 0, 64 KiB of a counting
// pattern at 9 MiB + 512, 4 KiB of 0x5c at the end. Removed when it goes.
struct PatternFile {
  explicit PatternFile(uint64_t size, const std::string& suffix = ".raw");
  ~PatternFile();
  std::string path;
  uint64_t size;
  uint64_t data_bytes = (1 << 20) + (64 << 10) + 4096;
};

// Removes what a test made, directly in Ceph (images with their snapshots
// and chunk records) and on disk, when it goes, however the test ends; the
// last added first, so clones go before their parents.
class ImageCleanup {
 public:
  ImageCleanup() = default;
  ImageCleanup(const ImageCleanup&) = delete;
  ImageCleanup& operator=(const ImageCleanup&) = delete;
  ~ImageCleanup();
  void add(const std::string& backend, const std::string& pool, const std::string& image);
  // A volume as volume.create answered it.
  void add(const nlohmann::json& created_volume);
  void add_file(const std::string& path);

 private:
  struct Item {
    std::string backend, pool, image;
  };
  std::vector<Item> items_;
  std::vector<std::string> files_;
};

// A copy of the sandbox's config with `default_lines` added to [DEFAULT]
// and `appended` at the end (removed when the object goes).
class ConfigCopy {
 public:
  explicit ConfigCopy(const std::string& default_lines, const std::string& appended = "");
  // A copy with every "key = value" line of `key` in section [`section`]
  // set to `value` (REQUIREs that there is one).
  struct Set {
    std::string section, key, value;
  };
  explicit ConfigCopy(const Set& set);
  ~ConfigCopy();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The checksum an upload records for the file at `path`, computed here
// independently (Python's hashlib over the file as read, holes as zeros):
// "sha256-chunks-<chunk>:" and the SHA-256 of the SHA-256 of every chunk.
std::string chunk_list_sha256_of(const std::string& path, uint64_t chunk = 4 << 20);

// Uploads a random file of `size` bytes as an image into `backend`; returns its id.
std::string upload_random_image(uint64_t size, const std::string& backend, const std::string& name);

// Runs `rbdvol image copy ID --to capacity` with RBDVOL_FAULT=`fault`, a
// point at which the process kills itself (image.copy:kill-after-chunk=4,
// image.copy:before-complete=kill), and REQUIREs that it died of SIGKILL: a
// real kill, which leaves a partial copy in capacity.
void copy_to_capacity_killed(const std::string& id, const std::string& fault);

// Uploads the file at `path` into fast as `name`; `cleanup` removes the image
// from fast and from capacity (where tests copy it). Returns its id.
std::string upload_to_fast(const std::string& path, const std::string& name, ImageCleanup& cleanup);

// The volume the snapshot directory of `ceph`'s volume pool names for
// snapshot `uuid` (the omap of rbdvol_snapshot_directory), or "" for none.
std::string snapshot_directory_entry(CephView& ceph, const std::string& uuid);
// Sets that entry to `volume_image`, or removes it when that is "": what a
// directory left behind by a crash, or by an older rbdvol, looks like.
void set_snapshot_directory_entry(CephView& ceph, const std::string& uuid,
                                  const std::string& volume_image);

}  // namespace rbdvol::test
