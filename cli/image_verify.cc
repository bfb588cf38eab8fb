// rbdvol image verify ID [--backend ID]
#include <cstdio>

#include "cli/command.h"
#include "cli/progress_display.h"

namespace rbdvol::cli {

Command image_verify_command() {
  Command c;
  c.words = "image verify";
  c.usage = "ID [--backend ID]";
  c.summary =
      "Read each copy of an image (at its snapshot 'snap' when a volume made it, else its head: "
      "the same bytes) and check every chunk against the "
      "digests recorded with it (a copy carries those of the upload); exit status 1 when any "
      "differs.";
  c.options = {{"backend", true, "check only this backend's copy", "ID"}};
  c.min_positional = c.max_positional = 1;
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    nlohmann::json request = {{"id", args.positional()[0]}};
    if (args.has("backend")) request["backend"] = args.get("backend");
    ProgressDisplay display("verify " + args.positional()[0]);
    auto answer =
        ctx.call("image.verify", request,
                 [&](const char*, uint64_t done, uint64_t total) { display.update(done, total); });
    if (!answer.ok()) return answer.status();
    print_answer(ctx, *answer, [](const nlohmann::json& a) {
      const std::string id = a.at("id");
      for (const auto& cp : a.at("copies")) {
        const std::string backend = cp.at("backend");
        if (cp.at("state") == "unrecorded") {
          std::printf("image %s on backend %s: no chunk digests recorded, cannot verify\n",
                      printable(id).c_str(), printable(backend).c_str());
          continue;
        }
        const auto& bad = cp.at("mismatches");
        std::printf("image %s on backend %s: %s (%llu chunks, %llu read)\n", printable(id).c_str(),
                    printable(backend).c_str(), bad.empty() ? "ok" : "MISMATCH",
                    cp.at("chunks").get<unsigned long long>(),
                    cp.at("chunks_read").get<unsigned long long>());
        for (const auto& m : bad) {
          std::printf("  chunk %llu at offset %llu (%llu bytes): expected %s, found %s\n",
                      m.at("index").get<unsigned long long>(),
                      m.at("offset").get<unsigned long long>(),
                      m.at("length").get<unsigned long long>(), shown(m.at("expected")).c_str(),
                      shown(m.at("found")).c_str());
        }
      }
    });
    if (!answer->at("ok").get<bool>()) {
      return Status::Error(EIO, "image " + answer->at("id").get<std::string>() +
                                    " did not verify: a chunk differs from its recorded digest, "
                                    "or a copy has no digests");
    }
    return Status::Ok();
  };
  return c;
}

}  // namespace rbdvol::cli
