// rbdvol: drives the rbdvol plugin (loaded through its C ABI, exactly as a
// volume service loads it) and attaches volumes to libvirt domains.

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/exit_status.h"
#include "cli/terminal_text.h"

namespace rbdvol::cli {
namespace {

const std::vector<OptionSpec>& global_options() {
  static const std::vector<OptionSpec> options = {
      {"config", true,
       "the rbdvol config file (default $RBDVOL_CONFIG, else /etc/rbdvol/rbdvol.conf)", "FILE"},
      {"driver", true,
       "the plugin to load (default $RBDVOL_DRIVER, else librbdvol_rbd.so beside rbdvol or in its "
       "../lib/rbdvol)",
       "PATH"},
      {"connect", true, "libvirt URI (default: libvirt's default, qemu:///system for root)", "URI"},
      {"json", false, "print answers as JSON", ""},
      {"help", false, "show help", ""},
  };
  return options;
}

std::vector<Command> all_commands() {
  return {backend_list_command(),    backend_show_command(),   image_upload_command(),
          image_list_command(),      image_show_command(),     image_copy_command(),
          image_delete_command(),    image_partials_command(), image_verify_command(),
          image_download_command(),  image_checksum_command(), image_create_from_volume_command(),
          volume_create_command(),   volume_list_command(),    volume_show_command(),
          volume_extend_command(),   volume_retype_command(),  volume_delete_command(),
          snapshot_create_command(), snapshot_list_command(),  snapshot_delete_command(),
          snapshot_revert_command(), attach_command(),         detach_command(),
          audit_command(),           xml_patch_command(),      secret_ensure_command(),
          vm_define_command(),       check_command(),          ha_define_command(),
          ha_list_command(),         ha_show_command(),        ha_status_command(),
          ha_maintenance_command(),  ha_relocate_command(),    ha_undefine_command(),
          ha_agent_command()};
}

void print_options(const std::vector<OptionSpec>& options) {
  for (const auto& o : options) {
    std::string left = "--" + o.name + (o.takes_value ? " " + o.value_name : "");
    std::printf("  %-22s %s\n", left.c_str(), o.help.c_str());
  }
}

void print_main_help(const std::vector<Command>& commands, const std::string& group) {
  std::printf(
      "usage: rbdvol [--config FILE] [--json] [--driver PATH] [--connect URI] COMMAND ...\n\n");
  std::printf("Volumes and images on several Ceph clusters, attached to libvirt domains.\n\n");
  std::printf("commands:\n");
  for (const auto& c : commands) {
    if (!group.empty() && c.words.compare(0, group.size() + 1, group + " ") != 0) continue;
    std::printf("  %-25s %s\n", c.words.c_str(), c.summary.c_str());
  }
  std::printf("\nglobal options:\n");
  print_options(global_options());
  std::printf("\n'rbdvol COMMAND --help' shows a command's options.\n\n%s", exit_status_help());
}

void print_command_help(const Command& c) {
  std::printf("usage: rbdvol %s %s\n\n%s\n", c.words.c_str(), c.usage.c_str(), c.summary.c_str());
  if (!c.options.empty()) {
    std::printf("\noptions:\n");
    print_options(c.options);
  }
  std::printf("\nglobal options:\n");
  print_options(global_options());
}

int run(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const auto commands = all_commands();

  // The command is named by its first one or two words; global options may
  // stand before them (and anywhere after).
  auto takes_value = [](const std::string& a) {
    for (const auto& g : global_options()) {
      if (g.takes_value && a == "--" + g.name) return true;
    }
    return false;
  };
  std::vector<std::string> words;
  std::vector<std::string> command_args;
  size_t i = 0;
  for (; i < args.size() && args[i].compare(0, 2, "--") == 0; ++i) {
    command_args.push_back(args[i]);
    if (takes_value(args[i]) && i + 1 < args.size()) command_args.push_back(args[++i]);
  }
  if (i < args.size()) words.push_back(args[i++]);
  if (i < args.size() && args[i].compare(0, 2, "--") != 0) words.push_back(args[i]);
  const Command* command = nullptr;
  for (const auto& c : commands) {
    if (words.size() == 2 && c.words == words[0] + " " + words[1]) command = &c;
  }
  if (command) {
    ++i;
  } else {
    for (const auto& c : commands) {
      if (!words.empty() && c.words == words[0]) command = &c;
    }
  }
  command_args.insert(command_args.end(), args.begin() + static_cast<long>(i), args.end());

  if (!command) {
    bool help = false;
    for (const auto& a : args) help = help || a == "--help" || a == "-h";
    std::string group = words.empty() ? "" : words[0];
    bool known_group = false;
    for (const auto& c : commands) {
      known_group = known_group || c.words.compare(0, group.size() + 1, group + " ") == 0;
    }
    if (words.empty() || help || (known_group && words.size() == 1)) {
      print_main_help(commands, known_group ? group : "");
      return words.empty() && !help ? kExitUsage : kExitOk;
    }
    std::fprintf(stderr, "rbdvol: unknown command '%s'; see rbdvol --help\n",
                 printable(words[0] + (words.size() > 1 ? " " + words[1] : "")).c_str());
    return kExitUsage;
  }

  std::vector<OptionSpec> specs = command->options;
  specs.insert(specs.end(), global_options().begin(), global_options().end());
  auto parsed = Arguments::parse(command_args, specs);
  if (!parsed.ok()) {
    std::fprintf(stderr, "rbdvol %s: %s\nusage: rbdvol %s %s\n", command->words.c_str(),
                 printable(parsed.status().message()).c_str(), command->words.c_str(),
                 command->usage.c_str());
    return kExitUsage;
  }
  if (parsed->has("help")) {
    print_command_help(*command);
    return 0;
  }
  const size_t n = parsed->positional().size();
  if (n < command->min_positional || n > command->max_positional) {
    std::fprintf(stderr, "rbdvol %s: wrong number of arguments\nusage: rbdvol %s %s\n",
                 command->words.c_str(), command->words.c_str(), command->usage.c_str());
    return kExitUsage;
  }

  Context ctx;
  const char* env_config = std::getenv("RBDVOL_CONFIG");
  ctx.config_path =
      parsed->get("config", env_config && *env_config ? env_config : "/etc/rbdvol/rbdvol.conf");
  ctx.driver_path = parsed->get("driver");
  ctx.libvirt_uri = parsed->get("connect");
  ctx.json = parsed->has("json");
  ctx.with_config = command->needs_config;
  Status s = command->run(ctx, *parsed);
  if (!s.ok()) {
    std::fprintf(stderr, "rbdvol %s: %s\n", command->words.c_str(), printable(s.message()).c_str());
    if (s.err() == kUsageErrno) {
      std::fprintf(stderr, "usage: rbdvol %s %s\n", command->words.c_str(), command->usage.c_str());
    }
    return exit_status_for_errno(s.err());
  }
  return kExitOk;
}

}  // namespace
}  // namespace rbdvol::cli

int main(int argc, char** argv) {
  try {
    return rbdvol::cli::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rbdvol: internal error: %s\n", rbdvol::cli::printable(e.what()).c_str());
    return rbdvol::cli::kExitFailure;
  }
}
