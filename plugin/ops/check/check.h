// backend.check: what crashes, kills and outside tools left in a backend,
// each finding with the repair that is safe for it (docs/driver-abi.md,
// backend.check). Only what carries rbdvol's names (records/naming.h) is
// looked at: an RBD image or snapshot that rbdvol did not make is neither
// reported nor touched.
#pragma once

#include <cstdint>
#include <ctime>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "plugin/driver.h"

namespace rbdvol::plugin {

struct CheckOptions {
  // Things younger than this many seconds (a snapshot, an unfinished
  // volume, an attachment being made) may belong to an operation still
  // running, and are not reported.
  int64_t min_age_seconds = 600;
  // When not empty, only findings that name one of these uuids (volume,
  // image or snapshot) are reported and repaired.
  std::set<std::string> only;
  time_t now = 0;

  bool old_enough(time_t made) const { return made + min_age_seconds <= now; }
  bool wanted(const std::vector<std::string>& ids) const;
};

struct Finding {
  std::string kind;  // "dead_partial_image", ... (docs/driver-abi.md)
  std::string backend, pool, image, snapshot;
  std::vector<std::string> ids;  // the uuids it concerns
  std::string problem;           // what is wrong, for people
  // What the repair does; empty when repair leaves it (then `left` says why).
  std::string repair;
  std::string left;
  // The repair itself; empty when there is none.
  std::function<Status()> fix;
};

// One backend's findings, and the attachment records of its volumes (the
// plugin cannot tell a stale one: the host asks libvirt).
struct BackendScan {
  std::vector<Finding> findings;
  Json attachments = Json::array();
};

// The findings in `cluster`'s volume pool: unfinished volumes, hidden clone
// snapshots without a clone, snapshot-directory entries and snapshots that
// disagree, multiattach volumes with lock features, clone chains deeper than
// max_clone_depth, volumes of a disk type the config lacks.
Result<BackendScan> check_volume_pool(Driver& driver, Cluster& cluster,
                                      const CheckOptions& options);

// The findings in `cluster`'s image pool: partial images whose writer is
// gone, and image copies whose protected `snap` has no clone.
Result<BackendScan> check_image_pool(Cluster& cluster, const CheckOptions& options);

// The differences between `cluster`'s volume and image directories and what
// its pools hold: volumes or complete images missing from the directory,
// entries out of date or naming nothing, stale name keys.
Result<std::vector<Finding>> check_directories(Driver& driver, Cluster& cluster,
                                               const CheckOptions& options);

// The finding as answered (without its repair's outcome).
Json finding_json(const Finding& finding);

}  // namespace rbdvol::plugin
