// xmlpatch: builds libvirt <disk> elements for RBD volumes and rewrites domain
// XML documents. Pure functions over strings: no libvirt, no Ceph. Every
// rewrite leaves every element, attribute, comment, namespace and text it was
// not asked to touch exactly as it was.
#pragma once

#include <string>
#include <vector>

#include "status/status.h"

namespace rbdvol::xmlpatch {

struct MonitorHost {
  std::string name;  // IP address or host name
  std::string port;  // decimal, may be empty (libvirt's default)
};

// Everything needed to build the <disk> of an RBD volume.
struct RbdDisk {
  std::string pool;
  std::string image;
  std::vector<MonitorHost> hosts;
  std::string auth_username;   // cephx user without "client."; empty: no <auth>
  std::string secret_uuid;     // libvirt secret of type ceph; required with auth_username
  std::string serial;          // the volume id, shown to the guest
  std::string cache = "none";  // none|directsync|writethrough|writeback|unsafe
  bool shareable = false;      // multiattach: adds <shareable/>; cache must be none|directsync
  std::string target_dev;      // e.g. "vdb"
  std::string target_bus = "virtio";  // virtio|scsi|sata
};

// Checks every name in `disk` against the allowlist (pool, image, user,
// serial, host, target dev, secret uuid, cache mode, bus). A name with ':',
// '@', '/', quotes, '<', '>', '&', white space, control characters, or one that is
// empty or longer than the limit is refused with EINVAL and a message naming
// the field and the value.
Status validate_rbd_disk(const RbdDisk& disk);

// Checks a libvirt domain name (also used for names passed on the command
// line): non-empty, at most 200 bytes, no '/', no control characters, no quotes
// or '<' '>' '&'.
Status validate_domain_name(const std::string& name);

// The <disk type='network' device='disk'> element for `disk`, as a document
// of its own (no XML declaration):
//   <disk type='network' device='disk'>
//     <driver name='qemu' type='raw' cache='none'/>
//     <auth username='admin'><secret type='ceph' uuid='...'/></auth>
//     <source protocol='rbd' name='pool/image'><host name='...' port='...'/></source>
//     <target dev='vdb' bus='virtio'/>
//     <shareable/>
//     <serial>volume-id</serial>
//   </disk>
// (children in the order libvirt writes them back; no <auth> without
// auth_username, no <serial> when serial is empty, no <host> when hosts is empty)
// EINVAL when validate_rbd_disk() refuses it.
Result<std::string> build_rbd_disk_xml(const RbdDisk& disk);

// One <disk> of a domain, as read from its XML.
struct DiskInfo {
  std::string type;    // file|block|network|volume
  std::string device;  // disk|cdrom|floppy|lun
  std::string target_dev;
  std::string target_bus;
  std::string source_protocol;  // "rbd" for RBD network disks
  std::string source_name;      // "pool/image" for RBD; the path for file and block disks
  std::string serial;
  std::string driver_type;    // raw|qcow2|...
  std::string cache;          // empty when not set
  std::string auth_username;  // empty when no <auth>
  std::string secret_uuid;
  bool shareable = false;
  bool readonly = false;
};

// Every <disk> under <devices>, in document order. EINVAL when `domain_xml`
// does not parse or is not a <domain>.
Result<std::vector<DiskInfo>> list_disks(const std::string& domain_xml);

// The first target dev not used by any disk of the domain for `bus`:
// "virtio" -> vda, vdb, ...; "scsi", "sata", "usb" -> sda, ...; "ide" -> hda.
// ENOSPC when all of a..z (and aa..zz) are taken.
Result<std::string> first_free_target_dev(const std::string& domain_xml, const std::string& bus);

// Selects one disk of a domain: by target dev, or by RBD source "pool/image".
struct DiskSelector {
  std::string target_dev;  // used when not empty
  std::string rbd_source;  // "pool/image", used when target_dev is empty
};

// Adds the <disk> in `disk_xml` as the last <disk> of <devices> (after the
// last existing <disk>, or first in <devices> when there is none), indented
// like its siblings. A domain without <devices> gets one. EEXIST when its
// target dev is already used; EINVAL when `disk_xml` is not one <disk> with a
// <target dev>. Returns the whole new document.
Result<std::string> add_disk(const std::string& domain_xml, const std::string& disk_xml);

// Removes the selected disk and the white space that indented it. ENOENT when
// no disk matches; EINVAL when the selector is empty or matches several disks
// (this holds for every function that takes a DiskSelector).
Result<std::string> remove_disk(const std::string& domain_xml, const DiskSelector& which);

// Sets <driver cache='...'> of the selected disk (adding <driver name='qemu'>
// when it has none). EINVAL for an unknown mode, or a caching mode on a
// shareable disk. ENOENT when no disk matches.
Result<std::string> set_disk_cache_mode(const std::string& domain_xml, const DiskSelector& which,
                                        const std::string& cache);

// Makes the selected disk shareable: adds <shareable/>, sets driver type raw
// (when it has none) and a cache mode of `cache` ("none" or "directsync").
// EINVAL for another cache mode, or when the disk's driver type is set and is
// not raw (sharing a qcow2 image would corrupt it). ENOENT when no disk matches.
Result<std::string> make_disk_shareable(const std::string& domain_xml, const DiskSelector& which,
                                        const std::string& cache);

// Sets <driver type='...'> of the selected disk (adding <driver name='qemu'>
// when it has none). `type` must be "raw" or "qcow2"; "qcow2" is refused on a
// shareable disk. ENOENT when no disk matches.
Result<std::string> set_disk_driver_type(const std::string& domain_xml, const DiskSelector& which,
                                         const std::string& type);

// Gives the selected disk <auth username='USER'><secret type='ceph'
// uuid='UUID'/></auth> (replacing the one it has, in <disk> or in <source>),
// placed before <source> as libvirt writes it. EINVAL when the user or uuid
// fails the allowlist; ENOENT when no disk matches.
Result<std::string> set_disk_auth(const std::string& domain_xml, const DiskSelector& which,
                                  const std::string& username, const std::string& secret_uuid);

// Makes the selected disk the domain's first boot device: it gets
// <boot order='1'/> (its own <boot> changed in place, or a new one placed
// where libvirt writes it: after the disk's own elements, before <alias> and
// <address>). Every other device under <devices> whose boot order came before
// the disk's old one (all of them, when it had none) moves up by one, so no
// two devices share an order and the rest keep theirs; a disk that already
// boots first leaves the document as it was. Every <boot dev=...> of <os> is
// removed: libvirt refuses per-device boot orders beside them ("per-device
// boot elements cannot be used together with os/boot elements"). EINVAL when
// a boot order of the domain is not a number from 1 to 999999999; ENOENT when no
// disk matches.
Result<std::string> make_boot_disk(const std::string& domain_xml, const DiskSelector& which);

// Gives the domain <controller type='scsi' index='0' model='virtio-scsi'/>
// unless it has a scsi controller already (of any model: the domain's
// choice), in which case the document comes back as it was. Without one,
// libvirt 9.0 adds an lsilogic controller for a scsi disk, which SeaBIOS
// boots from but Debian's cloud kernel has no driver for. The controller goes
// after the last <controller> of <devices>, else after its last <disk>,
// indented like it. EINVAL for a bad document or one without <devices>.
Result<std::string> ensure_virtio_scsi_controller(const std::string& domain_xml);

// What set_domain_basics() sets in a domain.
struct DomainBasics {
  std::string name;         // the domain's <name>; must pass validate_domain_name()
  unsigned memory_mib = 0;  // 0: leave <memory> and <currentMemory> as they are
  unsigned vcpus = 0;       // 0: leave <vcpu> as it is
};

// Makes a domain document (a template) the domain `basics` names: <name>
// set (added first in <domain> when missing); <uuid> removed, so that libvirt
// gives the new domain its own and a dumpxml of another domain serves as a
// template; with memory_mib, <memory unit='MiB'> and <currentMemory> (when
// present) set to it; with vcpus, <vcpu>'s count set and its `current`
// attribute removed. Elements that are missing are added after the ones
// libvirt writes before them, indented like their siblings. EINVAL for a bad
// name or document.
Result<std::string> set_domain_basics(const std::string& domain_xml, const DomainBasics& basics);

// The <disk> element of the selected disk, serialized on its own (as
// virDomainDetachDeviceFlags wants it). ENOENT when no disk matches.
Result<std::string> disk_xml_of(const std::string& domain_xml, const DiskSelector& which);

// Parses `domain_xml` and writes it back unchanged: the same bytes for a
// document as libvirt writes it (see docs/xmlpatch.md for the few spellings
// that are normalised). EINVAL when it does not parse or is not a <domain>.
Result<std::string> rewrite_domain_xml(const std::string& domain_xml);

// `text` escaped for XML text content and attribute values in either quote
// style (& < > ' ").
std::string escape_xml(const std::string& text);

}  // namespace rbdvol::xmlpatch
