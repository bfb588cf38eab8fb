#include "attach/audit.h"

#include "attach/live_detach.h"

#include <map>

namespace rbdvol::attach {

namespace {

bool is_shared_cache_mode(const std::string& cache) {
  return cache == "none" || cache == "directsync";
}

// The shared-disk cache mode to give a disk: the type's own when it is one.
std::string shared_cache_of(const VolumeRules& rules) {
  return is_shared_cache_mode(rules.cache) ? rules.cache : "none";
}

bool has_rbd_disk(const std::string& xml, const std::string& dev, const std::string& source) {
  auto disks = xmlpatch::list_disks(xml);
  if (!disks.ok()) return false;
  for (const auto& d : *disks) {
    if (d.target_dev == dev && d.source_protocol == "rbd" && d.source_name == source) return true;
  }
  return false;
}

// Looks volumes up once per audit, whatever the number of disks naming them.
class CachedDirectory {
 public:
  explicit CachedDirectory(VolumeDirectory& inner) : inner_(inner) {}
  Result<std::optional<VolumeRules>> lookup(const std::string& source) {
    auto it = cache_.find(source);
    if (it != cache_.end()) return it->second;
    auto slash = source.find('/');
    if (slash == std::string::npos) return std::optional<VolumeRules>();
    auto r = inner_.lookup(source.substr(0, slash), source.substr(slash + 1));
    cache_.emplace(source, r);
    return r;
  }

 private:
  VolumeDirectory& inner_;
  std::map<std::string, Result<std::optional<VolumeRules>>> cache_;
};

struct Broken {
  xmlpatch::DiskInfo disk;
  VolumeRules rules;
  size_t finding = 0;  // index into the findings
};

// The rbdvol disks of `xml` that break a rule, each with a finding appended.
std::vector<Broken> broken_disks(const std::string& domain, const std::string& xml,
                                 const std::string& where, CachedDirectory& volumes,
                                 std::vector<AuditFinding>& findings) {
  std::vector<Broken> out;
  auto disks = xmlpatch::list_disks(xml);
  if (!disks.ok()) {
    findings.push_back({domain,
                        "",
                        "",
                        "",
                        where,
                        {"cannot read the XML: " + disks.status().message()},
                        false,
                        ""});
    return out;
  }
  for (const auto& d : *disks) {
    if (d.source_protocol != "rbd") continue;
    AuditFinding f{domain, d.target_dev, d.source_name, "", where, {}, false, ""};
    auto rules = volumes.lookup(d.source_name);
    if (!rules.ok()) {
      f.problems.push_back("cannot look the volume up: " + rules.status().message());
      findings.push_back(std::move(f));
      continue;
    }
    if (!rules->has_value()) continue;  // not an rbdvol volume
    f.volume_id = (*rules)->volume_id;
    f.problems = rule_breaks(d, **rules);
    if (f.problems.empty()) continue;
    findings.push_back(std::move(f));
    out.push_back({d, **rules, findings.size() - 1});
  }
  return out;
}

// Detaches the live disk and attaches the corrected one; returns what happened.
std::string refit_live_disk(Hypervisor& hv, const std::string& domain, const std::string& live_xml,
                            const Broken& b, int live_wait_ms, bool* fixed) {
  *fixed = false;
  const xmlpatch::DiskSelector which{b.disk.target_dev, ""};
  auto old_disk = xmlpatch::disk_xml_of(live_xml, which);
  if (!old_disk.ok()) return "cannot fix: " + old_disk.status().message();
  auto fixed_doc = fix_disk(live_xml, b.disk.target_dev, b.rules);
  if (!fixed_doc.ok()) return "cannot fix: " + fixed_doc.status().message();
  auto new_disk = xmlpatch::disk_xml_of(*fixed_doc, which);
  if (!new_disk.ok()) return "cannot fix: " + new_disk.status().message();
  auto gone = detach_live_and_wait(
      hv, domain, *old_disk,
      [&](const std::string& xml) {
        return has_rbd_disk(xml, b.disk.target_dev, b.disk.source_name);
      },
      live_wait_ms);
  if (!gone.ok()) return "cannot detach the live disk: " + gone.status().message();
  if (!*gone) {
    return "live detach requested, but the guest has not released the disk (a virtio disk "
           "needs the guest's answer); the fix takes effect at the next boot";
  }
  Status s = hv.attach_device(domain, *new_disk, true, false);
  if (!s.ok()) {
    return "the live disk was detached but attaching the corrected one failed (the definition "
           "still has it; it comes back at the next boot): " +
           s.message();
  }
  *fixed = true;
  return "live disk detached and attached again with the corrected XML";
}

}  // namespace

std::vector<std::string> rule_breaks(const xmlpatch::DiskInfo& disk, const VolumeRules& rules) {
  std::vector<std::string> out;
  if (rules.multiattach) {
    if (!disk.shareable) out.push_back("shared volume without <shareable/>");
    if (!is_shared_cache_mode(disk.cache)) {
      out.push_back("shared volume with cache mode '" +
                    (disk.cache.empty() ? std::string("default") : disk.cache) +
                    "' (only none or directsync keep guests from reading stale data)");
    }
    if (disk.driver_type != "raw") {
      out.push_back("shared volume with driver type '" +
                    (disk.driver_type.empty() ? std::string("(probed)") : disk.driver_type) +
                    "', not raw");
    }
  }
  if (disk.auth_username.empty()) out.push_back("no <auth> (the volume needs the libvirt secret)");
  return out;
}

Result<std::string> fix_disk(const std::string& domain_xml, const std::string& target_dev,
                             const VolumeRules& rules) {
  const xmlpatch::DiskSelector which{target_dev, ""};
  auto disks = xmlpatch::list_disks(domain_xml);
  if (!disks.ok()) return disks.status();
  const xmlpatch::DiskInfo* disk = nullptr;
  for (const auto& d : *disks) {
    if (d.target_dev == target_dev) disk = &d;
  }
  if (!disk) return Status::NotFound("no disk with target dev " + target_dev);
  std::string xml = domain_xml;
  auto step = [&xml](Result<std::string> next) -> Status {
    if (!next.ok()) return next.status();
    xml = std::move(next).value();
    return Status::Ok();
  };
  if (rules.multiattach) {
    Status s;
    if (disk->driver_type != "raw") s = step(xmlpatch::set_disk_driver_type(xml, which, "raw"));
    if (!s.ok()) return s;
    // A shareable disk refuses a caching mode, so the mode goes first.
    const std::string cache = shared_cache_of(rules);
    if (disk->cache != cache && !is_shared_cache_mode(disk->cache)) {
      s = step(xmlpatch::set_disk_cache_mode(xml, which, cache));
      if (!s.ok()) return s;
    }
    if (!disk->shareable) {
      s = step(xmlpatch::make_disk_shareable(
          xml, which, is_shared_cache_mode(disk->cache) ? disk->cache : cache));
      if (!s.ok()) return s;
    }
  }
  if (disk->auth_username.empty()) {
    if (rules.secret_uuid.empty()) {
      return Status::Invalid(
          "the disk has no <auth> and the volume's backend has no "
          "libvirt_secret_uuid in the config to give it");
    }
    Status s = step(xmlpatch::set_disk_auth(xml, which, rules.auth_username, rules.secret_uuid));
    if (!s.ok()) return s;
  }
  return xml;
}

Result<std::vector<AuditFinding>> audit_domains(Hypervisor& hv, VolumeDirectory& volumes,
                                                std::vector<std::string> domains,
                                                const AuditOptions& options) {
  if (domains.empty()) {
    auto all = hv.list_domains();
    if (!all.ok()) return all.status();
    domains = std::move(all).value();
  }
  for (const auto& d : domains) {
    Status s = xmlpatch::validate_domain_name(d);
    if (!s.ok()) return s;
    auto running = hv.is_running(d);
    if (!running.ok()) return running.status();
  }
  CachedDirectory directory(volumes);
  std::vector<AuditFinding> findings;
  for (const auto& domain : domains) {
    auto running = hv.is_running(domain);
    if (!running.ok()) return running.status();

    // The definition: every broken disk fixed in one document, defined once.
    // A transient domain has none (defining one would make it persistent).
    auto is_persistent = hv.is_persistent(domain);
    if (!is_persistent.ok()) return is_persistent.status();
    Result<std::string> persistent = std::string();
    if (*is_persistent) persistent = hv.domain_xml(domain, true);
    if (!persistent.ok()) return persistent.status();
    std::vector<Broken> broken;
    if (*is_persistent) {
      broken = broken_disks(domain, *persistent, "persistent", directory, findings);
    }
    if (options.fix && !broken.empty()) {
      std::string doc = *persistent;
      std::vector<size_t> patched;
      for (const auto& b : broken) {
        auto next = fix_disk(doc, b.disk.target_dev, b.rules);
        if (!next.ok()) {
          findings[b.finding].action = "cannot fix: " + next.status().message();
          continue;
        }
        doc = std::move(next).value();
        patched.push_back(b.finding);
      }
      if (!patched.empty()) {
        Status s = hv.define_domain(doc);
        for (size_t i : patched) {
          findings[i].fixed = s.ok();
          findings[i].action = s.ok() ? "definition rewritten"
                                      : "cannot define the corrected domain: " + s.message();
        }
      }
    }

    if (!*running) continue;
    auto live = hv.domain_xml(domain, false);
    if (!live.ok()) return live.status();
    auto live_broken = broken_disks(domain, *live, "live", directory, findings);
    for (const auto& b : live_broken) {
      AuditFinding& f = findings[b.finding];
      if (!options.fix) continue;
      if (!options.live && !*is_persistent) {
        f.action =
            "a transient domain has no definition to correct: --live detaches and attaches the "
            "disk again now";
        continue;
      }
      if (!options.live) {
        f.action =
            "the running guest keeps this disk until it is restarted: the corrected definition "
            "takes effect at the next boot (--live detaches and attaches it again now)";
        continue;
      }
      auto now_xml = hv.domain_xml(domain, false);
      if (!now_xml.ok()) return now_xml.status();
      bool fixed = false;
      f.action = refit_live_disk(hv, domain, *now_xml, b, options.live_wait_ms, &fixed);
      f.fixed = fixed;
    }
  }
  return findings;
}

}  // namespace rbdvol::attach
