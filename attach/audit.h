// Auditing the disks of rbdvol volumes in libvirt domains: which ones break
// the rules a shared disk must follow, and rewriting them. Knows libvirt
// (through Hypervisor) and XML (through xmlpatch); what a volume should look
// like comes from a VolumeDirectory (in rbdvol: the plugin).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "attach/hypervisor.h"
#include "status/status.h"
#include "xmlpatch/xmlpatch.h"

namespace rbdvol::attach {

// What the disk of one volume must be, from its disk type and backend.
struct VolumeRules {
  std::string volume_id;
  bool multiattach = false;
  std::string cache = "none";  // the disk type's cache mode
  std::string auth_username;   // the backend's rbd_user
  std::string secret_uuid;     // the backend's libvirt secret ("" when not configured)
};

// Where the rules of a volume come from.
class VolumeDirectory {
 public:
  virtual ~VolumeDirectory() = default;
  // The rules of the volume whose RBD image is `pool`/`image`. An empty
  // optional when the image is no volume rbdvol knows (not volume-<uuid>,
  // or in no backend, or in another pool); an error when it cannot tell.
  virtual Result<std::optional<VolumeRules>> lookup(const std::string& pool,
                                                    const std::string& image) = 0;
};

// The rules `disk` breaks, one sentence each; empty when none:
// a multiattach volume without <shareable/>, with a cache mode other than
// none/directsync (also none given: QEMU's default caches), with a driver
// type other than raw; any volume without <auth>.
std::vector<std::string> rule_breaks(const xmlpatch::DiskInfo& disk, const VolumeRules& rules);

// `domain_xml` with the disk at `target_dev` corrected: driver type raw,
// the type's cache mode and <shareable/> for a multiattach volume, <auth>
// with the backend's user and secret. Everything else stays as it was.
// EINVAL when <auth> is missing and the backend has no secret configured.
Result<std::string> fix_disk(const std::string& domain_xml, const std::string& target_dev,
                             const VolumeRules& rules);

struct AuditFinding {
  std::string domain;
  std::string target_dev;
  std::string source;     // pool/image
  std::string volume_id;  // empty when the volume could not be looked up
  std::string where;      // "persistent" or "live"
  std::vector<std::string> problems;
  bool fixed = false;
  // What was done or what will happen: "definition rewritten", "takes effect
  // at the next boot (use --live ...)", "live disk detached and attached
  // again", or why the fix failed.
  std::string action;
};

struct AuditOptions {
  bool fix = false;   // rewrite persistent definitions
  bool live = false;  // with fix: also detach and re-attach live disks
  int live_wait_ms = 5000;
};

// Audits `domains` (every domain when empty). Errors only for what stops
// the whole audit (libvirt unreachable, a named domain missing); a volume
// that cannot be looked up or a fix that fails is reported in its finding.
Result<std::vector<AuditFinding>> audit_domains(Hypervisor& hv, VolumeDirectory& volumes,
                                                std::vector<std::string> domains,
                                                const AuditOptions& options);

}  // namespace rbdvol::attach
