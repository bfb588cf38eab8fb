#include "text/monitor_address.h"

namespace rbdvol::text {

Result<MonitorAddress> split_monitor_address(std::string address) {
  const std::string given = address;
  if (auto slash = address.find('/'); slash != std::string::npos) address.resize(slash);
  MonitorAddress m;
  if (!address.empty() && address.front() == '[') {
    const auto close = address.find(']');
    if (close == std::string::npos) {
      return Status::Invalid("monitor '" + given + "' lacks ']'");
    }
    m.host = address.substr(1, close - 1);
    if (close + 1 < address.size() && address[close + 1] == ':') m.port = address.substr(close + 2);
  } else if (address.find(':') != address.rfind(':')) {
    m.host = address;  // a bare IPv6 address: no port can be told apart
  } else if (auto colon = address.find(':'); colon != std::string::npos) {
    m.host = address.substr(0, colon);
    m.port = address.substr(colon + 1);
  } else {
    m.host = address;
  }
  if (m.host.empty()) return Status::Invalid("monitor '" + given + "' has no host");
  return m;
}

}  // namespace rbdvol::text
