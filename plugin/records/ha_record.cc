#include "plugin/records/ha_record.h"

#include <chrono>
#include <set>

namespace rbdvol::plugin {

Status check_ha_name(const std::string& what, const std::string& value) {
  if (value.empty() || value.size() > 64) {
    return Status::Invalid(what + " name must be 1 to 64 characters, not '" + value + "'");
  }
  if (value[0] == '.' || value[0] == '-') {
    return Status::Invalid(what + " name '" + value + "' must not start with '.' or '-'");
  }
  for (char c : value) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) {
      return Status::Invalid(what + " name '" + value +
                             "' may hold only letters, digits, '_', '.' and '-'");
    }
  }
  return Status::Ok();
}

Status check_ha_timings(int lease_seconds, int grace_seconds, int interval_seconds) {
  auto in_range = [](int v) { return v >= 1 && v <= 86400; };
  if (!in_range(lease_seconds) || !in_range(interval_seconds) ||
      !(grace_seconds >= 0 && grace_seconds <= 86400)) {
    return Status::Invalid("HA timings must be 1 s to 1 day (the grace time 0 s to 1 day)");
  }
  if (lease_seconds < 3 * interval_seconds) {
    return Status::Invalid("the lease (" + std::to_string(lease_seconds) +
                           " s) must last at least three check intervals (3 x " +
                           std::to_string(interval_seconds) + " s)");
  }
  return Status::Ok();
}

nlohmann::json HaDefinition::to_json() const {
  return {{"name", name},
          {"volume", volume},
          {"backend", backend},
          {"nodes", nodes},
          {"domain_xml", domain_xml},
          {"lease_seconds", lease_seconds},
          {"grace_seconds", grace_seconds},
          {"interval_seconds", interval_seconds},
          {"created", created}};
}

Result<HaDefinition> HaDefinition::from_json(const nlohmann::json& j) {
  HaDefinition d;
  try {
    d.name = j.at("name").get<std::string>();
    d.volume = j.at("volume").get<std::string>();
    d.backend = j.at("backend").get<std::string>();
    d.nodes = j.at("nodes").get<std::vector<std::string>>();
    d.domain_xml = j.at("domain_xml").get<std::string>();
    d.lease_seconds = j.at("lease_seconds").get<int>();
    d.grace_seconds = j.at("grace_seconds").get<int>();
    d.interval_seconds = j.at("interval_seconds").get<int>();
    d.created = j.value("created", 0.0);
  } catch (const nlohmann::json::exception& e) {
    return Status::Invalid(std::string("an HA definition that is not one: ") + e.what());
  }
  return d;
}

int HaDefinition::rank(const std::string& node) const {
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i] == node) return static_cast<int>(i);
  }
  return -1;
}

nlohmann::json HaState::to_json() const {
  return {{"holder", holder},           {"epoch", epoch},
          {"expires", expires},         {"taken_at", taken_at},
          {"released", released},       {"released_at", released_at},
          {"relocate_to", relocate_to}, {"maintenance", maintenance}};
}

HaState HaState::from_json(const nlohmann::json& j) {
  HaState s;
  if (!j.is_object()) return s;
  s.holder = j.value("holder", "");
  s.epoch = j.value("epoch", uint64_t{0});
  s.expires = j.value("expires", 0.0);
  s.taken_at = j.value("taken_at", 0.0);
  s.released = j.value("released", false);
  s.released_at = j.value("released_at", 0.0);
  s.relocate_to = j.value("relocate_to", "");
  s.maintenance = j.value("maintenance", false);
  return s;
}

double unix_now() {
  using namespace std::chrono;
  return duration_cast<duration<double>>(system_clock::now().time_since_epoch()).count();
}

}  // namespace rbdvol::plugin
