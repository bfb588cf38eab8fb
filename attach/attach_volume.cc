#include "attach/attach_volume.h"

#include <algorithm>

#include <set>

#include "attach/live_detach.h"

namespace rbdvol::attach {

namespace {

Result<std::string> json_string(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) {
    return Status::Invalid(std::string("connection info has no string '") + key + "'");
  }
  return it->get<std::string>();
}

// A domain as attach and detach need it: whether it runs, its definition
// and (when running) its live XML.
struct DomainXml {
  bool running = false;
  std::string persistent_xml;
  std::string live_xml;  // empty when not running
};

Result<DomainXml> read_domain(Hypervisor& hv, const std::string& domain) {
  DomainXml d;
  auto running = hv.is_running(domain);
  if (!running.ok()) return running.status();
  d.running = *running;
  auto persistent = hv.domain_xml(domain, true);
  if (!persistent.ok()) return persistent.status();
  d.persistent_xml = std::move(persistent).value();
  if (d.running) {
    auto live = hv.domain_xml(domain, false);
    if (!live.ok()) return live.status();
    d.live_xml = std::move(live).value();
  }
  return d;
}

// Whether `xml` has a disk with RBD source `source`, and its target dev.
Result<std::string> target_of_source(const std::string& xml, const std::string& source) {
  auto disks = xmlpatch::list_disks(xml);
  if (!disks.ok()) return disks.status();
  for (const auto& d : *disks) {
    if (d.source_protocol == "rbd" && d.source_name == source) return d.target_dev;
  }
  return Status::NotFound("no disk with rbd source " + source);
}

bool dev_used(const std::string& xml, const std::string& dev) {
  auto disks = xmlpatch::list_disks(xml);
  if (!disks.ok()) return false;
  for (const auto& d : *disks) {
    if (d.target_dev == dev) return true;
  }
  return false;
}

// The first target dev free in both the live XML and the definition.
Result<std::string> free_target_dev(const std::string& persistent_xml, const std::string& live_xml,
                                    const std::string& bus) {
  std::string doc = persistent_xml;
  for (int i = 0; i < 1000; ++i) {
    auto dev = xmlpatch::first_free_target_dev(doc, bus);
    if (!dev.ok()) return dev.status();
    if (live_xml.empty() || !dev_used(live_xml, *dev)) return *dev;
    // Taken in the live domain only (a disk hot-plugged without --config):
    // mark it taken in our copy and look again.
    xmlpatch::RbdDisk placeholder;
    placeholder.pool = "p";
    placeholder.image = "i";
    placeholder.hosts = {{"127.0.0.1", ""}};
    placeholder.target_dev = *dev;
    placeholder.target_bus = bus;
    auto disk = xmlpatch::build_rbd_disk_xml(placeholder);
    if (!disk.ok()) return disk.status();
    auto next = xmlpatch::add_disk(doc, *disk);
    if (!next.ok()) return next.status();
    doc = std::move(next).value();
  }
  return Status::Error(ENOSPC, "no free target dev on bus " + bus);
}

// What attach_one did to one domain, with what undoing it needs.
struct AttachedHere {
  AttachedDisk disk;
  std::string previous_definition;  // with boot: the definition before it
};

Result<AttachedHere> attach_one(Hypervisor& hv, const std::string& domain, xmlpatch::RbdDisk disk,
                                bool boot) {
  auto state = read_domain(hv, domain);
  if (!state.ok()) return state.status();
  const bool running = state->running;
  const std::string& live_xml = state->live_xml;
  const std::string& persistent_xml = state->persistent_xml;
  const std::string source = disk.pool + "/" + disk.image;
  for (const std::string* xml : {&persistent_xml, &live_xml}) {
    if (xml->empty()) continue;
    auto dev = target_of_source(*xml, source);
    if (dev.ok()) {
      return Status::Exists("domain " + domain + " already has " + source + " as " + *dev);
    }
  }
  auto dev = free_target_dev(persistent_xml, live_xml, disk.target_bus);
  if (!dev.ok()) return dev.status();
  disk.target_dev = *dev;
  auto disk_xml = xmlpatch::build_rbd_disk_xml(disk);
  if (!disk_xml.ok()) return disk_xml.status();
  // A transient domain has no definition: it gets the disk live only.
  auto persistent = hv.is_persistent(domain);
  if (!persistent.ok()) return persistent.status();
  if (!boot) {
    Status s = hv.attach_device(domain, *disk_xml, running, *persistent);
    if (!s.ok()) return s;
    return AttachedHere{AttachedDisk{domain, *dev, running, *persistent, false}, ""};
  }
  if (!*persistent) {
    return Status::Invalid("domain " + domain +
                           " is transient: a boot order counts only in a definition (define it, "
                           "or attach without --boot)");
  }
  // The boot order is the definition's: shifting the other devices' orders
  // needs the whole document, so it is patched and defined again.
  auto added = xmlpatch::add_disk(persistent_xml, *disk_xml);
  if (!added.ok()) return added.status();
  auto booted = xmlpatch::make_boot_disk(*added, {*dev, ""});
  if (!booted.ok()) return booted.status();
  Status s = hv.define_domain(*booted);
  if (!s.ok()) return s.Prefixed("domain " + domain);
  if (running) {
    s = hv.attach_device(domain, *disk_xml, true, false);
    if (!s.ok()) {
      Status back = hv.define_domain(persistent_xml);
      if (!back.ok()) {
        return Status::Error(s.err(), s.message() + "; restoring the definition of " + domain +
                                          " failed too: " + back.message());
      }
      return s;
    }
  }
  return AttachedHere{AttachedDisk{domain, *dev, running, true, true}, persistent_xml};
}

// Detaches `source` from one domain. Returns what was done.
Result<DetachedDisk> detach_one(Hypervisor& hv, const std::string& domain,
                                const std::string& source, int live_wait_ms) {
  auto state = read_domain(hv, domain);
  if (!state.ok()) return state.status();
  const std::string& live_xml = state->live_xml;
  const std::string& persistent_xml = state->persistent_xml;
  const xmlpatch::DiskSelector which{"", source};
  auto in_persistent = xmlpatch::disk_xml_of(persistent_xml, which);
  auto in_live = live_xml.empty() ? Result<std::string>(Status::NotFound("not running"))
                                  : xmlpatch::disk_xml_of(live_xml, which);
  if (!in_persistent.ok() && !in_live.ok()) {
    return Status::NotFound("domain " + domain + " has no disk with rbd source " + source);
  }
  DetachedDisk out{domain, "", false};
  auto dev = target_of_source(in_live.ok() ? live_xml : persistent_xml, source);
  if (dev.ok()) out.target_dev = *dev;
  auto persistent = hv.is_persistent(domain);
  if (!persistent.ok()) return persistent.status();
  if (in_persistent.ok() && *persistent) {
    Status s = hv.detach_device(domain, *in_persistent, false, true);
    if (!s.ok()) return s;
  }
  if (in_live.ok()) {
    auto gone = detach_live_and_wait(
        hv, domain, *in_live,
        [&](const std::string& xml) { return target_of_source(xml, source).ok(); }, live_wait_ms);
    if (!gone.ok()) return gone.status();
    out.live_pending = !*gone;
  }
  return out;
}

}  // namespace

Result<xmlpatch::RbdDisk> rbd_disk_from_connection(const nlohmann::json& c) {
  try {
    auto type = json_string(c, "driver_volume_type");
    if (!type.ok()) return type.status();
    if (*type != "rbd")
      return Status::Invalid("connection info is of type '" + *type + "', not rbd");
    xmlpatch::RbdDisk disk;
    for (auto [key, field] :
         {std::pair{"pool", &disk.pool}, std::pair{"image", &disk.image},
          std::pair{"auth_username", &disk.auth_username},
          std::pair{"secret_uuid", &disk.secret_uuid}, std::pair{"volume_id", &disk.serial},
          std::pair{"cache", &disk.cache}}) {
      auto v = json_string(c, key);
      if (!v.ok()) return v.status();
      *field = *v;
    }
    if (disk.secret_uuid.empty()) {
      return Status::Invalid("backend " + c.value("backend", std::string("?")) +
                             " has no libvirt_secret_uuid in the config; a volume cannot be "
                             "attached without a libvirt secret");
    }
    const auto& hosts = c.at("hosts");
    const auto& ports = c.at("ports");
    if (!hosts.is_array() || hosts.empty() || !ports.is_array() || ports.size() != hosts.size()) {
      return Status::Invalid("connection info needs as many hosts as ports, at least one");
    }
    for (size_t i = 0; i < hosts.size(); ++i) {
      disk.hosts.push_back({hosts[i].get<std::string>(), ports[i].get<std::string>()});
    }
    disk.shareable = c.value("multiattach", false);
    return disk;
  } catch (const std::exception& e) {
    return Status::Invalid(std::string("malformed connection info: ") + e.what());
  }
}

Result<std::vector<AttachedDisk>> attach_volume(Hypervisor& hv, AttachmentLedger& ledger,
                                                const std::vector<std::string>& domains,
                                                const AttachOptions& options) {
  if (domains.empty()) return Status::Invalid("name at least one domain to attach to");
  if (options.bus != "virtio" && options.bus != "scsi" && options.bus != "sata") {
    return Status::Invalid("bus '" + options.bus + "' is not one of virtio, scsi, sata");
  }
  std::set<std::string> seen;
  for (const auto& d : domains) {
    Status s = xmlpatch::validate_domain_name(d);
    if (!s.ok()) return s;
    if (!seen.insert(d).second) return Status::Invalid("domain " + d + " is named twice");
  }
  // A domain that does not exist is found before any guest is touched: a
  // guest without an OS never gives back a virtio disk an undo would detach.
  std::string missing;
  for (const auto& d : domains) {
    auto running = hv.is_running(d);
    if (!running.ok() && running.status().err() == ENOENT) missing += " " + d;
    if (!running.ok() && running.status().err() != ENOENT) {
      return Status::Error(running.status().err(),
                           "attach to domain " + d + " failed: " + running.status().message());
    }
  }
  if (!missing.empty()) {
    return Status::NotFound("no such domain:" + missing + "; attached to none");
  }
  std::vector<AttachedDisk> done;
  std::vector<std::string> previous_definitions;  // beside `done`: "" unless boot
  std::string source;
  auto roll_back = [&](const Status& cause, const std::string& domain) -> Status {
    std::string undo_errors;
    for (size_t i = done.size(); i-- > 0;) {
      const AttachedDisk* it = &done[i];
      auto d = detach_one(hv, it->domain, source, 5000);
      if (!d.ok()) undo_errors += "; undoing " + it->domain + ": " + d.status().message();
      if (!previous_definitions[i].empty()) {
        // The boot orders it shifted and the <os><boot> it removed come back.
        Status back = hv.define_domain(previous_definitions[i]);
        if (!back.ok()) undo_errors += "; restoring " + it->domain + ": " + back.message();
      }
      Status r = ledger.release(it->domain);
      if (!r.ok()) undo_errors += "; releasing " + it->domain + ": " + r.message();
    }
    std::string undone;
    for (const auto& d : done) undone += " " + d.domain;
    return Status::Error(cause.err(), "attach to domain " + domain + " failed: " + cause.message() +
                                          (done.empty() ? "" : "; detached again from:" + undone) +
                                          undo_errors);
  };
  // Gives back the reservation of a domain whose attach failed before it was
  // done; a failure to do so is added to the cause, so that a stale record
  // does not stay behind without a word.
  auto released = [&ledger](const Status& cause, const std::string& domain) {
    Status r = ledger.release(domain);
    if (r.ok()) return cause;
    return Status::Error(cause.err(),
                         cause.message() + "; releasing the reservation of " + domain +
                             " failed too, its attachment record stays: " + r.message());
  };
  for (const auto& domain : domains) {
    auto connection = ledger.reserve(domain);
    if (!connection.ok()) return roll_back(connection.status(), domain);
    auto disk = rbd_disk_from_connection(*connection);
    if (!disk.ok()) return roll_back(released(disk.status(), domain), domain);
    disk->target_bus = options.bus;
    source = disk->pool + "/" + disk->image;
    auto attached = attach_one(hv, domain, *disk, options.boot);
    if (!attached.ok()) return roll_back(released(attached.status(), domain), domain);
    done.push_back(attached->disk);
    previous_definitions.push_back(attached->previous_definition);
    Status s = ledger.confirm(domain, attached->disk.target_dev);
    if (!s.ok()) return roll_back(s, domain);
  }
  return done;
}

Result<std::vector<DetachedDisk>> detach_volume(Hypervisor& hv, AttachmentLedger& ledger,
                                                const std::string& rbd_source,
                                                const std::vector<std::string>& domains,
                                                int live_wait_ms) {
  std::vector<DetachedDisk> out;
  for (const auto& domain : domains) {
    Status s = xmlpatch::validate_domain_name(domain);
    if (!s.ok()) return s;
  }
  for (const auto& domain : domains) {
    auto d = detach_one(hv, domain, rbd_source, live_wait_ms);
    if (!d.ok() && d.status().err() != ENOENT) return d.status();
    // The record goes when the disk is gone from the domain, or was never
    // there (a stale record must not keep the volume busy forever).
    Status r = ledger.release(domain);
    if (!r.ok()) return r;
    if (!d.ok()) {
      out.push_back(DetachedDisk{domain, "", false, true});
      continue;
    }
    out.push_back(*d);
  }
  return out;
}

Result<std::vector<ResizedDisk>> announce_volume_size(Hypervisor& hv, const std::string& rbd_source,
                                                      const std::vector<std::string>& domains,
                                                      uint64_t at_least,
                                                      const ImageSizeReader& image_size) {
  for (const auto& domain : domains) {
    Status s = xmlpatch::validate_domain_name(domain);
    if (!s.ok()) return s;
  }
  std::vector<ResizedDisk> out;
  for (const auto& domain : domains) {
    ResizedDisk r;
    r.domain = domain;
    auto fail = [&](const Status& s) {
      r.failed = true;
      r.note = s.message();
    };
    auto running = hv.is_running(domain);
    if (!running.ok() && running.status().err() == ENOENT) {
      r.note = "no such domain";
    } else if (!running.ok()) {
      fail(running.status());
    } else if (!*running) {
      r.note = "not running; it opens the volume at its new size when it starts";
    } else if (auto xml = hv.domain_xml(domain, false); !xml.ok()) {
      fail(xml.status());
    } else if (auto dev = target_of_source(*xml, rbd_source); !dev.ok()) {
      if (dev.status().err() == ENOENT) {
        r.note = "runs without the disk " + rbd_source;
      } else {
        fail(dev.status());
      }
    } else {
      r.target_dev = *dev;
      // Read as late as possible: another extend may have grown the image
      // since `at_least` was read, and telling less would shrink it.
      auto now = image_size();
      if (!now.ok()) {
        fail(now.status().Prefixed("not told: cannot read the size of " + rbd_source));
      } else {
        const uint64_t bytes = std::max(at_least, *now);
        Status s = hv.block_resize(domain, *dev, bytes);
        if (s.ok()) {
          r.told = true;
          r.bytes = bytes;
        } else {
          fail(s);
        }
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace rbdvol::attach
