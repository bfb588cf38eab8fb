// backend.list: every enabled backend with its tags, weight, state and stats.
#include "plugin/fan_out.h"
#include "plugin/ops/backend/backend_report.h"
#include "plugin/ops/operations.h"

namespace rbdvol::plugin {

Result<Json> backend_list(Driver& driver, const Json&, const Progress&) {
  std::vector<Cluster*> clusters = driver.cluster_list();
  // In parallel: a backend that does not answer costs one timeout in all.
  auto entries = fan_out(clusters, [&driver](Cluster* c) { return backend_report(driver, *c); });
  return Json{{"backends", entries}};
}

}  // namespace rbdvol::plugin
