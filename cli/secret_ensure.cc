// rbdvol secret ensure BACKEND
#include <cstdio>

#include "attach/libvirt_secret.h"
#include "cli/backend_secret.h"
#include "cli/command.h"
#include "cli/libvirt_module_loader.h"

namespace rbdvol::cli {

namespace {

// Overwrites a string that held a key before it is freed.
void wipe(std::string& s) {
  volatile char* p = s.data();
  for (size_t i = 0; i < s.size(); ++i) p[i] = 0;
  s.clear();
}

}  // namespace

Result<nlohmann::json> ensure_backend_secret(Context& ctx, attach::Hypervisor& hv,
                                             const std::string& backend) {
  auto auth = ctx.call("backend.auth", {{"backend", backend}});
  if (!auth.ok()) return auth.status();
  attach::CephSecret secret;
  secret.uuid = auth->value("secret_uuid", "");
  const std::string user = auth->value("user", "");
  secret.usage_name = "client." + user + "@" + backend;
  secret.description = "rbdvol: ceph client." + user + " of backend " + backend;
  secret.key_digest = auth->value("key_sha256", "").substr(0, 16);
  secret.key = auth->value("key", "");
  wipe(auth->at("key").get_ref<std::string&>());
  if (secret.uuid.empty()) {
    wipe(secret.key);
    return Status::Invalid("backend " + backend +
                           " has no libvirt_secret_uuid in the config: name one (any uuid, "
                           "e.g. from uuidgen) and run this again");
  }
  auto result = attach::ensure_ceph_secret(hv, secret);
  wipe(secret.key);
  if (!result.ok()) return result.status();
  return nlohmann::json{{"backend", backend},
                        {"uuid", secret.uuid},
                        {"usage", secret.usage_name},
                        {"result", *result}};
}

Command secret_ensure_command() {
  Command c;
  c.words = "secret ensure";
  c.usage = "BACKEND";
  c.summary =
      "Define the backend's libvirt ceph secret holding its key ('unchanged' when it already "
      "is so).";
  c.min_positional = c.max_positional = 1;
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    const std::string backend = args.positional()[0];
    auto hv = connect_libvirt(ctx.libvirt_uri);
    if (!hv.ok()) return hv.status();
    auto answer = ensure_backend_secret(ctx, **hv, backend);
    if (!answer.ok()) return answer.status();
    print_answer(ctx, *answer, [](const nlohmann::json& a) {
      std::printf("libvirt secret %s of backend %s: %s\n", shown(a.at("uuid")).c_str(),
                  shown(a.at("backend")).c_str(), shown(a.at("result")).c_str());
    });
    return Status::Ok();
  };
  return c;
}

}  // namespace rbdvol::cli
