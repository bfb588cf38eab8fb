// VolumeDirectory on the plugin's volume.connection: what the disk of an
// rbdvol volume must look like, by its RBD image name.
#pragma once

#include <string>

#include "attach/audit.h"
#include "cli/command.h"

namespace rbdvol::cli {

class PluginVolumeDirectory final : public attach::VolumeDirectory {
 public:
  explicit PluginVolumeDirectory(Context& ctx) : ctx_(ctx) {}

  Result<std::optional<attach::VolumeRules>> lookup(const std::string& pool,
                                                    const std::string& image) override {
    // rbdvol's volumes are volume-<uuid>; anything else is not ours.
    static const std::string kPrefix = "volume-";
    if (image.size() != kPrefix.size() + 36 || image.compare(0, kPrefix.size(), kPrefix) != 0) {
      return std::optional<attach::VolumeRules>();
    }
    auto c = ctx_.call("volume.connection", {{"id", image.substr(kPrefix.size())}});
    if (!c.ok()) {
      if (c.status().err() == ENOENT || c.status().err() == EINVAL) {
        return std::optional<attach::VolumeRules>();
      }
      return c.status();
    }
    // The same name in another pool is another image.
    if (c->value("pool", "") != pool || c->value("image", "") != image) {
      return std::optional<attach::VolumeRules>();
    }
    attach::VolumeRules rules;
    rules.volume_id = c->value("volume_id", "");
    rules.multiattach = c->value("multiattach", false);
    rules.cache = c->value("cache", "none");
    rules.auth_username = c->value("auth_username", "");
    rules.secret_uuid = c->value("secret_uuid", "");
    return std::optional<attach::VolumeRules>(rules);
  }

 private:
  Context& ctx_;
};

}  // namespace rbdvol::cli
