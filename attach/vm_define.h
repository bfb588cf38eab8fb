// Defining a libvirt domain whose system disk is a volume (rbdvol vm define):
// boot from volume, as Nova boots an instance from a Cinder volume.
#pragma once

#include <string>

#include "attach/attach_volume.h"
#include "attach/hypervisor.h"
#include "status/status.h"

namespace rbdvol::attach {

struct VmDefinition {
  std::string name;
  // 0: the template's (or, without one, 512 MiB and 1 vCPU).
  unsigned memory_mib = 0;
  unsigned vcpus = 0;
  // A domain XML to start from ("" builds one; see define_vm_on_volume).
  std::string template_xml;
  // The system disk's bus: "virtio" (vda, virtio-blk) or "scsi" (sda, on a
  // virtio-scsi controller). Both boot with SeaBIOS.
  std::string bus = "virtio";
};

struct DefinedVm {
  std::string domain;
  std::string target_dev;
  std::string virt_type;  // kvm or qemu: the domain's type attribute
  std::string xml;        // what was defined
};

// Defines (never starts) the domain `vm.name` with the volume as its first
// boot disk, recording the attachment in `ledger` as attach_volume does: a
// volume that is not multiattach and is attached elsewhere is refused there
// (EBUSY), and nothing is defined. The disk is built from the connection info
// as attach builds it (the backend's secret in <auth>, the disk type's cache
// mode, <shareable/> for a multiattach type, <serial> the volume id), with
// <boot order='1'/>.
//
// Without a template the domain is: type kvm when the host's capabilities
// offer it for the host's arch, else qemu (TCG); the host's arch, libvirt's
// default machine; the memory and vCPUs; ACPI and APIC; the disk (with a
// virtio-scsi controller for the scsi bus); a serial port on a pty with a
// serial console (`virsh console NAME`); nothing else (no graphics).
//
// With a template, that document is the domain: set_domain_basics() gives it
// the name (dropping its <uuid>) and the memory and vCPUs when given; the disk
// replaces one with the same rbd source (keeping its target dev) or is added
// on the bus's first free target dev; make_boot_disk() makes it boot first;
// for the scsi bus, a template without a scsi controller gets a virtio-scsi
// one (libvirt would add lsilogic).
//
// EEXIST when a domain of that name exists (checked before anything is
// reserved); EINVAL for a bad name, bus or template. When the define or the
// record's confirmation fails, the reservation is released (and a defined
// domain undefined again).
Result<DefinedVm> define_vm_on_volume(Hypervisor& hv, AttachmentLedger& ledger,
                                      const VmDefinition& vm);

// The domain XML built without a template (exposed for tests): `disk_xml` is
// the <disk> element, `arch` the guest arch, `virt_type` kvm or qemu.
Result<std::string> vm_domain_xml(const std::string& name, const std::string& virt_type,
                                  const std::string& arch, unsigned memory_mib, unsigned vcpus,
                                  const std::string& disk_xml, const std::string& bus);

// The host's arch and the best domain type it runs that arch with ("kvm"
// when offered, else "qemu"), from libvirt's capabilities XML. EINVAL when it
// names neither.
struct HostVirt {
  std::string arch;
  std::string virt_type;
};
Result<HostVirt> host_virt_of(const std::string& capabilities_xml);

}  // namespace rbdvol::attach
