// An in-memory Env (plugin/ceph/env.h) for the plugin's unit tests: clusters
// of pools holding RADOS objects (omap, versions, watches, advisory locks)
// and RBD images (data, snapshots with protection, clones that read through
// their parent until flattened, metadata kept as omap of the image's header
// object, as librbd keeps it). Errors are the errnos Ceph gives: ENOENT for
// what is missing, EEXIST for what exists, EBUSY for a protected snapshot or
// one with clones and for an image open by a client, ENOTEMPTY for an image
// with snapshots, ERANGE for a failed version assertion.
//
// Each connection is a client of its own ("client.<id>", one address). An
// image's exclusive lock is held by one open image at a time: taken by its
// first write or by lock_acquire, released when it is closed, handed to
// another client that writes unless it was taken explicitly (EROFS then),
// taken over from a holder that no longer watches the image. lock_break
// blocklists the holder's client, which drops its watches and fails its
// writes (ESHUTDOWN).
//
// Test-only (rbdvol_plugin_memory_env); never linked into the shipped plugin.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "plugin/ceph/env.h"

namespace rbdvol::plugin::testing {

struct MemoryCluster;

class MemoryEnv : public Env {
 public:
  MemoryEnv();
  ~MemoryEnv() override;

  // Adds a cluster reached through backends whose ceph_conf is `ceph_conf`,
  // with the given pools.
  void add_cluster(const std::string& ceph_conf, const std::vector<std::string>& pools);
  // A cluster that does not answer: connect gives ETIMEDOUT.
  void set_reachable(const std::string& ceph_conf, bool reachable);

  Result<std::unique_ptr<Connection>> connect(const config::Backend& backend,
                                              const ConnectOptions& options) override;

  // What a test looks at afterwards, straight from the cluster's state.
  std::vector<std::string> images(const std::string& ceph_conf, const std::string& pool);
  std::vector<std::string> snapshots(const std::string& ceph_conf, const std::string& pool,
                                     const std::string& image);
  std::map<std::string, std::string> metadata(const std::string& ceph_conf, const std::string& pool,
                                              const std::string& image);
  // Objects other than the images' own (header, directory, data).
  std::vector<std::string> objects(const std::string& ceph_conf, const std::string& pool);
  std::map<std::string, std::string> omap(const std::string& ceph_conf, const std::string& pool,
                                          const std::string& oid);
  // Clients that have `image` open for writing (as watchers of its header).
  size_t open_writers(const std::string& ceph_conf, const std::string& pool,
                      const std::string& image);

  // Leaves `image` locked by a new client whose process is gone, as a kill
  // while it wrote the image leaves it; with `watching`, that client's watch
  // on the image lingers too (as it does until osd_client_watch_timeout).
  // Returns the client's name, "client.<id>".
  std::string leave_dead_lock(const std::string& ceph_conf, const std::string& pool,
                              const std::string& image, bool watching = false);
  // The client holding `image`'s exclusive lock ("client.<id>"), "" when none.
  std::string lock_holder(const std::string& ceph_conf, const std::string& pool,
                          const std::string& image);
  // Whether client `client` ("client.<id>") was blocklisted (a lock break).
  bool blocklisted(const std::string& ceph_conf, const std::string& client);

  // Runs `hook` once, before the next object write (Pool::operate) to an
  // object of `pool` whose name starts with `oid_prefix`, without holding
  // the cluster's lock: how a test makes another process act at a set point
  // between what an operation read and what it writes.
  void before_next_write(const std::string& ceph_conf, const std::string& pool,
                         const std::string& oid_prefix, std::function<void()> hook);

 private:
  std::shared_ptr<MemoryCluster> cluster(const std::string& ceph_conf);

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<MemoryCluster>> clusters_;
};

}  // namespace rbdvol::plugin::testing
