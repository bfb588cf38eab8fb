#include "plugin/placement/placement.h"

#include "text/byte_size.h"

#include <cstdio>

namespace rbdvol::plugin {

namespace {

double score(const Candidate& c) { return c.weight * static_cast<double>(c.free_bytes); }

std::string describe_score(const Candidate& c) {
  char buf[96];
  std::snprintf(buf, sizeof(buf), "weight %g x free %s", c.weight,
                text::human_bytes(c.free_bytes).c_str());
  return buf;
}

}  // namespace

Result<Placement> pick_backend(const std::vector<Candidate>& candidates, bool has_source,
                               const std::string& source_label) {
  if (candidates.empty()) return Status::Invalid("no backend to choose from");
  const Candidate* best = nullptr;
  bool any_holder = false;
  for (const auto& c : candidates) {
    if (c.reachable && c.holds_source) any_holder = true;
  }
  const bool prefer_holders = has_source && any_holder;
  for (const auto& c : candidates) {
    if (!c.reachable) continue;
    if (prefer_holders && !c.holds_source) continue;
    if (!best || score(c) > score(*best)) best = &c;
  }
  if (!best) {
    std::string reasons;
    for (const auto& c : candidates) {
      reasons += (reasons.empty() ? "" : "; ") + c.backend + ": " + c.unreachable_reason;
    }
    return Status::Error(EHOSTUNREACH, "no matching backend is reachable (" + reasons + ")");
  }

  Placement p;
  p.backend = best->backend;
  p.holds_source = has_source && best->holds_source;
  if (p.holds_source) {
    p.reason =
        best->backend + " already holds " + source_label + " (" + describe_score(*best) + ")";
  } else if (has_source) {
    p.reason = "no matching backend holds " + source_label + "; " + best->backend +
               " has the largest " + describe_score(*best);
  } else {
    p.reason = best->backend + " has the largest " + describe_score(*best);
  }
  for (const auto& c : candidates) {
    CandidateVerdict v{c.backend, &c == best, ""};
    if (&c == best) {
      v.reason = p.reason;
    } else if (!c.reachable) {
      v.reason = "unreachable: " + c.unreachable_reason;
    } else if (prefer_holders && !c.holds_source) {
      v.reason = "does not hold " + source_label;
    } else {
      v.reason = "smaller " + describe_score(c);
    }
    p.verdicts.push_back(std::move(v));
  }
  return p;
}

}  // namespace rbdvol::plugin
