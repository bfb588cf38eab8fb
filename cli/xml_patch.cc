// rbdvol xml patch FILE ACTION [--in-place]: xmlpatch on a domain XML file.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "attach/attach_volume.h"
#include "cli/command.h"
#include "text/monitor_address.h"
#include "xmlpatch/xmlpatch.h"

namespace rbdvol::cli {

namespace {

// "sdb" selects by target dev, "pool/image" by rbd source.
xmlpatch::DiskSelector selector_of(const std::string& s) {
  if (s.find('/') != std::string::npos) return {"", s};
  return {s, ""};
}

// "host", "host:port", "[v6]:port", "v6" (more than one ':'), comma-separated.
Result<std::vector<xmlpatch::MonitorHost>> monitors_of(const std::string& list) {
  std::vector<xmlpatch::MonitorHost> out;
  std::stringstream in(list);
  std::string m;
  while (std::getline(in, m, ',')) {
    if (m.empty()) continue;
    auto address = text::split_monitor_address(m);
    if (!address.ok()) return address.status();
    out.push_back({address->host, address->port});
  }
  return out;
}

Result<std::string> read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Error(errno ? errno : ENOENT, "cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Writes `text` to a temporary file beside `path` and renames it over
// `path`: a reader never sees half a document.
Status replace_file(const std::string& path, const std::string& text) {
  std::string tmp = path + ".rbdvol-XXXXXX";
  int fd = mkstemp(tmp.data());
  if (fd < 0) return Status::Error(errno, "cannot create a file beside " + path);
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return Status::Error(err, "cannot write " + tmp);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) < 0 || ::close(fd) < 0 || ::rename(tmp.c_str(), path.c_str()) < 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Status::Error(err, "cannot replace " + path);
  }
  return Status::Ok();
}

// Adds `disk` to `xml`, on the first free target dev of its bus unless one is given.
Result<std::string> add_rbd_disk(const std::string& xml, xmlpatch::RbdDisk disk,
                                 std::string* target_dev) {
  if (disk.target_dev.empty()) {
    auto dev = xmlpatch::first_free_target_dev(xml, disk.target_bus);
    if (!dev.ok()) return dev.status();
    disk.target_dev = *dev;
  }
  *target_dev = disk.target_dev;
  auto disk_xml = xmlpatch::build_rbd_disk_xml(disk);
  if (!disk_xml.ok()) return disk_xml.status();
  return xmlpatch::add_disk(xml, *disk_xml);
}

}  // namespace

Command xml_patch_command() {
  Command c;
  c.words = "xml patch";
  c.usage =
      "FILE (--add-volume ID | --add-rbd POOL/IMAGE --monitor HOST[:PORT],... [--user USER "
      "--secret-uuid UUID] [--serial ID] | --remove DISK | --disk DISK) [--bus BUS] [--dev DEV] "
      "[--cache MODE] [--shareable] [--boot] [--in-place]";
  c.summary = "Add, remove or change a disk in a domain XML file (to stdout, or --in-place).";
  c.options = {
      {"add-volume", true, "add the disk of an rbdvol volume (its connection info from the plugin)",
       "ID"},
      {"add-rbd", true, "add an rbd disk of this image, described by the options below",
       "POOL/IMAGE"},
      {"monitor", true, "with --add-rbd: the monitors, comma-separated", "HOST[:PORT],..."},
      {"user", true, "with --add-rbd: the cephx user, without client. (gives the disk <auth>)",
       "USER"},
      {"secret-uuid", true, "with --add-rbd --user: the libvirt ceph secret holding its key",
       "UUID"},
      {"serial", true, "with --add-rbd: the serial shown to the guest", "ID"},
      {"bus", true, "with --add-*: virtio (default), scsi or sata", "BUS"},
      {"dev", true, "with --add-*: the target dev (default: the first free one of the bus)", "DEV"},
      {"remove", true, "remove the disk with this target dev (vdb) or rbd source (pool/image)",
       "DISK"},
      {"disk", true,
       "change the disk with this target dev or rbd source: with --cache, --shareable", "DISK"},
      {"cache", true,
       "the cache mode: none, directsync, writethrough, writeback, unsafe (a shareable disk: none "
       "or directsync)",
       "MODE"},
      {"shareable", false,
       "make the disk shareable (with raw and cache none, or --cache directsync)", ""},
      {"boot", false,
       "with --add-* or --disk: make the disk the first boot device (<boot order='1'/>, other "
       "boot orders shifted up, <os><boot dev=...> removed)",
       ""},
      {"in-place", false, "replace FILE instead of printing the result", ""},
  };
  c.min_positional = c.max_positional = 1;
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    const std::string path = args.positional()[0];
    int actions = 0;
    for (const char* a : {"add-volume", "add-rbd", "remove", "disk"}) actions += args.has(a);
    if (actions != 1) {
      return usage_error("give exactly one of --add-volume, --add-rbd, --remove, --disk");
    }
    auto xml = read_whole_file(path);
    if (!xml.ok()) return xml.status();
    nlohmann::json answer = {{"file", path}};
    Result<std::string> out = Status::Invalid("no action");
    if (args.has("add-volume") || args.has("add-rbd")) {
      xmlpatch::RbdDisk disk;
      if (args.has("add-volume")) {
        auto conn = ctx.call("volume.connection", {{"id", args.get("add-volume")}});
        if (!conn.ok()) return conn.status();
        auto from = attach::rbd_disk_from_connection(*conn);
        if (!from.ok()) return from.status();
        disk = std::move(from).value();
      } else {
        const std::string source = args.get("add-rbd");
        auto slash = source.find('/');
        if (slash == std::string::npos) {
          return Status::Invalid("--add-rbd wants POOL/IMAGE, got '" + source + "'");
        }
        disk.pool = source.substr(0, slash);
        disk.image = source.substr(slash + 1);
        auto hosts = monitors_of(args.get("monitor"));
        if (!hosts.ok()) return hosts.status();
        disk.hosts = std::move(hosts).value();
        disk.auth_username = args.get("user");
        disk.secret_uuid = args.get("secret-uuid");
        disk.serial = args.get("serial");
      }
      if (args.has("cache")) disk.cache = args.get("cache");
      if (args.has("shareable")) disk.shareable = true;
      disk.target_bus = args.get("bus", "virtio");
      disk.target_dev = args.get("dev");
      std::string dev;
      out = add_rbd_disk(*xml, disk, &dev);
      if (out.ok() && args.has("boot")) out = xmlpatch::make_boot_disk(*out, {dev, ""});
      answer["added"] = dev;
    } else if (args.has("remove")) {
      if (args.has("boot"))
        return usage_error("--boot goes with --add-volume, --add-rbd or --disk");
      out = xmlpatch::remove_disk(*xml, selector_of(args.get("remove")));
      answer["removed"] = args.get("remove");
    } else {
      const auto which = selector_of(args.get("disk"));
      if (!args.has("cache") && !args.has("shareable") && !args.has("boot")) {
        return usage_error("--disk wants --cache MODE, --shareable and/or --boot");
      }
      out = *xml;
      if (args.has("shareable")) {
        out = xmlpatch::make_disk_shareable(*out, which, args.get("cache", "none"));
      } else if (args.has("cache")) {
        out = xmlpatch::set_disk_cache_mode(*out, which, args.get("cache"));
      }
      if (out.ok() && args.has("boot")) out = xmlpatch::make_boot_disk(*out, which);
      answer["changed"] = args.get("disk");
    }
    if (!out.ok()) return Status::Error(out.status().err(), path + ": " + out.status().message());
    if (args.has("boot")) answer["boot"] = true;
    if (args.has("in-place")) {
      Status s = replace_file(path, *out);
      if (!s.ok()) return s;
      answer["in_place"] = true;
      print_answer(ctx, answer, [&](const nlohmann::json&) {
        std::fprintf(stderr, "rewrote %s\n", printable(path).c_str());
      });
    } else if (ctx.json) {
      answer["xml"] = *out;
      print_answer(ctx, answer, [](const nlohmann::json&) {});
    } else {
      std::cout << *out;
    }
    return Status::Ok();
  };
  return c;
}

}  // namespace rbdvol::cli
