// ha.*: the HA of a domain on a volume, kept in the volume's backend
// (records/ha_record.h has the layout; docs/driver-abi.md the requests and
// answers; docs/ha.md how the agent uses them). The plugin keeps the records,
// the lease and the fencing; the decisions are the agent's (rbdvol ha agent).
#include <cerrno>
#include <set>

#include "plugin/ceph/rbd_image.h"
#include "plugin/fan_out.h"
#include "plugin/ops/operations.h"
#include "plugin/ops/request.h"
#include "plugin/records/catalog.h"
#include "plugin/records/ha_record.h"
#include "plugin/records/journal.h"
#include "plugin/records/naming.h"

namespace rbdvol::plugin {
namespace {

// A client fenced by a new holder stays blocklisted a day: longer than any
// hang a node comes back from.
constexpr int kDefaultFenceSeconds = 86400;

struct HaHandle {
  Cluster* cluster = nullptr;
  PoolPtr io;  // the backend's volume pool
  HaDefinition def;
};

// The definition named `name` in `cluster`'s volume pool: ENOENT when it has
// none.
Result<HaHandle> read_definition(Cluster* cluster, const std::string& name) {
  ASSIGN_OR_RETURN(PoolPtr io, cluster->open_volume_pool());
  ASSIGN_OR_RETURN(std::optional<std::string> text, journal_get(*io, name, kHaIndexObject));
  if (!text) return Status::NotFound("no HA definition '" + name + "' in backend " + cluster->id());
  const Json j = Json::parse(*text, nullptr, false);
  if (j.is_discarded()) {
    return Status::Error(
        EIO, "the HA definition '" + name + "' in backend " + cluster->id() + " is not JSON");
  }
  ASSIGN_OR_RETURN(HaDefinition def, HaDefinition::from_json(j));
  return HaHandle{cluster, std::move(io), std::move(def)};
}

// The definition the request names ("name"), in its "backend" when given
// (what an agent passes, so that a paused cluster holds up only its own
// definitions), else searched in every backend.
Result<HaHandle> locate_ha(Driver& driver, const Json& request) {
  ASSIGN_OR_RETURN(std::string name, required_string(request, "name"));
  RETURN_IF_ERROR(check_ha_name("HA domain", name));
  ASSIGN_OR_RETURN(std::string backend, optional_string(request, "backend"));
  if (!backend.empty()) {
    ASSIGN_OR_RETURN(Cluster * cluster, driver.enabled_cluster(backend));
    return read_definition(cluster, name);
  }
  auto clusters = driver.cluster_list();
  auto found = fan_out(clusters, [&](Cluster* c) { return read_definition(c, name); });
  std::string unreachable;
  for (auto& f : found) {
    if (f.ok()) return std::move(f).value();
    if (f.status().err() != ENOENT) unreachable += "; " + f.status().message();
  }
  if (!unreachable.empty()) {
    return Status::Error(EHOSTUNREACH, "HA definition '" + name +
                                           "' not found in the backends that answered (not "
                                           "searched:" +
                                           unreachable.substr(1) + ")");
  }
  return Status::NotFound("no HA definition named '" + name + "'");
}

Result<HaState> read_state(Pool& io, const std::string& name) {
  ASSIGN_OR_RETURN(std::optional<std::string> text, journal_get(io, "state", ha_object(name)));
  if (!text) return HaState{};
  return HaState::from_json(Json::parse(*text, nullptr, false));
}

// Changes the state with a compare-and-swap; `change` may refuse (its error
// is returned, nothing written). The state after the change.
Result<HaState> update_state(Pool& io, const std::string& name,
                             const std::function<Status(HaState&)>& change) {
  HaState after;
  auto r = journal_update(
      io, "state",
      [&](std::optional<std::string>& value) -> Status {
        HaState s = value ? HaState::from_json(Json::parse(*value, nullptr, false)) : HaState{};
        RETURN_IF_ERROR(change(s));
        after = s;
        value = s.to_json().dump();
        return Status::Ok();
      },
      ha_object(name));
  if (!r.ok()) return r.status();
  return after;
}

Result<std::string> required_node(const HaHandle& ha, const Json& request) {
  ASSIGN_OR_RETURN(std::string node, required_string(request, "node"));
  RETURN_IF_ERROR(check_ha_name("node", node));
  if (ha.def.rank(node) < 0) {
    return Status::Invalid("node '" + node + "' is not one of the nodes of HA domain '" +
                           ha.def.name + "'");
  }
  return node;
}

Result<std::vector<ObjectLocker>> lease_lockers(const HaHandle& ha) {
  return ha.io->object_lockers(ha_object(ha.def.name), kHaLeaseLock);
}

Json lockers_json(const std::vector<ObjectLocker>& lockers) {
  Json out = Json::array();
  for (const auto& l : lockers) {
    // The cookie is "node:NODE"; the address is the holder's client.
    const std::string node = l.cookie.rfind("node:", 0) == 0 ? l.cookie.substr(5) : "";
    out.push_back({{"client", l.client}, {"node", node}, {"address", l.address}});
  }
  return out;
}

// The omap pairs of the HA object under `prefix`, as JSON values by key
// (prefix removed).
Result<Json> prefixed_records(Pool& io, const std::string& name, const std::string& prefix) {
  ASSIGN_OR_RETURN(auto all, journal_list(io, ha_object(name)));
  Json out = Json::object();
  for (const auto& [k, v] : all) {
    if (k.rfind(prefix, 0) != 0) continue;
    Json value = Json::parse(v, nullptr, false);
    out[k.substr(prefix.size())] = value.is_discarded() ? Json(v) : value;
  }
  return out;
}

Result<bool> holds_lease(const HaHandle& ha, const std::string& node) {
  ASSIGN_OR_RETURN(auto lockers, lease_lockers(ha));
  const std::string me = ha.io->client_name();
  for (const auto& l : lockers) {
    if (l.client == me && l.cookie == ha_cookie(node)) return true;
  }
  return false;
}

Result<int> optional_seconds(const Json& request, const char* key, int fallback) {
  if (!request.contains(key) || request.at(key).is_null()) return fallback;
  const Json& v = request.at(key);
  if (!v.is_number_integer()) {
    return Status::Invalid(std::string(key) + " must be a whole number of seconds");
  }
  const int64_t n = v.get<int64_t>();
  if (n < 0 || n > 86400 * 365) {
    return Status::Invalid(std::string(key) + " must be 0 to a year, not " + std::to_string(n));
  }
  return static_cast<int>(n);
}

}  // namespace

Result<Json> ha_define(Driver& driver, const Json& request, const Progress&) {
  HaDefinition def;
  ASSIGN_OR_RETURN(def.name, required_string(request, "name"));
  RETURN_IF_ERROR(check_ha_name("HA domain", def.name));
  ASSIGN_OR_RETURN(std::string volume_id, required_string(request, "volume"));
  ASSIGN_OR_RETURN(def.domain_xml, required_string(request, "domain_xml"));
  if (!request.contains("nodes") || !request.at("nodes").is_array() ||
      request.at("nodes").empty()) {
    return Status::Invalid("nodes must be a non-empty array of node names");
  }
  std::set<std::string> seen;
  for (const auto& n : request.at("nodes")) {
    if (!n.is_string()) return Status::Invalid("nodes must be a non-empty array of node names");
    const std::string node = n.get<std::string>();
    RETURN_IF_ERROR(check_ha_name("node", node));
    if (!seen.insert(node).second) return Status::Invalid("node '" + node + "' is named twice");
    def.nodes.push_back(node);
  }
  ASSIGN_OR_RETURN(def.lease_seconds, optional_seconds(request, "lease_seconds", 12));
  ASSIGN_OR_RETURN(def.grace_seconds, optional_seconds(request, "grace_seconds", 4));
  ASSIGN_OR_RETURN(def.interval_seconds, optional_seconds(request, "interval_seconds", 2));
  RETURN_IF_ERROR(check_ha_timings(def.lease_seconds, def.grace_seconds, def.interval_seconds));
  ASSIGN_OR_RETURN(VolumeHandle volume, locate_volume(driver, volume_id));
  def.volume = volume.uuid;
  def.backend = volume.cluster->id();
  def.created = unix_now();

  // One name across the backends: another backend that holds it refuses,
  // one that does not answer makes the define wait for it (EHOSTUNREACH).
  auto clusters = driver.cluster_list();
  auto found = fan_out(clusters, [&](Cluster* c) { return read_definition(c, def.name); });
  for (size_t i = 0; i < found.size(); ++i) {
    if (found[i].ok()) {
      return Status::Exists("HA domain '" + def.name + "' is already defined (in backend " +
                            clusters[i]->id() + ")");
    }
    if (found[i].status().err() != ENOENT) {
      return Status::Error(EHOSTUNREACH,
                           "cannot tell whether HA domain '" + def.name +
                               "' is defined elsewhere: " + found[i].status().message());
    }
  }
  // Whether a volume of every definition is one is checked where it is
  // used: two HA domains on one volume would be two writers.
  ASSIGN_OR_RETURN(auto index, journal_list(*volume.io, kHaIndexObject));
  for (const auto& [other, text] : index) {
    const Json j = Json::parse(text, nullptr, false);
    if (!j.is_discarded() && j.value("volume", "") == def.volume) {
      return Status::Busy("volume " + def.volume + " is already the disk of HA domain '" + other +
                          "'");
    }
  }
  auto written = journal_update(
      *volume.io, def.name,
      [&](std::optional<std::string>& value) -> Status {
        if (value) return Status::Exists("HA domain '" + def.name + "' is already defined");
        value = def.to_json().dump();
        return Status::Ok();
      },
      kHaIndexObject);
  if (!written.ok()) return written.status();
  Json out = def.to_json();
  out.erase("domain_xml");
  return out;
}

Result<Json> ha_list(Driver& driver, const Json&, const Progress&) {
  auto clusters = driver.cluster_list();
  auto listed = fan_out(clusters, [&](Cluster* c) -> Result<Json> {
    ASSIGN_OR_RETURN(PoolPtr io, c->open_volume_pool());
    ASSIGN_OR_RETURN(auto index, journal_list(*io, kHaIndexObject));
    Json out = Json::array();
    for (const auto& [name, text] : index) {
      auto def = HaDefinition::from_json(Json::parse(text, nullptr, false));
      if (!def.ok()) continue;
      ASSIGN_OR_RETURN(HaState state, read_state(*io, name));
      out.push_back({{"name", def->name},
                     {"volume", def->volume},
                     {"backend", def->backend},
                     {"nodes", def->nodes},
                     {"holder", state.holder},
                     {"epoch", state.epoch},
                     {"lease_expires", state.holder.empty() ? Json() : Json(state.expires)},
                     {"maintenance", state.maintenance}});
    }
    return out;
  });
  Json domains = Json::array();
  Json unreachable = Json::array();
  for (size_t i = 0; i < listed.size(); ++i) {
    if (!listed[i].ok()) {
      unreachable.push_back(
          {{"backend", clusters[i]->id()}, {"error", listed[i].status().message()}});
      continue;
    }
    for (auto& d : *listed[i]) domains.push_back(std::move(d));
  }
  std::sort(domains.begin(), domains.end(),
            [](const Json& a, const Json& b) { return a.at("name") < b.at("name"); });
  return Json{{"domains", domains}, {"unreachable", unreachable}};
}

Result<Json> ha_show(Driver& driver, const Json& request, const Progress&) {
  ASSIGN_OR_RETURN(HaHandle ha, locate_ha(driver, request));
  ASSIGN_OR_RETURN(HaState state, read_state(*ha.io, ha.def.name));
  ASSIGN_OR_RETURN(auto lockers, lease_lockers(ha));
  ASSIGN_OR_RETURN(Json checks, prefixed_records(*ha.io, ha.def.name, "check."));
  ASSIGN_OR_RETURN(Json fences, prefixed_records(*ha.io, ha.def.name, "fence."));
  Json blocklisted = Json::array();
  for (auto& [addr, f] : fences.items()) blocklisted.push_back(f);
  std::sort(blocklisted.begin(), blocklisted.end(), [](const Json& a, const Json& b) {
    return a.value("time", 0.0) < b.value("time", 0.0);
  });
  Json out = ha.def.to_json();
  out["state"] = state.to_json();
  out["lockers"] = lockers_json(lockers);
  out["checks"] = checks;
  out["blocklisted"] = blocklisted;
  out["now"] = unix_now();
  return out;
}

Result<Json> ha_undefine(Driver& driver, const Json& request, const Progress&) {
  ASSIGN_OR_RETURN(HaHandle ha, locate_ha(driver, request));
  ASSIGN_OR_RETURN(bool force, optional_bool(request, "force", false));
  ASSIGN_OR_RETURN(HaState state, read_state(*ha.io, ha.def.name));
  if (!force && !state.holder.empty() && !state.released && state.expires > unix_now() &&
      !state.maintenance) {
    return Status::Busy("HA domain '" + ha.def.name + "' is held by node " + state.holder +
                        " (its lease runs until it is released or expires); put it in "
                        "maintenance first, or force");
  }
  auto removed = journal_update(
      *ha.io, ha.def.name,
      [](std::optional<std::string>& value) -> Status {
        value.reset();
        return Status::Ok();
      },
      kHaIndexObject);
  if (!removed.ok()) return removed.status();
  Status s = ha.io->remove(ha_object(ha.def.name));
  if (!s.ok() && s.err() != ENOENT) return s;
  return Json{{"name", ha.def.name}, {"volume", ha.def.volume}, {"backend", ha.def.backend}};
}

Result<Json> ha_update(Driver& driver, const Json& request, const Progress&) {
  ASSIGN_OR_RETURN(HaHandle ha, locate_ha(driver, request));
  std::optional<bool> maintenance;
  if (request.contains("maintenance")) {
    ASSIGN_OR_RETURN(bool m, optional_bool(request, "maintenance", false));
    maintenance = m;
  }
  ASSIGN_OR_RETURN(std::string relocate_to, optional_string(request, "relocate_to"));
  if (!relocate_to.empty() && ha.def.rank(relocate_to) < 0) {
    return Status::Invalid("node '" + relocate_to + "' is not one of the nodes of HA domain '" +
                           ha.def.name + "'");
  }
  ASSIGN_OR_RETURN(HaState state, update_state(*ha.io, ha.def.name, [&](HaState& s) -> Status {
                     if (maintenance) s.maintenance = *maintenance;
                     if (!relocate_to.empty()) {
                       if (s.maintenance) {
                         return Status::Busy("HA domain '" + ha.def.name +
                                             "' is in maintenance: agents would not move it");
                       }
                       s.relocate_to = s.holder == relocate_to && !s.released ? "" : relocate_to;
                     }
                     return Status::Ok();
                   }));
  return Json{{"name", ha.def.name}, {"state", state.to_json()}};
}

Result<Json> ha_report(Driver& driver, const Json& request, const Progress&) {
  ASSIGN_OR_RETURN(HaHandle ha, locate_ha(driver, request));
  ASSIGN_OR_RETURN(std::string node, required_node(ha, request));
  if (!request.contains("check") || !request.at("check").is_object()) {
    return Status::Invalid("check must be an object");
  }
  Json check = request.at("check");
  check["node"] = node;
  check["time"] = unix_now();
  const std::string text = check.dump();
  auto r = journal_update(
      *ha.io, "check." + node,
      [&](std::optional<std::string>& value) -> Status {
        value = text;
        return Status::Ok();
      },
      ha_object(ha.def.name));
  if (!r.ok()) return r.status();
  return Json{{"name", ha.def.name}, {"node", node}};
}

// The storage check of an agent and what it decides with: the backend
// answers, the volume opens, and the lease as the state and the lock say.
Result<Json> ha_check(Driver& driver, const Json& request, const Progress&) {
  ASSIGN_OR_RETURN(HaHandle ha, locate_ha(driver, request));
  ASSIGN_OR_RETURN(ImagePtr image, open_image(*ha.io, kVolumePrefix + ha.def.volume, true));
  ASSIGN_OR_RETURN(uint64_t size, image->size());
  ASSIGN_OR_RETURN(HaState state, read_state(*ha.io, ha.def.name));
  ASSIGN_OR_RETURN(auto lockers, lease_lockers(ha));
  Json out = ha.def.to_json();
  out["volume_size"] = size;
  out["state"] = state.to_json();
  out["lockers"] = lockers_json(lockers);
  out["now"] = unix_now();
  return out;
}

// Takes or renews the lease for `node`. The lock of this node's own earlier
// agent process (same cookie, another client: an agent killed and started
// again) is broken and taken over, which keeps the epoch; rbdvol ha agent
// runs one agent per node (a lock file). Answers whether it holds it now,
// the epoch, and whether this call was a takeover (a new epoch: the caller
// must fence before it starts the domain).
Result<Json> ha_lease_acquire(Driver& driver, const Json& request, const Progress&) {
  ASSIGN_OR_RETURN(HaHandle ha, locate_ha(driver, request));
  ASSIGN_OR_RETURN(std::string node, required_node(ha, request));
  const std::string oid = ha_object(ha.def.name);
  const std::string cookie = ha_cookie(node);
  const auto seconds = static_cast<uint32_t>(ha.def.lease_seconds);
  // The clock starts before the lock is asked for: the holder's idea of its
  // expiry is never later than the OSD's.
  const double asked_at = unix_now();
  Status s = ha.io->lock_lease(oid, kHaLeaseLock, cookie, seconds);
  bool broke_own = false;
  if (s.err() == EBUSY) {
    ASSIGN_OR_RETURN(auto lockers, lease_lockers(ha));
    for (const auto& l : lockers) {
      if (l.cookie == cookie && l.client != ha.io->client_name()) {
        Status b = ha.io->break_object_lock(oid, kHaLeaseLock, l.client, l.cookie);
        if (!b.ok() && b.err() != ENOENT) return b;
        broke_own = true;
      }
    }
    if (broke_own) s = ha.io->lock_lease(oid, kHaLeaseLock, cookie, seconds);
  }
  if (s.err() == EBUSY) {
    ASSIGN_OR_RETURN(HaState state, read_state(*ha.io, ha.def.name));
    ASSIGN_OR_RETURN(auto lockers, lease_lockers(ha));
    // The lock names the holder first: a node that has just won has its lock
    // but may not have written the state yet.
    std::string holder = state.holder;
    for (const auto& l : lockers) {
      if (l.cookie.rfind("node:", 0) == 0) holder = l.cookie.substr(5);
    }
    return Json{{"held", false},
                {"holder", holder},
                {"epoch", state.epoch},
                {"expires", state.expires},
                {"lockers", lockers_json(lockers)}};
  }
  RETURN_IF_ERROR(s);
  bool took_over = false;
  ASSIGN_OR_RETURN(HaState state, update_state(*ha.io, ha.def.name, [&](HaState& st) -> Status {
                     took_over = st.holder != node || st.released || st.epoch == 0;
                     if (took_over) {
                       st.epoch += 1;
                       st.holder = node;
                       st.taken_at = asked_at;
                       st.released = false;
                     }
                     if (st.relocate_to == node) st.relocate_to.clear();
                     st.expires = asked_at + seconds;
                     return Status::Ok();
                   }));
  return Json{{"held", true},           {"holder", node},
              {"epoch", state.epoch},   {"expires", state.expires},
              {"took_over", took_over}, {"broke_own_lock", broke_own}};
}

Result<Json> ha_lease_release(Driver& driver, const Json& request, const Progress&) {
  ASSIGN_OR_RETURN(HaHandle ha, locate_ha(driver, request));
  ASSIGN_OR_RETURN(std::string node, required_node(ha, request));
  ASSIGN_OR_RETURN(bool held, holds_lease(ha, node));
  if (!held)
    return Status::Busy("node " + node + " does not hold the lease of '" + ha.def.name + "'");
  ASSIGN_OR_RETURN(HaState state, update_state(*ha.io, ha.def.name, [&](HaState& st) -> Status {
                     if (st.holder == node) {
                       st.holder.clear();
                       st.released = true;
                       st.released_at = unix_now();
                     }
                     return Status::Ok();
                   }));
  Status s = ha.io->unlock(ha_object(ha.def.name), kHaLeaseLock, ha_cookie(node));
  if (!s.ok() && s.err() != ENOENT) return s;
  return Json{{"released", true}, {"epoch", state.epoch}};
}

// Fencing by a new holder: every client watching the volume's header (a
// QEMU, or any other process with it open for writing) is blocklisted, with
// a long expiry, and recorded. Refused (EBUSY) unless `node` holds the lease
// at `epoch` through this very client. Answers the watchers still left: the
// caller starts the domain only when none is.
Result<Json> ha_fence(Driver& driver, const Json& request, const Progress&) {
  ASSIGN_OR_RETURN(HaHandle ha, locate_ha(driver, request));
  ASSIGN_OR_RETURN(std::string node, required_node(ha, request));
  ASSIGN_OR_RETURN(std::optional<uint64_t> epoch, optional_offset(request, "epoch"));
  ASSIGN_OR_RETURN(int expire, optional_seconds(request, "expire_seconds", kDefaultFenceSeconds));
  if (!epoch) return Status::Invalid("epoch is required");
  if (expire < 1) return Status::Invalid("expire_seconds must be at least 1");
  ASSIGN_OR_RETURN(bool held, holds_lease(ha, node));
  ASSIGN_OR_RETURN(HaState state, read_state(*ha.io, ha.def.name));
  if (!held || state.holder != node || state.epoch != *epoch) {
    return Status::Busy("node " + node + " does not hold the lease of '" + ha.def.name +
                        "' at epoch " + std::to_string(*epoch) + " (holder " +
                        (state.holder.empty() ? "none" : state.holder) + ", epoch " +
                        std::to_string(state.epoch) + ")");
  }
  ASSIGN_OR_RETURN(Json fenced, prefixed_records(*ha.io, ha.def.name, "fence."));
  ASSIGN_OR_RETURN(ImagePtr image, open_image(*ha.io, kVolumePrefix + ha.def.volume, true));
  ASSIGN_OR_RETURN(std::vector<std::string> watchers, image->watchers());
  Json blocklisted = Json::array();
  for (const auto& addr : watchers) {
    if (fenced.contains(addr) && fenced[addr].value("epoch", uint64_t{0}) == *epoch) continue;
    const std::string command = Json{
        {"prefix", "osd blocklist"},
        {"blocklistop", "add"},
        {"addr", addr},
        {"expire", static_cast<double>(
                       expire)}}.dump();
    auto r = ha.io->mon_command(command);
    if (!r.ok()) return r.status().Prefixed("cannot blocklist " + addr);
    const double now = unix_now();
    Json record = {{"address", addr},
                   {"epoch", *epoch},
                   {"node", node},
                   {"time", now},
                   {"expires", now + expire}};
    auto w = journal_update(
        *ha.io, "fence." + addr,
        [&](std::optional<std::string>& value) -> Status {
          value = record.dump();
          return Status::Ok();
        },
        ha_object(ha.def.name));
    if (!w.ok()) return w.status();
    blocklisted.push_back(record);
  }
  return Json{{"blocklisted", blocklisted}, {"watchers", watchers}, {"epoch", *epoch}};
}

}  // namespace rbdvol::plugin
