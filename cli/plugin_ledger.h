// AttachmentLedger on the plugin's attachment.* operations: the records live
// with the volume in Ceph.
#pragma once

#include <string>

#include "attach/attach_volume.h"
#include "cli/command.h"

namespace rbdvol::cli {

class PluginLedger final : public attach::AttachmentLedger {
 public:
  PluginLedger(Context& ctx, std::string volume) : ctx_(ctx), volume_(std::move(volume)) {}

  Result<nlohmann::json> reserve(const std::string& domain) override {
    auto a = ctx_.call("attachment.create", {{"volume", volume_}, {"domain", domain}});
    if (!a.ok()) return a.status();
    return a->at("connection");
  }
  Status confirm(const std::string& domain, const std::string& target_dev) override {
    auto a = ctx_.call("attachment.update",
                       {{"volume", volume_}, {"domain", domain}, {"target_dev", target_dev}});
    return a.ok() ? Status::Ok() : a.status();
  }
  Status release(const std::string& domain) override {
    auto a = ctx_.call("attachment.delete", {{"volume", volume_}, {"domain", domain}});
    return a.ok() ? Status::Ok() : a.status();
  }

 private:
  Context& ctx_;
  std::string volume_;
};

}  // namespace rbdvol::cli
