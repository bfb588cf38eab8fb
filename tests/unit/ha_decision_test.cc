// The HA agent's decisions (ha/decision.h): the rules checked over every
// combination of what an agent can see, then the cases of issue 20 by name.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "ha/decision.h"

using namespace rbdvol::ha;

namespace {

constexpr double kNow = 1000000.0;
constexpr int kGrace = 4;
constexpr int kInterval = 2;

// Where `now` stands against the holder's expiry (or, for a free lease,
// against its release).
enum class Phase { kBeforeExpiry, kInGrace, kPastGraceRank0, kPastGraceAllRanks };
const Phase kPhases[] = {Phase::kBeforeExpiry, Phase::kInGrace, Phase::kPastGraceRank0,
                         Phase::kPastGraceAllRanks};

double expiry_for(Phase p) {
  switch (p) {
    case Phase::kBeforeExpiry:
      return kNow + 5;
    case Phase::kInGrace:
      return kNow - 1;
    case Phase::kPastGraceRank0:
      return kNow - kGrace - 1;  // rank 1 still waits
    case Phase::kPastGraceAllRanks:
      return kNow - kGrace - 10;  // everyone may
  }
  return 0;
}

}  // namespace

TEST_CASE("lease_step over every combination keeps the lease rules", "[ha][decision]") {
  int combinations = 0;
  for (bool storage_ok : {true, false}) {
    for (bool maintenance : {false, true}) {
      for (const std::string holder : {"", "n1", "n2"}) {
        for (bool released : {false, true}) {
          for (Phase phase : kPhases) {
            for (const std::string relocate_to : {"", "n1", "n2"}) {
              for (int rank : {0, 1}) {
                for (double free_since : {0.0, kNow - 1}) {
                  for (bool running_here : {false, true}) {
                    const std::string me = rank == 0 ? "n1" : "n2";
                    LeaseInput in;
                    in.storage_ok = storage_ok;
                    in.me = me;
                    in.rank = rank;
                    in.now = kNow;
                    in.grace_seconds = kGrace;
                    in.interval_seconds = kInterval;
                    in.lease.holder = holder;
                    in.lease.epoch = holder.empty() ? 0 : 3;
                    in.lease.released = released;
                    in.lease.expires = expiry_for(phase);
                    in.lease.released_at = expiry_for(phase);
                    in.lease.relocate_to = relocate_to;
                    in.lease.maintenance = maintenance;
                    in.free_since = free_since;
                    in.running_here = running_here;
                    const LeaseDecision d = lease_step(in);
                    ++combinations;
                    INFO("storage " << storage_ok << " maintenance " << maintenance << " holder '"
                                    << holder << "' released " << released << " phase "
                                    << static_cast<int>(phase) << " relocate '" << relocate_to
                                    << "' me " << me << " free since " << free_since
                                    << " running here " << running_here << " -> "
                                    << to_string(d.action) << ": " << d.reason);
                    CHECK_FALSE(d.reason.empty());
                    const bool free = holder.empty() || released;
                    // This node's own lease, expired, nothing running here:
                    // its agent came back after it ran out; sought as
                    // another's (below).
                    const bool own_expired = !free && holder == me && kNow >= in.lease.expires &&
                                             !running_here && !maintenance &&
                                             (relocate_to.empty() || relocate_to == me);
                    const bool mine = !free && holder == me && !own_expired;
                    // Nothing is done with a storage that does not answer.
                    if (!storage_ok) {
                      CHECK(d.action == LeaseAction::kNone);
                      continue;
                    }
                    // The holder always renews (or hands over when relocating).
                    if (mine) {
                      if (!relocate_to.empty() && relocate_to != me && !maintenance) {
                        CHECK(d.action == LeaseAction::kRelease);
                      } else {
                        CHECK(d.action == LeaseAction::kRenew);
                      }
                      continue;
                    }
                    CHECK(d.action != LeaseAction::kRenew);
                    CHECK(d.action != LeaseAction::kRelease);
                    if (own_expired) {
                      const double from =
                          rank == 0 ? in.lease.expires : std::max(in.lease.expires, free_since);
                      CHECK((d.action == LeaseAction::kAcquire) ==
                            (kNow >= from + kGrace + rank * kInterval));
                      continue;
                    }
                    // In maintenance nobody takes the lease.
                    if (maintenance) {
                      CHECK(d.action == LeaseAction::kNone);
                      continue;
                    }
                    if (!free) {
                      // Another's lease: never before its expiry plus the grace
                      // time, and a lower rank waits longer, counting from its
                      // agent's start if later (the primary does not wait).
                      const double from =
                          rank == 0 ? in.lease.expires : std::max(in.lease.expires, free_since);
                      const double may_at = from + kGrace + rank * kInterval;
                      CHECK((d.action == LeaseAction::kAcquire) == (kNow >= may_at));
                      continue;
                    }
                    // A free lease: the relocation target, else the primary, at
                    // once; the others only after the grace time.
                    if (relocate_to == me) {
                      CHECK(d.action == LeaseAction::kAcquire);
                    } else if (relocate_to.empty() && rank == 0) {
                      CHECK(d.action == LeaseAction::kAcquire);
                    } else {
                      // ... counted from the release, or from when this agent
                      // knows it free, whichever is later.
                      const double may_at =
                          std::max(in.lease.released_at, free_since) + kGrace + rank * kInterval;
                      CHECK((d.action == LeaseAction::kAcquire) == (kNow >= may_at));
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
  }
  CHECK(combinations == 2 * 2 * 3 * 2 * 4 * 3 * 2 * 2 * 2);
}

TEST_CASE("domain_step over every combination keeps the domain rules", "[ha][decision]") {
  int combinations = 0;
  for (bool storage_ok : {true, false}) {
    for (bool maintenance : {false, true}) {
      for (bool held : {false, true}) {
        for (bool took_over : {false, true}) {
          for (bool releasing : {false, true}) {
            for (bool running : {false, true}) {
              if (took_over && !held) continue;  // a takeover is a hold
              if (releasing && !held) continue;  // only a holder releases
              DomainInput in;
              in.storage_ok = storage_ok;
              in.maintenance = maintenance;
              in.held = held;
              in.took_over = took_over;
              in.releasing = releasing;
              in.running_here = running;
              in.holder = held ? "n1" : "n2";
              const DomainDecision d = domain_step(in);
              ++combinations;
              INFO("storage " << storage_ok << " maintenance " << maintenance << " held " << held
                              << " took_over " << took_over << " releasing " << releasing
                              << " running " << running << " -> " << to_string(d.action) << ": "
                              << d.reason);
              CHECK_FALSE(d.reason.empty());
              // Only a holder with storage that answers starts the domain,
              // and never in maintenance or while handing it over.
              if (d.action == DomainAction::kFenceAndStart) {
                CHECK(held);
                CHECK(storage_ok);
                CHECK_FALSE(maintenance);
                CHECK_FALSE(releasing);
              }
              // Maintenance: nothing is started or stopped.
              if (maintenance) {
                CHECK((d.action == DomainAction::kKeep || d.action == DomainAction::kNone));
                continue;
              }
              // A running copy is stopped when the storage is broken, when
              // this node does not hold the lease, or when it hands over.
              if (running && (!storage_ok || !held || releasing)) {
                CHECK(d.action == DomainAction::kStop);
              }
              // A holder keeps its running copy unless it took the lease over
              // at a new epoch (then it restarts it after fencing).
              if (running && storage_ok && held && !releasing) {
                CHECK(d.action == (took_over ? DomainAction::kFenceAndStart : DomainAction::kKeep));
              }
              // A holder starts a copy that is not running.
              if (!running && storage_ok && held && !releasing) {
                CHECK(d.action == DomainAction::kFenceAndStart);
              }
              if (!running && (!held || !storage_ok || releasing)) {
                CHECK(d.action == DomainAction::kNone);
              }
            }
          }
        }
      }
    }
  }
  // storage x maintenance x (5 hold states) x running
  CHECK(combinations == 2 * 2 * 5 * 2);
}

TEST_CASE("the cases of issue 20, step by step", "[ha][decision]") {
  LeaseInput n1;
  n1.storage_ok = true;
  n1.me = "n1";
  n1.rank = 0;
  n1.now = kNow;
  n1.grace_seconds = kGrace;
  n1.interval_seconds = kInterval;
  LeaseInput n2 = n1;
  n2.me = "n2";
  n2.rank = 1;

  SECTION("a fresh definition: the primary takes the free lease, the other waits") {
    // Never taken: no holder, epoch 0, released_at 0. The definition was
    // made (or the agent started) a second ago.
    n1.free_since = n2.free_since = kNow - 1;
    CHECK(lease_step(n1).action == LeaseAction::kAcquire);
    CHECK(lease_step(n2).action == LeaseAction::kNone);
    // The primary's agent never came: the other takes it past the grace
    // time and its stagger.
    n2.free_since = kNow - kGrace - kInterval - 0.1;
    CHECK(lease_step(n2).action == LeaseAction::kAcquire);
    // A single check (--once) cannot know since when the agent runs: it
    // counts from the definition's creation alone (a minute ago here).
    n2.free_since = kNow - 60;
    CHECK(lease_step(n2).action == LeaseAction::kAcquire);
  }
  SECTION("the holder frozen: the other takes over only past expiry and grace") {
    n2.lease.holder = "n1";
    n2.lease.epoch = 5;
    n2.lease.expires = kNow - 0.5;
    CHECK(lease_step(n2).action == LeaseAction::kNone);
    n2.lease.expires = kNow - kGrace - kInterval - 0.1;
    CHECK(lease_step(n2).action == LeaseAction::kAcquire);
    // The frozen holder, woken, finds another holding it: it stops its copy.
    DomainInput woke;
    woke.storage_ok = true;
    woke.held = false;
    woke.running_here = true;
    woke.holder = "n2";
    const DomainDecision d = domain_step(woke);
    CHECK(d.action == DomainAction::kStop);
    CHECK(d.reason.find("n2") != std::string::npos);
  }
  SECTION("power loss: long expired, the primary takes it at once, the other after it") {
    n1.lease.holder = n2.lease.holder = "n3";  // a third node, gone too
    n1.lease.expires = n2.lease.expires = kNow - kGrace - 0.5;
    CHECK(lease_step(n1).action == LeaseAction::kAcquire);
    CHECK(lease_step(n2).action == LeaseAction::kNone);
  }
  SECTION("power loss of minutes, the agents back a second ago: the primary goes first") {
    n1.free_since = n2.free_since = kNow - 1;
    n1.lease.expires = n2.lease.expires = kNow - 300;
    SECTION("the holder was another node") { n1.lease.holder = n2.lease.holder = "n3"; }
    SECTION("the holder was the node that is not the primary") {
      // Its own lease, expired, and its domain gone with the power: sought
      // like any other expired lease, not renewed.
      n1.lease.holder = n2.lease.holder = "n2";
    }
    SECTION("the holder was the primary") { n1.lease.holder = n2.lease.holder = "n1"; }
    CHECK(lease_step(n1).action == LeaseAction::kAcquire);
    CHECK(lease_step(n2).action == LeaseAction::kNone);
    // The primary did not come back: the other takes it past the grace time
    // and its stagger, counted from its own start.
    n2.now = n2.free_since + kGrace + kInterval + 0.1;
    CHECK(lease_step(n2).action == LeaseAction::kAcquire);
  }
  SECTION("the holder's agent restarted after its lease ran out, its domain still running") {
    // No power loss: the guest kept running here. It carries on.
    n2.lease.holder = "n2";
    n2.lease.expires = kNow - 30;
    n2.free_since = kNow - 1;
    n2.running_here = true;
    CHECK(lease_step(n2).action == LeaseAction::kRenew);
  }
  SECTION("relocate: the holder releases, the target takes the free lease at once") {
    n1.lease.holder = "n1";
    n1.lease.relocate_to = "n2";
    CHECK(lease_step(n1).action == LeaseAction::kRelease);
    n1.lease.released = n2.lease.released = true;
    n1.lease.released_at = n2.lease.released_at = kNow;
    n2.lease.holder = "n1";
    n2.lease.relocate_to = "n2";
    CHECK(lease_step(n2).action == LeaseAction::kAcquire);
    // The primary leaves it to the target.
    CHECK(lease_step(n1).action == LeaseAction::kNone);
  }
  SECTION("storage broken: the holder stops its copy and seeks nothing") {
    n1.storage_ok = false;
    n1.lease.holder = "n1";
    CHECK(lease_step(n1).action == LeaseAction::kNone);
    DomainInput broken;
    broken.storage_ok = false;
    broken.held = true;
    broken.running_here = true;
    CHECK(domain_step(broken).action == DomainAction::kStop);
  }
}
