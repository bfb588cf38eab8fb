// rbdvol's configuration: an INI file in the style of cinder.conf, loaded
// into typed structures. Knows nothing of Ceph or libvirt.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "status/status.h"

namespace rbdvol::config {

// One enabled backend: a Ceph cluster and the pools rbdvol uses in it.
struct Backend {
  std::string id;                   // the section name, as listed in enabled_backends
  std::string ceph_conf;            // path of the cluster's ceph.conf (required)
  std::string rbd_user = "admin";   // cephx user without "client." (default admin)
  std::string keyring;              // path of the user's keyring (optional)
  std::string volume_pool;          // required
  std::string image_pool;           // required
  std::vector<std::string> tags;    // e.g. "media:ssd", "purpose:general"
  double weight = 1.0;              // positive
  std::string libvirt_secret_uuid;  // optional; needed to attach its volumes
  int line = 0;                     // line of the section header, for messages
};

// A disk type (what OpenStack calls a volume type).
struct DiskType {
  std::string name;               // from the section name [disk_type:NAME]
  std::vector<std::string> tags;  // every tag a backend must carry
  bool multiattach = false;
  // Cache mode of the volumes' disks in libvirt. For a multiattach type only
  // "none" or "directsync"; otherwise also "writethrough", "writeback",
  // "unsafe". Default "none".
  std::string cache = "none";
  // Where images made from volumes of this type go: "same" (the volume's own
  // backend) or a backend id.
  std::string image_store = "same";
  int line = 0;
};

// The [service] section: how rbdvold serves the Cinder v3 API. The plugin
// ignores it; only rbdvold reads it (docs/config.md, "[service]").
struct Service {
  std::string listen = "127.0.0.1:8776";  // host:port; IPv6 as [addr]:port
  std::string auth_strategy = "noauth";   // "noauth" (loopback only) or "token"
  std::string token_file;                 // required with "token"
  uint64_t max_body_bytes = 1 << 20;      // a larger JSON body: 413
  uint32_t max_header_bytes = 16 << 10;   // larger headers: 431
  int max_connections = 256;              // more at once: 503, closed
  int idle_timeout = 60;                  // seconds a kept-alive connection may idle
  int request_timeout = 30;               // seconds to send one whole request
  int shutdown_grace = 30;                // seconds SIGTERM waits for work in flight
  int workers = 8;                        // threads that run plugin calls
  std::string tls_cert;                   // PEM; with tls_key, HTTPS only
  std::string tls_key;
  // The image API (Glance v2): its own address ("off": not served), the
  // largest image an upload may send, and where a qcow2 upload or a staged
  // image waits before it is converted or imported.
  std::string image_listen = "127.0.0.1:9292";
  uint64_t image_size_cap = uint64_t{1} << 40;
  std::string image_staging_dir = "/var/tmp/rbdvold";
  int line = 0;  // of the section header; 0 when the file has none
};

struct Config {
  std::string path;
  std::vector<Backend> backends;  // in the order of enabled_backends
  std::string default_backend;
  int rados_connect_timeout = 10;    // seconds, positive
  int rados_osd_op_timeout = 30;     // seconds, positive: one OSD operation
  int max_clone_depth = 5;           // positive
  int copy_wait_timeout = 60;        // seconds, positive
  std::vector<DiskType> disk_types;  // in file order
  Service service;                   // defaults when the file has no [service]

  // nullptr when there is none by that name.
  const Backend* find_backend(const std::string& id) const;
  const DiskType* find_disk_type(const std::string& name) const;
};

// True when `backend` carries every tag in `tags`.
bool backend_matches(const Backend& backend, const std::vector<std::string>& tags);

// Parses `text`; messages name `path` (file), the line and the key:
//   "/etc/rbdvol.conf:12: [fast] weight: must be a positive number, got 'x'"
// Either the whole config is returned or an error: nothing half-loaded.
Result<Config> parse_config(const std::string& text, const std::string& path);

// Reads the file at `path` and parses it. ENOENT/EACCES when it cannot be read.
Result<Config> load_config_file(const std::string& path);

}  // namespace rbdvol::config
