#include "host/plugin_host.h"

#include <dlfcn.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace rbdvol::host {

Result<std::unique_ptr<PluginHost>> PluginHost::load(const std::string& path) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* e = dlerror();
    return Status::Error(ENOENT, "cannot load plugin " + path + ": " + (e ? e : "unknown error"));
  }
  auto fail = [&](int err, const std::string& message) -> Status {
    dlclose(handle);
    return Status::Error(err, "plugin " + path + ": " + message);
  };
  dlerror();
  void* sym = dlsym(handle, RBDVOL_DRIVER_ENTRY_SYMBOL);
  if (!sym) {
    return fail(ENOEXEC, std::string("has no entry point ") + RBDVOL_DRIVER_ENTRY_SYMBOL +
                             "; is it an rbdvol driver?");
  }
  auto entry = reinterpret_cast<rbdvol_driver_entry_fn>(sym);
  const rbdvol_driver_ops* ops = entry();
  if (!ops) return fail(ENOEXEC, "entry point returned no table");
  // The version comes first and is checked before anything else is used.
  if (ops->abi_version != RBDVOL_DRIVER_ABI_VERSION) {
    return fail(EPROTO, "has ABI version " + std::to_string(ops->abi_version) +
                            ", this host needs ABI version " +
                            std::to_string(RBDVOL_DRIVER_ABI_VERSION));
  }
  // Any table at least as long as the first ABI-1 table is accepted, a longer
  // one from a newer plugin included: the host never reads past what it knows,
  // and members added after ABI 1's first table are used only after
  // RBDVOL_DRIVER_OPS_HAS.
  if (ops->struct_size < RBDVOL_DRIVER_OPS_V1_SIZE) {
    return fail(EPROTO,
                "has a table of " + std::to_string(ops->struct_size) + " bytes, shorter than the " +
                    std::to_string(RBDVOL_DRIVER_OPS_V1_SIZE) + " bytes of the first ABI-1 table");
  }
  if (!ops->open || !ops->close || !ops->call || !ops->free_string) {
    return fail(EPROTO, "has an incomplete table");
  }
  return std::unique_ptr<PluginHost>(new PluginHost(handle, ops, path));
}

PluginHost::~PluginHost() {
  if (driver_) ops_->close(driver_);
  dlclose(handle_);
}

Status PluginHost::open(const std::string& config_path) { return open_driver(config_path.c_str()); }

Status PluginHost::open_without_config() { return open_driver(nullptr); }

Status PluginHost::open_driver(const char* config_path) {
  char* err = nullptr;
  int r = ops_->open(config_path, &driver_, &err);
  std::string message = err ? err : "";
  ops_->free_string(err);
  if (r < 0) return Status::Error(r, message.empty() ? std::strerror(-r) : message);
  return Status::Ok();
}

namespace {

void progress_trampoline(void* ctx, const char* stage, uint64_t done, uint64_t total) {
  (*static_cast<const PluginHost::ProgressFn*>(ctx))(stage, done, total);
}

// No exception may cross into the plugin: one from the host's function
// fails the read or write with EIO.
int64_t read_trampoline(void* ctx, void* buf, uint64_t len) {
  try {
    return (*static_cast<const PluginHost::ReadFn*>(ctx))(buf, len);
  } catch (...) {
    return -EIO;
  }
}

int write_trampoline(void* ctx, const void* buf, uint64_t len) {
  try {
    return (*static_cast<const PluginHost::WriteFn*>(ctx))(buf, len);
  } catch (...) {
    return -EIO;
  }
}

}  // namespace

Result<nlohmann::json> PluginHost::call(const std::string& op, const nlohmann::json& request,
                                        const ProgressFn& progress) {
  if (!driver_) return Status::Error(EINVAL, "the driver is not open");
  char* answer = nullptr;
  char* err = nullptr;
  std::string body;
  try {
    body = request.dump();
  } catch (const nlohmann::json::type_error& e) {
    // JSON is UTF-8: a name or path given in another encoding cannot be sent.
    return Status::Invalid(op + ": an argument is not valid UTF-8 text (" + e.what() + ")");
  }
  int r = ops_->call(driver_, op.c_str(), body.c_str(), progress ? progress_trampoline : nullptr,
                     progress ? const_cast<ProgressFn*>(&progress) : nullptr, &answer, &err);
  return answer_of(op, r, answer, err);
}

bool PluginHost::has_call_stream() const {
  return RBDVOL_DRIVER_OPS_HAS(ops_, call_stream) && ops_->call_stream != nullptr;
}

Result<nlohmann::json> PluginHost::call_stream(const std::string& op, const nlohmann::json& request,
                                               const ReadFn& read, const WriteFn& write,
                                               const ProgressFn& progress) {
  if (!has_call_stream()) {
    return Status::Error(EOPNOTSUPP, "plugin " + path_ + " has no call_stream (its table of " +
                                         std::to_string(ops_->struct_size) +
                                         " bytes predates it): cannot run " + op);
  }
  if (!driver_) return Status::Error(EINVAL, "the driver is not open");
  std::string body;
  try {
    body = request.dump();
  } catch (const nlohmann::json::type_error& e) {
    return Status::Invalid(op + ": an argument is not valid UTF-8 text (" + e.what() + ")");
  }
  char* answer = nullptr;
  char* err = nullptr;
  int r = ops_->call_stream(
      driver_, op.c_str(), body.c_str(), read ? read_trampoline : nullptr,
      read ? const_cast<ReadFn*>(&read) : nullptr, write ? write_trampoline : nullptr,
      write ? const_cast<WriteFn*>(&write) : nullptr, progress ? progress_trampoline : nullptr,
      progress ? const_cast<ProgressFn*>(&progress) : nullptr, &answer, &err);
  return answer_of(op, r, answer, err);
}

Result<nlohmann::json> PluginHost::answer_of(const std::string& op, int r, char* answer,
                                             char* err) {
  std::string answer_text = answer ? answer : "";
  std::string message = err ? err : "";
  ops_->free_string(answer);
  ops_->free_string(err);
  if (r < 0) return Status::Error(r, message.empty() ? std::strerror(-r) : message);
  try {
    return nlohmann::json::parse(answer_text);
  } catch (const std::exception& e) {
    return Status::Error(EPROTO, op + ": the driver answered no JSON: " + e.what());
  }
}

std::string find_beside_executable(const std::string& file) {
  std::vector<char> self(PATH_MAX + 1, '\0');
  ssize_t n = readlink("/proc/self/exe", self.data(), PATH_MAX);
  if (n > 0) {
    std::string dir(self.data(), static_cast<size_t>(n));
    dir = dir.substr(0, dir.rfind('/'));
    // Beside it (a copy of the binaries), the installed layout (bin/ and
    // lib/rbdvol/: packaging/CMakeLists.txt), the build tree (build/lib/).
    for (const std::string& candidate :
         {dir + "/" + file, dir + "/../lib/rbdvol/" + file, dir + "/../lib/" + file}) {
      if (access(candidate.c_str(), R_OK) == 0) return candidate;
    }
  }
  return file;  // let dlopen search the library path
}

std::string find_plugin(const std::string& explicit_path) {
  if (!explicit_path.empty()) return explicit_path;
  if (const char* env = std::getenv("RBDVOL_DRIVER"); env && *env) return env;
  return find_beside_executable("librbdvol_rbd.so");
}

}  // namespace rbdvol::host
