// Ceph monitor addresses, as the monitor map gives them ("127.0.0.1:6789/0",
// "[::1]:6789/0") and as people write them ("host", "host:port", "[v6]:port",
// a bare IPv6 address).
#pragma once

#include <string>

#include "status/status.h"

namespace rbdvol::text {

struct MonitorAddress {
  std::string host;  // without brackets
  std::string port;  // "" when not given
};

// Splits one address into host and port; a "/nonce" suffix is dropped. An
// address with more than one ':' and no brackets is a bare IPv6 host. EINVAL
// for "[" without "]", or for an empty host.
Result<MonitorAddress> split_monitor_address(std::string address);

}  // namespace rbdvol::text
