#include "ha/decision.h"

#include <algorithm>
#include <cstdio>

namespace rbdvol::ha {
namespace {

std::string seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", s);
  return buf;
}

}  // namespace

const char* to_string(LeaseAction a) {
  switch (a) {
    case LeaseAction::kNone:
      return "none";
    case LeaseAction::kRenew:
      return "renew";
    case LeaseAction::kAcquire:
      return "acquire";
    case LeaseAction::kRelease:
      return "release";
  }
  return "?";
}

const char* to_string(DomainAction a) {
  switch (a) {
    case DomainAction::kNone:
      return "none";
    case DomainAction::kKeep:
      return "keep";
    case DomainAction::kStop:
      return "stop";
    case DomainAction::kFenceAndStart:
      return "start";
  }
  return "?";
}

LeaseDecision lease_step(const LeaseInput& in) {
  const LeaseView& l = in.lease;
  if (!in.storage_ok) return {LeaseAction::kNone, "the storage does not answer"};
  const bool free = l.holder.empty() || l.released;
  // This node's own lease, expired, with nothing running here: its agent
  // came back after the lease ran out. Sought below as any expired lease
  // (unless it is to be handed over: then it is released as ever).
  const bool relocating = !l.relocate_to.empty() && l.relocate_to != in.me;
  const bool own_expired = !free && l.holder == in.me && in.now >= l.expires && !in.running_here &&
                           !l.maintenance && !relocating;
  if (!free && l.holder == in.me && !own_expired) {
    if (relocating && !l.maintenance) {
      return {LeaseAction::kRelease, "asked to relocate to " + l.relocate_to};
    }
    return {LeaseAction::kRenew,
            "this node holds the lease (epoch " + std::to_string(l.epoch) + ")"};
  }
  if (l.maintenance) return {LeaseAction::kNone, "in maintenance: the lease is left as it is"};
  const double stagger = static_cast<double>(in.rank) * in.interval_seconds;
  if (free) {
    const double free_since = std::max(l.released_at, in.free_since);
    if (!l.relocate_to.empty()) {
      if (l.relocate_to == in.me) return {LeaseAction::kAcquire, "relocated to this node"};
      // The target has the grace time (and the stagger) to come for it.
      const double at = free_since + in.grace_seconds + stagger;
      if (in.now >= at) {
        return {LeaseAction::kAcquire, "relocation target " + l.relocate_to +
                                           " did not take the lease within the grace time"};
      }
      return {LeaseAction::kNone, "the lease is free for relocation target " + l.relocate_to};
    }
    if (in.rank == 0)
      return {LeaseAction::kAcquire, "the lease is free and this node is the primary"};
    const double at = free_since + in.grace_seconds + stagger;
    if (in.now >= at) {
      return {LeaseAction::kAcquire, "the lease is free and the primary did not take it"};
    }
    return {LeaseAction::kNone,
            "the lease is free: the primary goes first, this node in " + seconds(at - in.now)};
  }
  // Held by another node (or this node's, expired): only once it expired
  // and the grace time passed. A node that is not the primary counts from
  // its agent's start if later: after a power loss every lease expired long
  // ago, and the primary, which does not wait, goes first.
  if (in.now < l.expires) {
    return {LeaseAction::kNone,
            "node " + l.holder + " holds the lease for another " + seconds(l.expires - in.now)};
  }
  const double from = in.rank == 0 ? l.expires : std::max(l.expires, in.free_since);
  const double at = from + in.grace_seconds + stagger;
  if (in.now < at) {
    return {LeaseAction::kNone, "the lease of node " + l.holder + " expired " +
                                    seconds(in.now - l.expires) + " ago; grace for another " +
                                    seconds(at - in.now)};
  }
  return {LeaseAction::kAcquire, "the lease of node " + l.holder + " expired " +
                                     seconds(in.now - l.expires) + " ago, past the grace time"};
}

DomainDecision domain_step(const DomainInput& in) {
  if (in.maintenance) {
    return {in.running_here ? DomainAction::kKeep : DomainAction::kNone,
            "in maintenance: the domain is left as it is"};
  }
  if (!in.storage_ok) {
    if (in.running_here) return {DomainAction::kStop, "the storage does not answer"};
    return {DomainAction::kNone, "the storage does not answer; nothing runs here"};
  }
  if (in.releasing) {
    return {in.running_here ? DomainAction::kStop : DomainAction::kNone,
            "relocating: this node hands the domain over"};
  }
  if (in.held) {
    if (in.took_over) {
      return {DomainAction::kFenceAndStart,
              in.running_here ? "took the lease over at a new epoch: restarting the copy here "
                                "after fencing every other client"
                              : "took the lease over: fencing every other client, then starting"};
    }
    if (in.running_here) return {DomainAction::kKeep, "holds the lease and runs the domain"};
    return {DomainAction::kFenceAndStart, "holds the lease but the domain is not running here"};
  }
  if (in.running_here) {
    return {DomainAction::kStop, in.holder.empty()
                                     ? "does not hold the lease"
                                     : "does not hold the lease (node " + in.holder + " does)"};
  }
  return {DomainAction::kNone, in.holder.empty() ? "the lease is not held here"
                                                 : "node " + in.holder + " holds the lease"};
}

}  // namespace rbdvol::ha
