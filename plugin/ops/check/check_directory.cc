// backend.check's look at a backend's volume and image directories
// (records/directory.h): each compared with what the pools hold, read the
// slow way (every image opened). Every repair rewrites an entry from its
// image, or drops what names nothing, so none can lose anything.
#include <map>

#include "plugin/ops/check/check.h"
#include "plugin/ops/directory_sync.h"
#include "plugin/records/catalog.h"
#include "plugin/records/directory.h"
#include "plugin/records/naming.h"
#include "plugin/records/volume_record.h"

namespace rbdvol::plugin {

namespace {

struct Kind {
  DirectoryKind kind;
  const char* noun;  // "volume", "image"
  std::string pool;
};

Finding directory_finding(Cluster& cluster, const Kind& k, const std::string& uuid,
                          const std::string& what, std::string problem) {
  Finding f;
  f.kind = "directory_" + what;
  f.backend = cluster.id();
  f.pool = k.pool;
  f.image = (k.kind == DirectoryKind::kVolumes ? kVolumePrefix : kImagePrefix) + uuid;
  f.ids = {uuid};
  f.problem = std::move(problem);
  return f;
}

}  // namespace

Result<std::vector<Finding>> check_directories(Driver& driver, Cluster& cluster,
                                               const CheckOptions& options) {
  std::vector<Finding> findings;
  for (const Kind& k : {Kind{DirectoryKind::kVolumes, "volume", cluster.backend().volume_pool},
                        Kind{DirectoryKind::kImages, "image", cluster.backend().image_pool}}) {
    ASSIGN_OR_RETURN(auto io, cluster.open_pool(k.pool));
    ASSIGN_OR_RETURN(bool built, directory_is_built(*io, k.kind));
    if (!built) continue;  // filled from the pool by the first listing
    ASSIGN_OR_RETURN(auto listed, directory_read_all(*io, k.kind));
    ASSIGN_OR_RETURN(auto held, k.kind == DirectoryKind::kVolumes
                                    ? scan_volume_pool(driver, cluster, *io)
                                    : scan_image_pool(cluster, *io));
    std::map<std::string, Json> in_directory, in_pool;
    // The key first: nlohmann's operator= takes its argument by value, and
    // C++17 builds that argument (moving `e` away) before the left side.
    for (auto& e : listed) {
      const std::string id = e.at("id").get<std::string>();
      in_directory[id] = std::move(e);
    }
    for (auto& e : held) {
      const std::string id = e.at("id").get<std::string>();
      in_pool[id] = std::move(e);
    }

    auto resync = [&driver, &k](const std::string& uuid) -> std::function<Status()> {
      if (k.kind == DirectoryKind::kVolumes) {
        return [&driver, uuid] { return sync_volume_entry(driver, uuid); };
      }
      return [&driver, uuid] { return sync_image_entries(driver, uuid); };
    };
    for (const auto& [uuid, entry] : in_pool) {
      if (!options.wanted({uuid})) continue;
      auto it = in_directory.find(uuid);
      if (it == in_directory.end()) {
        Finding f =
            directory_finding(cluster, k, uuid, "missing",
                              std::string("the ") + k.noun +
                                  " is not in its backend's directory: listings leave it out");
        f.repair = "write its entry from the image";
        f.fix = resync(uuid);
        findings.push_back(std::move(f));
      } else if (it->second != entry) {
        Finding f = directory_finding(cluster, k, uuid, "stale",
                                      std::string("the directory's entry of the ") + k.noun +
                                          " differs from the image (" + it->second.dump() +
                                          " instead of " + entry.dump() + ")");
        f.repair = "rewrite its entry from the image";
        f.fix = resync(uuid);
        findings.push_back(std::move(f));
      }
    }
    for (const auto& [uuid, entry] : in_directory) {
      if (in_pool.count(uuid) || !options.wanted({uuid})) continue;
      Finding f = directory_finding(cluster, k, uuid, "orphan",
                                    std::string("the directory lists a ") + k.noun +
                                        " that the pool does not hold (complete)");
      f.repair = "drop the entry";
      f.fix = resync(uuid);
      findings.push_back(std::move(f));
    }
    ASSIGN_OR_RETURN(auto names, directory_name_keys(*io, k.kind));
    for (const auto& n : names) {
      auto it = in_directory.find(n.uuid);
      if (it != in_directory.end() && it->second.value("name", "") == n.name) continue;
      if (!options.wanted({n.uuid})) continue;
      Finding f =
          directory_finding(cluster, k, n.uuid, "stale_name",
                            "the directory's name index says " + std::string(k.noun) + " " +
                                n.uuid + " is called '" + n.name + "', which its entry does not");
      f.repair = "drop the name key";
      const std::string pool = k.pool;
      const DirectoryKind kind = k.kind;
      Cluster* c = &cluster;
      f.fix = [c, pool, kind, n]() -> Status {
        ASSIGN_OR_RETURN(auto io, c->open_pool(pool));
        return directory_remove_name_key(*io, kind, n);
      };
      findings.push_back(std::move(f));
    }
  }
  return findings;
}

}  // namespace rbdvol::plugin
