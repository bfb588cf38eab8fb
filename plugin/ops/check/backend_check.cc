// backend.check: scans every enabled backend (or one) for what crashes,
// kills and outside tools left behind, and with `repair` mends what is safe
// to mend (check.h, docs/driver-abi.md).
#include <algorithm>
#include <map>

#include "plugin/fan_out.h"
#include "plugin/ops/check/check.h"
#include "plugin/ops/operations.h"
#include "plugin/ops/request.h"
#include "plugin/records/catalog.h"
#include "plugin/records/naming.h"

namespace rbdvol::plugin {

bool CheckOptions::wanted(const std::vector<std::string>& ids) const {
  if (only.empty()) return true;
  return std::any_of(ids.begin(), ids.end(),
                     [this](const std::string& id) { return only.count(id); });
}

Json finding_json(const Finding& f) {
  return Json{{"kind", f.kind},       {"backend", f.backend},   {"pool", f.pool},
              {"image", f.image},     {"snapshot", f.snapshot}, {"ids", f.ids},
              {"problem", f.problem}, {"repair", f.repair},     {"left", f.left}};
}

namespace {

Result<CheckOptions> check_options(const Json& request) {
  CheckOptions options;
  options.now = ::time(nullptr);
  if (request.contains("min_age")) {
    const Json& v = request.at("min_age");
    if (!v.is_number_integer() || v.get<int64_t>() < 0) {
      return Status::Invalid("min_age must be a number of seconds, 0 or more");
    }
    options.min_age_seconds = v.get<int64_t>();
  }
  if (request.contains("only")) {
    const Json& v = request.at("only");
    if (!v.is_array()) return Status::Invalid("only must be an array of ids");
    for (const auto& id : v) {
      if (!id.is_string()) return Status::Invalid("only must be an array of ids");
      std::string text = id.get<std::string>();
      for (const std::string& prefix : {kVolumePrefix, kImagePrefix, std::string("snapshot-")}) {
        if (text.compare(0, prefix.size(), prefix) == 0) text = text.substr(prefix.size());
      }
      if (!is_uuid(text)) return Status::Invalid("only: '" + text + "' is not an id");
      options.only.insert(text);
    }
  }
  return options;
}

Result<BackendScan> check_backend(Driver& driver, Cluster& cluster, const CheckOptions& options) {
  ASSIGN_OR_RETURN(BackendScan scan, check_volume_pool(driver, cluster, options));
  ASSIGN_OR_RETURN(BackendScan images, check_image_pool(cluster, options));
  for (auto& f : images.findings) scan.findings.push_back(std::move(f));
  ASSIGN_OR_RETURN(auto directory, check_directories(driver, cluster, options));
  for (auto& f : directory) scan.findings.push_back(std::move(f));
  return scan;
}

}  // namespace

Result<Json> backend_check(Driver& driver, const Json& request, const Progress&) {
  ASSIGN_OR_RETURN(std::string only_backend, optional_backend(driver, request));
  ASSIGN_OR_RETURN(bool repair, optional_bool(request, "repair", false));
  ASSIGN_OR_RETURN(CheckOptions options, check_options(request));
  std::vector<Cluster*> clusters = driver.cluster_list(only_backend);

  Json findings = Json::array(), unreachable = Json::array(), attachments = Json::array();
  Json checked = Json::array();
  int remaining = 0, repaired = 0;
  std::map<std::string, bool> seen;  // finding -> repaired
  // A repair can leave something the scan reports in turn (an unfinished
  // volume's removal leaves its image's `snap` without a clone): with
  // `repair`, the backends that had something repaired are scanned again,
  // a few times at most, so that a second check finds nothing new.
  std::vector<Cluster*> to_scan = clusters;
  for (int pass = 0; pass < 3 && !to_scan.empty(); ++pass) {
    auto scans = fan_out(to_scan, [&](Cluster* c) { return check_backend(driver, *c, options); });
    std::vector<Cluster*> again;
    for (size_t i = 0; i < scans.size(); ++i) {
      if (!scans[i].ok()) {
        unreachable.push_back(
            {{"backend", to_scan[i]->id()}, {"error", scans[i].status().message()}});
        continue;
      }
      if (pass == 0) {
        checked.push_back(to_scan[i]->id());
        for (auto& a : scans[i]->attachments) attachments.push_back(std::move(a));
      }
      bool changed = false;
      for (auto& f : scans[i]->findings) {
        // A later pass answers only what a repair made visible: what it
        // left (an unrepairable finding) would be found on every pass.
        const std::string key =
            f.kind + " " + f.backend + " " + f.pool + "/" + f.image + "@" + f.snapshot;
        auto earlier = seen.find(key);
        if (earlier != seen.end() && !earlier->second) continue;
        const bool back_again = earlier != seen.end();
        Json j = finding_json(f);
        j["repaired"] = false;
        if (back_again) {
          j["left"] = "found again after its repair";
        } else if (repair && f.fix) {
          Status s = f.fix();
          j["repaired"] = s.ok();
          if (s.ok()) {
            ++repaired;
            changed = true;
          } else {
            j["left"] = "the repair failed: " + s.message();
          }
        }
        seen[key] = j["repaired"].get<bool>();
        if (!j["repaired"].get<bool>()) ++remaining;
        findings.push_back(std::move(j));
      }
      if (changed) again.push_back(to_scan[i]);
    }
    if (!repair) break;
    to_scan = std::move(again);
  }
  return Json{{"findings", findings},  {"attachments", attachments}, {"unreachable", unreachable},
              {"backends", checked},   {"repair", repair},           {"repaired", repaired},
              {"remaining", remaining}};
}

}  // namespace rbdvol::plugin
