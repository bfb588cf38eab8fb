// What backend.list and backend.show say of one backend: config, state,
// capacity from the cluster's own stats, and what rbdvol keeps there.
#pragma once

#include "plugin/driver.h"

namespace rbdvol::plugin {

// state "up" with total/used/free bytes, provisioned bytes (the sum of the
// volumes' sizes) and volume and image counts; or state "down" with the
// error, after at most the connect timeout.
Json backend_report(Driver& driver, Cluster& cluster);

}  // namespace rbdvol::plugin
