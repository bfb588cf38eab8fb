// backend.show: one backend's report.
#include "plugin/backend_report.h"
#include "plugin/operations.h"
#include "plugin/request.h"

namespace rbdvol::plugin {

Result<Json> backend_show(Driver& driver, const Json& request, const Progress&) {
  auto id = required_string(request, "id");
  if (!id.ok()) return id.status();
  auto cluster = driver.enabled_cluster(*id);
  if (!cluster.ok()) return cluster.status();
  return backend_report(driver, **cluster);
}

}  // namespace rbdvol::plugin
