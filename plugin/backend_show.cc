// backend.show: one backend's report.
#include "plugin/backend_report.h"
#include "plugin/operations.h"
#include "plugin/request.h"

namespace rbdvol::plugin {

Result<Json> backend_show(Driver& driver, const Json& request, const Progress&) {
  auto id = required_string(request, "id");
  if (!id.ok()) return id.status();
  Cluster* cluster = driver.cluster(*id);
  if (!cluster) {
    std::string known;
    for (auto& c : driver.clusters()) known += (known.empty() ? "" : ", ") + c->id();
    return Status::NotFound("backend '" + *id + "' is not an enabled backend (enabled: " + known +
                            ")");
  }
  return backend_report(driver, *cluster);
}

}  // namespace rbdvol::plugin
