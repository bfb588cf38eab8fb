// What rbdvol keeps in Ceph for the HA of a domain on a volume (rbdvol ha,
// docs/ha.md), all in the volume's backend, in its volume pool:
//
//   rbdvol_ha           omap: NAME -> the definition (JSON), one per domain
//   rbdvol_ha.NAME      omap: "state" -> the lease's view (holder, epoch,
//                       expiry, maintenance, relocation), "check.NODE" -> a
//                       node's last check, "fence.ADDR" -> a client this
//                       definition's holders blocklisted;
//                       and the lease itself: the advisory lock
//                       "rbdvol-ha-lease" with a duration (cookie "node:NODE").
//
// The lock is the truth of who holds the lease (the OSD enforces its expiry);
// the state says who took it last, at which epoch, and until when, for the
// agents' decisions and for `rbdvol ha status`. Every state change is a
// compare-and-swap on the object's version (journal_update), so the epoch
// grows by exactly one at each takeover.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "status/status.h"

namespace rbdvol::plugin {

inline const std::string kHaIndexObject = "rbdvol_ha";
inline const std::string kHaLeaseLock = "rbdvol-ha-lease";
inline std::string ha_object(const std::string& name) { return "rbdvol_ha." + name; }
inline std::string ha_cookie(const std::string& node) { return "node:" + node; }

// Names of HA domains and nodes: 1 to 64 of [A-Za-z0-9_.-], not starting with
// '.' or '-' (a libvirt domain name, a host name, an object name suffix).
// EINVAL naming `what` and the value.
Status check_ha_name(const std::string& what, const std::string& value);

struct HaDefinition {
  std::string name;                // the domain's name on every node
  std::string volume;              // the volume's uuid (its system disk)
  std::string backend;             // the volume's backend: where all of this is kept
  std::vector<std::string> nodes;  // priority order; nodes[0] is the primary
  std::string domain_xml;          // the template every node defines
  int lease_seconds = 12;
  int grace_seconds = 4;
  int interval_seconds = 2;
  double created = 0;

  nlohmann::json to_json() const;
  // EINVAL naming the field for a document that is not one.
  static Result<HaDefinition> from_json(const nlohmann::json& j);
  // The node's place in `nodes`, or -1.
  int rank(const std::string& node) const;
};

// EINVAL for timings an agent cannot keep: the lease must last at least three
// check intervals (it is renewed at every check, so two may be missed), all
// within 1 s to 1 day.
Status check_ha_timings(int lease_seconds, int grace_seconds, int interval_seconds);

struct HaState {
  std::string holder;  // "" when nobody took it yet or it was released
  uint64_t epoch = 0;  // grows at each takeover
  double expires = 0;  // unix seconds: the holder's lease ends then unless renewed
  double taken_at = 0;
  bool released = false;
  double released_at = 0;
  std::string relocate_to;  // a node asked to take over cleanly (ha relocate)
  bool maintenance = false;

  nlohmann::json to_json() const;
  static HaState from_json(const nlohmann::json& j);  // missing fields keep defaults
};

// Wall-clock seconds since the epoch, as the state's times are kept.
double unix_now();

}  // namespace rbdvol::plugin
