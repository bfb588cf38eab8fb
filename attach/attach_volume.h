// Putting one volume into one or more libvirt domains, and taking it out.
// Knows libvirt (through Hypervisor) and XML (through xmlpatch), and nothing
// of Ceph: the volume comes as the connection info the plugin hands out.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "attach/hypervisor.h"
#include "status/status.h"
#include "xmlpatch/xmlpatch.h"

namespace rbdvol::attach {

// Where a volume's attachments are recorded (in rbdvol: the plugin, which
// keeps them with the volume in Ceph and enforces the multiattach rule).
class AttachmentLedger {
 public:
  virtual ~AttachmentLedger() = default;
  // Reserves an attachment to `domain` and returns the volume's connection
  // info. EBUSY when the volume is not multiattach and attached elsewhere;
  // EEXIST when already attached to `domain`.
  virtual Result<nlohmann::json> reserve(const std::string& domain) = 0;
  virtual Status confirm(const std::string& domain, const std::string& target_dev) = 0;
  // Forgets the attachment to `domain`; no error when there is none.
  virtual Status release(const std::string& domain) = 0;
};

// The plugin's connection info as an RbdDisk (every field but target_dev).
// EINVAL names what is missing or malformed.
Result<xmlpatch::RbdDisk> rbd_disk_from_connection(const nlohmann::json& connection);

struct AttachedDisk {
  std::string domain;
  std::string target_dev;
  bool live = false;       // the domain was running and got the disk now
  bool persistent = true;  // its definition got it (false: a transient domain)
  bool boot = false;       // its definition boots from it first (AttachOptions::boot)
};

struct AttachOptions {
  // The bus of the new disk: "virtio" (vdX), "scsi" (sdX, on the domain's
  // virtio-scsi controller; a live detach needs no help from the guest) or
  // "sata".
  std::string bus = "virtio";
  // Make the disk the domain's first boot device in its definition
  // (xmlpatch::make_boot_disk: <boot order='1'/>, the other devices' orders
  // shifted up, <os><boot dev=...> removed), which is defined again whole. A
  // running domain gets the disk live as well, without a boot order (the
  // running guest's orders cannot change): the new order counts from its next
  // start. A transient domain has no definition and is refused (EINVAL).
  bool boot = false;
};

// Attaches to every domain in `domains`, or to none. Every domain must exist
// before anything is reserved or attached (ENOENT names the missing ones);
// when an attach fails later on, the domains already done are detached and
// released again, and the error names the domain that failed and why.
// Running domains get the disk live and persistently (a transient one live
// only), shut-off domains persistently; no power state changes. With
// options.boot, a domain's definition is restored as it was when its attach
// is undone.
Result<std::vector<AttachedDisk>> attach_volume(Hypervisor& hv, AttachmentLedger& ledger,
                                                const std::vector<std::string>& domains,
                                                const AttachOptions& options = {});

struct DetachedDisk {
  std::string domain;
  std::string target_dev;
  // The live detach was requested but the guest still holds the disk when we
  // stopped waiting (a guest without an OS never answers a virtio unplug).
  bool live_pending = false;
  // The domain, or its disk, was not there: only its record was removed.
  bool missing = false;
};

// Detaches the disk whose RBD source is `rbd_source` ("pool/image") from
// each domain and releases its attachment. A domain that does not exist or
// lacks the disk is no error: its record is released all the same (a stale
// record must not keep the volume busy) and it is reported `missing`.
// Stops at the first other error.
Result<std::vector<DetachedDisk>> detach_volume(Hypervisor& hv, AttachmentLedger& ledger,
                                                const std::string& rbd_source,
                                                const std::vector<std::string>& domains,
                                                int live_wait_ms = 5000);

// What announce_volume_size did for one domain.
struct ResizedDisk {
  std::string domain;
  std::string target_dev;  // the disk, when the running domain has it
  bool told = false;       // its guest was told the new size
  uint64_t bytes = 0;      // the size it was told, when told
  std::string note;        // why not: not running, no such disk, or the error
  bool failed = false;     // telling it failed (`note` has libvirt's error)
};

// Reads the RBD image's size as it is now, from the cluster.
using ImageSizeReader = std::function<Result<uint64_t>()>;

// Tells each domain in `domains` that has the disk `rbd_source` ("pool/
// image") in its running definition the disk's size
// (Hypervisor::block_resize), so that its guest sees the size at once, as
// Nova does after Cinder extends an attached volume. A domain that is not
// running, or runs without the disk, needs nothing (it opens the volume at
// its new size) and is reported with why. Every domain is tried, whatever
// the others gave; an invalid domain name is EINVAL before anything is done.
//
// QEMU's block resize of an rbd disk resizes the image itself, shrinking it
// when told less than it holds. So the size told is never below the image's:
// `image_size` is read right before each domain is told, and the domain is
// told the larger of it and `at_least` (the size the extend read back). When
// the read fails, that domain is not told (failed, with the error).
Result<std::vector<ResizedDisk>> announce_volume_size(Hypervisor& hv, const std::string& rbd_source,
                                                      const std::vector<std::string>& domains,
                                                      uint64_t at_least,
                                                      const ImageSizeReader& image_size);

}  // namespace rbdvol::attach
