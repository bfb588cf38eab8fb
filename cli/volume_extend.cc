// rbdvol volume extend ID --size SIZE
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "attach/attach_volume.h"
#include "cli/command.h"
#include "cli/libvirt_module_loader.h"

namespace rbdvol::cli {
namespace {

// An exclusive flock held from the extend to the last domain told, so that
// the extends on one host take turns: one never tells a domain a size while
// another resizes (QEMU's block resize shrinks an rbd image told too little).
class ExtendTurn {
 public:
  static Result<ExtendTurn> take() {
    std::string dir = "/run/lock";
    if (access(dir.c_str(), W_OK) != 0) {
      const char* tmp = std::getenv("TMPDIR");
      dir = tmp && *tmp ? tmp : "/tmp";
    }
    const std::string path = dir + "/rbdvol-volume-extend.lock";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) {
      const int err = errno;
      return Status::Error(err, "cannot open the lock " + path + ": " + std::strerror(err));
    }
    ExtendTurn turn(fd);
    while (flock(fd, LOCK_EX) != 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      return Status::Error(err, "cannot lock " + path + ": " + std::strerror(err));
    }
    return turn;
  }
  ExtendTurn(ExtendTurn&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  ExtendTurn& operator=(ExtendTurn&&) = delete;
  ~ExtendTurn() {
    if (fd_ >= 0) ::close(fd_);  // releases the flock
  }

 private:
  explicit ExtendTurn(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace

Command volume_extend_command() {
  Command c;
  c.words = "volume extend";
  c.usage = "ID --size SIZE";
  c.summary =
      "Grow a volume to SIZE (volumes never shrink); running domains it is attached to are told "
      "the new size, so their guests see it at once.";
  c.options = {{"size", true, "the new size with a unit: 10G, 512M (required)", "SIZE"}};
  c.min_positional = c.max_positional = 1;
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    if (!args.has("size")) return usage_error("--size is required");
    auto turn = ExtendTurn::take();
    if (!turn.ok()) return turn.status();
    auto answer =
        ctx.call("volume.extend", {{"id", args.positional()[0]}, {"size", args.get("size")}});
    if (!answer.ok()) return answer.status();
    // The guests of the domains it is attached to see the new size once
    // their QEMU is told (virDomainBlockResize), as Nova does for Cinder.
    auto info = ctx.call("volume.show", {{"id", answer->at("id")}});
    if (!info.ok()) return info.status().Prefixed("extended, but cannot list its attachments");
    std::vector<std::string> domains;
    for (const auto& a : info->at("attachments")) domains.push_back(a.value("domain", ""));
    std::string failed;
    (*answer)["domains"] = nlohmann::json::array();
    if (!domains.empty()) {
      auto hv = connect_libvirt(ctx.libvirt_uri);
      if (!hv.ok()) return hv.status().Prefixed("extended, but cannot tell its domains");
      const std::string source =
          info->at("pool").get<std::string>() + "/" + info->at("image").get<std::string>();
      // Each domain is told the image's size as read right before it is told,
      // never less than what the extend read back.
      const nlohmann::json id = answer->at("id");
      auto image_size = [&ctx, &id]() -> Result<uint64_t> {
        auto now = ctx.call("volume.show", {{"id", id}});
        if (!now.ok()) return now.status();
        return now->at("size").get<uint64_t>();
      };
      auto told =
          attach::announce_volume_size(**hv, source, domains, answer->at("size"), image_size);
      if (!told.ok()) return told.status().Prefixed("extended, but cannot tell its domains");
      for (const auto& d : *told) {
        nlohmann::json entry = {
            {"domain", d.domain}, {"target_dev", d.target_dev}, {"told", d.told}, {"note", d.note}};
        if (d.told) entry["size"] = d.bytes;
        (*answer)["domains"].push_back(std::move(entry));
        if (d.failed) failed += "; " + d.domain + ": " + d.note;
      }
    }
    print_answer(ctx, *answer, [](const nlohmann::json& a) {
      std::printf("extended volume %s on backend %s from %s to %s\n", shown(a.at("id")).c_str(),
                  shown(a.at("backend")).c_str(), human_bytes(a.at("old_size")).c_str(),
                  human_bytes(a.at("size")).c_str());
      for (const auto& d : a.at("domains")) {
        if (d.at("told").get<bool>()) {
          std::printf("  %s: its guest sees %s as %s now\n", shown(d.at("domain")).c_str(),
                      shown(d.at("target_dev")).c_str(), human_bytes(d.at("size")).c_str());
        } else {
          std::printf("  %s: %s\n", shown(d.at("domain")).c_str(), shown(d.at("note")).c_str());
        }
      }
    });
    if (!failed.empty()) {
      const std::string bytes = std::to_string(answer->at("size").get<uint64_t>());
      return Status::Error(EIO, "volume " + answer->at("id").get<std::string>() +
                                    " was extended to " + bytes +
                                    " bytes, but these domains were not told (virsh blockresize "
                                    "DOMAIN DEV " +
                                    bytes + "B tells one): " + failed.substr(2));
    }
    return Status::Ok();
  };
  return c;
}

}  // namespace rbdvol::cli
