// What an HA agent decides at each check (rbdvol ha agent, docs/ha.md): a
// pure function of what it saw, so that every combination is unit-tested
// (tests/unit/ha_decision_test.cc). The agent's loop (cli/ha_agent.cc) does
// the I/O around it, in two steps per check:
//
//   1. lease_step():  what to do with the lease, from the storage check and
//      the lease as read (renew it, seek it, release it, leave it);
//   2. domain_step(): what to do with the local domain, from whether this
//      node holds the lease now (after step 1) and whether the domain runs
//      here.
//
// The rules (issue 20, DESIGN.md "HA of a domain on a volume"):
//   - maintenance (as last read): the holder keeps renewing; nobody takes
//     the lease over, and no domain is started or stopped, whatever else;
//   - broken storage: no lease action; a domain running here is stopped;
//   - the holder renews at every check; asked to relocate to another node, it
//     stops the domain and releases the lease;
//   - a free lease (never taken, or released): the relocation target takes it
//     at once, else the primary at once, others after the grace time and a
//     stagger by rank (so that the primary wins a full restart), counted from
//     when it was released or, for a lease never taken, from when the
//     definition was made or this agent started, whichever is later;
//   - a lease held by another: taken only once it expired and the grace time
//     (plus the stagger by rank) has passed; for a node that is not the
//     primary, counted from when this agent started if that is later, so
//     that after a power loss (every lease long expired) the primary goes
//     first;
//   - this node's own lease, expired, while the domain does not run here
//     (its agent came back after the lease ran out: a power loss, or after it
//     stopped its copy): sought as another node's expired lease is, not
//     renewed, so that the primary wins after a full restart;
//   - holding the lease: a takeover (new epoch) fences and then starts the
//     domain (stopping a copy already running here first); a renewal keeps a
//     running domain, and fences and starts one that is not running;
//   - not holding it: a domain running here is stopped.
#pragma once

#include <cstdint>
#include <string>

namespace rbdvol::ha {

// The lease as the agent read it this check (plugin operation ha.check).
struct LeaseView {
  std::string holder;  // "" when free
  uint64_t epoch = 0;
  double expires = 0;  // unix seconds
  bool released = false;
  double released_at = 0;
  std::string relocate_to;
  bool maintenance = false;
};

struct LeaseInput {
  bool storage_ok = false;
  std::string me;
  int rank = 0;  // my place in the definition's nodes: 0 = the primary
  LeaseView lease;
  double now = 0;  // unix seconds
  // Since when a lease never taken is known to be free here (unix seconds):
  // the later of the definition's creation and this agent's start (0 for a
  // single check, which cannot know). Without it a node that is not the
  // primary would take a new definition's lease before the primary's agent
  // has had a check. An expired lease is waited for from then too, by every
  // node but the primary.
  double free_since = 0;
  // Whether the domain runs on this node now.
  bool running_here = false;
  int grace_seconds = 0;
  int interval_seconds = 0;
};

enum class LeaseAction { kNone, kRenew, kAcquire, kRelease };
const char* to_string(LeaseAction a);

struct LeaseDecision {
  LeaseAction action = LeaseAction::kNone;
  std::string reason;
};

LeaseDecision lease_step(const LeaseInput& in);

struct DomainInput {
  bool storage_ok = false;
  bool maintenance = false;
  bool held = false;       // this node holds the lease now
  bool took_over = false;  // ... since this check, at a new epoch
  bool releasing = false;  // the lease step released it (relocation)
  bool running_here = false;
  std::string holder;  // for the reason: who holds it, when not this node
};

enum class DomainAction {
  kNone,          // nothing here to do
  kKeep,          // it runs here, as it should
  kStop,          // destroy it here
  kFenceAndStart  // (stop a copy here first,) fence the others, then start it here
};
const char* to_string(DomainAction a);

struct DomainDecision {
  DomainAction action = DomainAction::kNone;
  std::string reason;
};

DomainDecision domain_step(const DomainInput& in);

}  // namespace rbdvol::ha
