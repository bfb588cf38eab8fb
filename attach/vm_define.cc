#include "attach/vm_define.h"

#include <pugixml.hpp>

#include <cctype>
#include <cstring>

#include "xmlpatch/xmlpatch.h"

namespace rbdvol::attach {

namespace {

constexpr unsigned kDefaultMemoryMib = 512;
constexpr unsigned kDefaultVcpus = 1;

// Indents every line of `element` (a document at column 0) by `indent`.
std::string indented(const std::string& element, const std::string& indent) {
  std::string out = indent;
  for (char c : element) {
    out += c;
    if (c == '\n') out += indent;
  }
  return out;
}

// The domain with the disk on it, ready to define.
Result<std::string> domain_with_disk(const VmDefinition& vm, xmlpatch::RbdDisk disk, DefinedVm* out,
                                     Hypervisor& hv) {
  const std::string source = disk.pool + "/" + disk.image;
  if (vm.template_xml.empty()) {
    auto caps = hv.capabilities_xml();
    if (!caps.ok()) return caps.status();
    auto host = host_virt_of(*caps);
    if (!host.ok()) return host.status();
    disk.target_dev = disk.target_bus == "scsi" ? "sda" : "vda";
    auto disk_xml = xmlpatch::build_rbd_disk_xml(disk);
    if (!disk_xml.ok()) return disk_xml.status();
    auto xml = vm_domain_xml(vm.name, host->virt_type, host->arch,
                             vm.memory_mib ? vm.memory_mib : kDefaultMemoryMib,
                             vm.vcpus ? vm.vcpus : kDefaultVcpus, *disk_xml, disk.target_bus);
    if (!xml.ok()) return xml.status();
    auto booted = xmlpatch::make_boot_disk(*xml, {disk.target_dev, ""});
    if (!booted.ok()) return booted.status();
    out->virt_type = host->virt_type;
    out->target_dev = disk.target_dev;
    return booted;
  }
  auto xml = xmlpatch::set_domain_basics(vm.template_xml, {vm.name, vm.memory_mib, vm.vcpus});
  if (!xml.ok()) return xml.status().Prefixed("template");
  // A disk of the volume already in the template gives way to the one built
  // now (it may name another secret, cache mode or monitors), on its dev.
  auto disks = xmlpatch::list_disks(*xml);
  if (!disks.ok()) return disks.status();
  for (const auto& d : *disks) {
    if (d.source_protocol == "rbd" && d.source_name == source) {
      if (d.target_bus != disk.target_bus) {
        return Status::Invalid("the template has " + source + " as " + d.target_dev + " on bus " +
                               d.target_bus + ", not " + disk.target_bus);
      }
      disk.target_dev = d.target_dev;
      auto removed = xmlpatch::remove_disk(*xml, {d.target_dev, ""});
      if (!removed.ok()) return removed.status();
      xml = std::move(removed);
      break;
    }
  }
  if (disk.target_dev.empty()) {
    auto dev = xmlpatch::first_free_target_dev(*xml, disk.target_bus);
    if (!dev.ok()) return dev.status();
    disk.target_dev = *dev;
  }
  auto disk_xml = xmlpatch::build_rbd_disk_xml(disk);
  if (!disk_xml.ok()) return disk_xml.status();
  auto added = xmlpatch::add_disk(*xml, *disk_xml);
  if (!added.ok()) return added.status().Prefixed("template");
  auto booted = xmlpatch::make_boot_disk(*added, {disk.target_dev, ""});
  if (!booted.ok()) return booted.status().Prefixed("template");
  if (disk.target_bus == "scsi") {
    // libvirt's own pick would be lsilogic: see ensure_virtio_scsi_controller.
    booted = xmlpatch::ensure_virtio_scsi_controller(*booted);
    if (!booted.ok()) return booted.status().Prefixed("template");
  }
  pugi::xml_document doc;
  if (doc.load_string(booted->c_str())) {
    out->virt_type = doc.document_element().attribute("type").value();
  }
  out->target_dev = disk.target_dev;
  return booted;
}

}  // namespace

Result<HostVirt> host_virt_of(const std::string& capabilities_xml) {
  pugi::xml_document doc;
  if (!doc.load_string(capabilities_xml.c_str())) {
    return Status::Invalid("libvirt's capabilities XML does not parse");
  }
  pugi::xml_node caps = doc.child("capabilities");
  HostVirt out;
  out.arch = caps.child("host").child("cpu").child_value("arch");
  if (out.arch.empty()) return Status::Invalid("libvirt's capabilities name no host arch");
  for (pugi::xml_node guest : caps.children("guest")) {
    if (std::strcmp(guest.child_value("os_type"), "hvm") != 0) continue;
    pugi::xml_node arch = guest.child("arch");
    if (out.arch != arch.attribute("name").value()) continue;
    for (pugi::xml_node domain : arch.children("domain")) {
      std::string type = domain.attribute("type").value();
      if (type == "kvm" || (type == "qemu" && out.virt_type.empty())) out.virt_type = type;
    }
  }
  if (out.virt_type.empty()) {
    return Status::Invalid("libvirt offers neither kvm nor qemu for hvm guests of arch " +
                           out.arch);
  }
  return out;
}

Result<std::string> vm_domain_xml(const std::string& name, const std::string& virt_type,
                                  const std::string& arch, unsigned memory_mib, unsigned vcpus,
                                  const std::string& disk_xml, const std::string& bus) {
  Status s = xmlpatch::validate_domain_name(name);
  if (!s.ok()) return s;
  if (virt_type != "kvm" && virt_type != "qemu") {
    return Status::Invalid("domain type '" + virt_type + "' is not kvm or qemu");
  }
  for (char c : arch) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) {
      return Status::Invalid("arch '" + arch + "' is not a libvirt arch name");
    }
  }
  std::string x = "<domain type='" + virt_type + "'>\n";
  x += "  <name>" + xmlpatch::escape_xml(name) + "</name>\n";
  x += "  <memory unit='MiB'>" + std::to_string(memory_mib) + "</memory>\n";
  x += "  <vcpu>" + std::to_string(vcpus) + "</vcpu>\n";
  x += "  <os>\n    <type arch='" + arch + "'>hvm</type>\n  </os>\n";
  x += "  <features>\n    <acpi/>\n    <apic/>\n  </features>\n";
  x += "  <devices>\n";
  x += indented(disk_xml, "    ") + "\n";
  if (bus == "scsi") x += "    <controller type='scsi' index='0' model='virtio-scsi'/>\n";
  x += "    <serial type='pty'>\n      <target port='0'/>\n    </serial>\n";
  x += "    <console type='pty'>\n      <target type='serial' port='0'/>\n    </console>\n";
  x += "  </devices>\n</domain>\n";
  return x;
}

Result<DefinedVm> define_vm_on_volume(Hypervisor& hv, AttachmentLedger& ledger,
                                      const VmDefinition& vm) {
  Status s = xmlpatch::validate_domain_name(vm.name);
  if (!s.ok()) return s;
  if (vm.bus != "virtio" && vm.bus != "scsi") {
    return Status::Invalid("bus '" + vm.bus + "' is not virtio or scsi");
  }
  auto exists = hv.is_running(vm.name);
  if (exists.ok()) return Status::Exists("domain " + vm.name + " already exists");
  if (exists.status().err() != ENOENT) return exists.status();

  auto connection = ledger.reserve(vm.name);
  if (!connection.ok()) return connection.status();
  // Gives the reservation back; a failure to do so is added to the cause.
  auto released = [&](const Status& cause) {
    Status r = ledger.release(vm.name);
    if (r.ok()) return cause;
    return Status::Error(cause.err(),
                         cause.message() + "; releasing the reservation of " + vm.name +
                             " failed too, its attachment record stays: " + r.message());
  };
  auto disk = rbd_disk_from_connection(*connection);
  if (!disk.ok()) return released(disk.status());
  disk->target_bus = vm.bus;
  DefinedVm out;
  out.domain = vm.name;
  auto xml = domain_with_disk(vm, *disk, &out, hv);
  if (!xml.ok()) return released(xml.status());
  s = hv.define_domain(*xml);
  if (!s.ok()) return released(s.Prefixed("domain " + vm.name));
  s = ledger.confirm(vm.name, out.target_dev);
  if (!s.ok()) {
    Status gone = hv.undefine_domain(vm.name);
    Status cause = gone.ok() ? s
                             : Status::Error(s.err(), s.message() + "; undefining " + vm.name +
                                                          " failed too: " + gone.message());
    return released(cause);
  }
  out.xml = std::move(xml).value();
  return out;
}

}  // namespace rbdvol::attach
