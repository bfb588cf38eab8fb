// Choosing the backend of a new volume. Pure: the facts about each backend
// are gathered by the caller, so the rules can be tested without a cluster.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "status/status.h"

namespace rbdvol::plugin {

struct Candidate {
  std::string backend;
  double weight = 1.0;
  bool reachable = true;
  std::string unreachable_reason;  // when !reachable
  bool holds_source = false;       // already holds the source image/snapshot/volume
  uint64_t free_bytes = 0;
};

struct CandidateVerdict {
  std::string backend;
  bool chosen = false;
  std::string reason;
};

struct Placement {
  std::string backend;
  bool holds_source = false;  // the volume can be a clone there
  std::string reason;
  std::vector<CandidateVerdict> verdicts;  // one per candidate, in input order
};

// Among reachable candidates: those holding the source win when
// `has_source`; among equals the largest weight x free capacity wins; ties go
// to the earlier candidate (config order). EHOSTUNREACH when no candidate is
// reachable, naming each one's reason; EINVAL when there is no candidate.
Result<Placement> pick_backend(const std::vector<Candidate>& candidates, bool has_source,
                               const std::string& source_label);

}  // namespace rbdvol::plugin
