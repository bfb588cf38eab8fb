// One rbdvol subcommand: its words, usage, options and what it runs. Each
// lives in a file of its own (volume_create.cc, attach.cc, ...).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/arguments.h"
#include "cli/terminal_text.h"
#include "host/plugin_host.h"
#include "status/status.h"
#include "text/byte_size.h"

namespace rbdvol::cli {

using host::PluginHost;

// What every subcommand gets: the global options and the loaded driver.
class Context {
 public:
  std::string config_path;  // --config, $RBDVOL_CONFIG, or /etc/rbdvol/rbdvol.conf
  std::string driver_path;  // --driver, $RBDVOL_DRIVER, or beside the executable
  std::string libvirt_uri;  // --connect, or libvirt's default
  bool json = false;        // --json
  bool with_config = true;  // false: the driver is opened without one

  // The plugin, loaded and opened on first use.
  Result<PluginHost*> driver();

  // Calls `op` on the driver.
  Result<nlohmann::json> call(const std::string& op, const nlohmann::json& request,
                              const PluginHost::ProgressFn& progress = nullptr);

 private:
  std::unique_ptr<PluginHost> plugin_;
};

struct Command {
  std::string words;    // "volume create"
  std::string usage;    // "--type TYPE (--image ID | --size SIZE) [--name NAME]"
  std::string summary;  // one line
  std::vector<OptionSpec> options;
  size_t min_positional = 0;
  size_t max_positional = 0;  // SIZE_MAX: any number
  bool needs_config = true;   // false: runs without a config file (--config unused)
  std::function<Status(Context&, const Arguments&)> run;
};

// The subcommands, one function per file.
Command backend_list_command();
Command image_upload_command();
Command image_list_command();
Command volume_create_command();
Command volume_show_command();
Command volume_delete_command();
Command attach_command();
Command detach_command();
Command volume_list_command();
Command volume_extend_command();
Command volume_retype_command();
Command snapshot_create_command();
Command snapshot_list_command();
Command snapshot_delete_command();
Command snapshot_revert_command();
Command image_show_command();
Command image_copy_command();
Command image_delete_command();
Command image_partials_command();
Command image_create_from_volume_command();
Command backend_show_command();
Command audit_command();
Command xml_patch_command();
Command secret_ensure_command();
Command image_verify_command();
Command image_download_command();
Command image_checksum_command();
Command check_command();
Command vm_define_command();
Command ha_define_command();
Command ha_list_command();
Command ha_show_command();
Command ha_status_command();
Command ha_maintenance_command();
Command ha_relocate_command();
Command ha_undefine_command();
Command ha_agent_command();

// Prints `answer` as JSON (with --json) or calls `human` to print it for people.
void print_answer(const Context& ctx, const nlohmann::json& answer,
                  const std::function<void(const nlohmann::json&)>& human);

// "1.0 GiB"
using text::human_bytes;

// A value of an answer as a terminal may show it: a string with its control
// characters made visible escapes (printable()), anything else as JSON.
// Every human-readable output of a name, id or message goes through it.
std::string shown(const nlohmann::json& value);

// `error` of backend `backend`, named once: "backend fast: cannot connect ...",
// whether or not the plugin's message already starts with the backend.
std::string backend_error(const std::string& backend, const std::string& error);

// The failure of a listing that printed what the backends that answered hold
// (`unreachable`: [{"backend", "error"}]): EHOSTUNREACH naming each backend
// that did not, or ok when every backend answered.
Status unreachable_backends(const nlohmann::json& unreachable, const std::string& what);

// The options of a paged listing (--limit N, --marker ID, --sort KEYS,
// --name NAME), for the commands' option tables, and their request fields.
std::vector<OptionSpec> listing_options(const std::string& what);
Status add_listing_request(const Arguments& args, nlohmann::json* request);
// On stderr, when the answer has a next_marker: how to ask for the next page.
void print_next_page(const nlohmann::json& answer, const std::string& command);

// A command-line error a command finds itself ("--size is required"): rbdvol
// prints the command's usage and exits 2, as for an unknown option.
Status usage_error(std::string message);

}  // namespace rbdvol::cli
