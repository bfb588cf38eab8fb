// journal.get, journal.list, journal.update: the service journal
// (records/journal.h) through the ABI, for a volume service that keeps its
// state in Ceph (docs/driver-abi.md, "The service journal").
#include "plugin/fan_out.h"
#include "plugin/ops/operations.h"
#include "plugin/ops/request.h"
#include "plugin/records/catalog.h"
#include "plugin/records/journal.h"

namespace rbdvol::plugin {
namespace {

Status check_key(const std::string& key) {
  if (key.empty() || key.size() > 128) {
    return Status::Invalid("journal key must be 1 to 128 characters");
  }
  for (char c : key) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok)
      return Status::Invalid("journal key '" + key + "' has a character outside [A-Za-z0-9._:-]");
  }
  return Status::Ok();
}

Json parsed(const std::string& text) {
  Json j = Json::parse(text, nullptr, false);
  return j.is_discarded() ? Json(text) : j;
}

// The request's "journal": "service" (the default) or "images".
Result<std::string> journal_object(const Json& request) {
  if (!request.contains("journal")) return kJournalObject;
  const Json& j = request["journal"];
  if (j == "service") return kJournalObject;
  if (j == "images") return kImageJournalObject;
  return Status::Invalid("request field 'journal' must be \"service\" or \"images\", got " +
                         j.dump());
}

}  // namespace

Result<Json> journal_get(Driver& driver, const Json& request, const Progress&) {
  ASSIGN_OR_RETURN(std::string key, required_string(request, "key"));
  RETURN_IF_ERROR(check_key(key));
  ASSIGN_OR_RETURN(std::string object, journal_object(request));
  auto clusters = driver.cluster_list();
  auto found = fan_out(clusters, [&](Cluster* c) -> Result<std::optional<std::string>> {
    auto io = c->open_volume_pool();
    if (!io.ok()) return io.status();
    return journal_get(**io, key, object);
  });
  Json entries = Json::array(), unreachable = Json::array();
  for (size_t i = 0; i < clusters.size(); ++i) {
    if (!found[i].ok()) {
      unreachable.push_back(
          {{"backend", clusters[i]->id()}, {"error", found[i].status().message()}});
    } else if (found[i]->has_value()) {
      entries.push_back({{"backend", clusters[i]->id()}, {"value", parsed(**found[i])}});
    }
  }
  return Json{{"key", key}, {"entries", entries}, {"unreachable", unreachable}};
}

Result<Json> journal_list(Driver& driver, const Json& request, const Progress&) {
  ASSIGN_OR_RETURN(std::string object, journal_object(request));
  auto clusters = driver.cluster_list();
  auto found = fan_out(clusters, [&](Cluster* c) -> Result<std::map<std::string, std::string>> {
    auto io = c->open_volume_pool();
    if (!io.ok()) return io.status();
    return journal_list(**io, object);
  });
  Json entries = Json::array(), unreachable = Json::array();
  for (size_t i = 0; i < clusters.size(); ++i) {
    if (!found[i].ok()) {
      unreachable.push_back(
          {{"backend", clusters[i]->id()}, {"error", found[i].status().message()}});
      continue;
    }
    for (const auto& [key, value] : *found[i]) {
      entries.push_back({{"backend", clusters[i]->id()}, {"key", key}, {"value", parsed(value)}});
    }
  }
  return Json{{"entries", entries}, {"unreachable", unreachable}};
}

Result<Json> journal_update(Driver& driver, const Json& request, const Progress&) {
  ASSIGN_OR_RETURN(std::string backend, required_string(request, "backend"));
  ASSIGN_OR_RETURN(std::string key, required_string(request, "key"));
  RETURN_IF_ERROR(check_key(key));
  ASSIGN_OR_RETURN(std::string object, journal_object(request));
  if (!request.contains("value")) {
    return Status::Invalid("request field 'value' is required (null removes the key)");
  }
  Cluster* cluster = driver.cluster(backend);
  if (!cluster) return Status::NotFound("backend '" + backend + "' is not an enabled backend");
  ASSIGN_OR_RETURN(auto io, cluster->open_volume_pool());
  const bool conditional = request.contains("expect");
  const Json expect = conditional ? request["expect"] : Json();
  const Json& value = request["value"];
  ASSIGN_OR_RETURN(std::optional<std::string> previous,
                   journal_update(
                       *io, key,
                       [&](std::optional<std::string>& current) -> Status {
                         if (conditional) {
                           Json now = current ? parsed(*current) : Json(nullptr);
                           if (now != expect) {
                             return Status::Busy("journal entry " + key + " on backend " + backend +
                                                 " is not what was expected: it changed");
                           }
                         }
                         if (value.is_null()) {
                           current.reset();
                         } else {
                           current = value.dump();
                         }
                         return Status::Ok();
                       },
                       object));
  return Json{{"backend", backend},
              {"key", key},
              {"value", value},
              {"previous", previous ? parsed(*previous) : Json(nullptr)}};
}

}  // namespace rbdvol::plugin
