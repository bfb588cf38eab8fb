// backend.show: one backend's report.
#include "plugin/ops/backend/backend_report.h"
#include "plugin/ops/operations.h"
#include "plugin/ops/request.h"

namespace rbdvol::plugin {

Result<Json> backend_show(Driver& driver, const Json& request, const Progress&) {
  auto id = required_string(request, "id");
  if (!id.ok()) return id.status();
  auto cluster = driver.enabled_cluster(*id);
  if (!cluster.ok()) return cluster.status();
  return backend_report(driver, **cluster);
}

}  // namespace rbdvol::plugin
