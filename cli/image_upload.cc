// rbdvol image upload FILE --name NAME [--backend ID] [--resume]
//   [--url URL [--connections N] [--token-file FILE] [--insecure]]
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "cli/command.h"
#include "cli/progress_display.h"
#include "cli/ranged_upload.h"

namespace rbdvol::cli {
namespace {

// Through rbdvold's image API: no config, no plugin (cli/ranged_upload.h).
Status upload_over_http(Context& ctx, const Arguments& args) {
  RangedUploadOptions o;
  o.path = args.positional()[0];
  o.url = args.get("url");
  o.name = args.get("name");
  o.store = args.get("backend");
  o.resume = args.has("resume");
  o.http.verify_tls = !args.has("insecure");
  if (args.has("connections")) {
    const std::string text = args.get("connections");
    char* end = nullptr;
    const long n = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || *end || n < 1 || n > 32) {
      return usage_error("--connections takes a number from 1 to 32, not '" + text + "'");
    }
    o.connections = static_cast<unsigned>(n);
  }
  if (args.has("token-file")) {
    auto token = read_token_file(args.get("token-file"));
    if (!token.ok()) return token.status();
    o.http.token = *token;
  } else if (const char* env = std::getenv("OS_AUTH_TOKEN"); env && *env) {
    Status s = check_token(env).Prefixed("$OS_AUTH_TOKEN");
    if (!s.ok()) return s;
    o.http.token = env;
  }
  ProgressDisplay display("upload " + o.path);
  std::mutex display_mutex;
  auto answer = ranged_upload(o, [&](uint64_t done, uint64_t total) {
    std::lock_guard<std::mutex> lock(display_mutex);
    display.update(done, total);
  });
  if (!answer.ok()) return answer.status();
  print_answer(ctx, *answer, [](const nlohmann::json& a) {
    const auto& u = a.at("upload");
    std::printf(
        "uploaded image %s (%s, %s) to store %s via %s\n", shown(a.at("id")).c_str(),
        shown(a.value("name", nlohmann::json())).c_str(),
        human_bytes(a.at("size").is_number_unsigned() ? a.at("size").get<uint64_t>() : 0).c_str(),
        shown(u.at("store")).c_str(), shown(u.at("url")).c_str());
    std::printf("sha256 %s\n", shown(a.value("os_hash_value", nlohmann::json())).c_str());
  });
  return Status::Ok();
}

}  // namespace

Command image_upload_command() {
  Command c;
  c.words = "image upload";
  c.usage =
      "FILE --name NAME [--backend ID] [--resume] "
      "[--url URL [--connections N] [--token-file FILE] [--insecure]]";
  c.summary =
      "Upload a raw or qcow2 image file (told apart by content; qcow2 is stored as raw) as "
      "image-<uuid>. Its protected snapshot 'snap', which volumes clone, is made by the first "
      "volume created from it: a snapshot costs a monitor commit that an image never cloned does "
      "not need. With --url, through rbdvold's image API instead of the plugin (no config "
      "needed): a raw file only, sent as a parallel ranged transfer, the chunks holding data "
      "over N connections and the others declared holes; the token comes from --token-file or "
      "$OS_AUTH_TOKEN.";
  c.options = {
      {"name", true, "the image's name (required)", "NAME"},
      {"backend", true,
       "the backend to upload into (default: the default backend); with --url, the store", "ID"},
      {"resume", false,
       "continue the partial upload of this same file that an interrupted run left in the "
       "backend, if there is one (chunks already confirmed are not sent again); with --url, the "
       "transfer of the one image named NAME that is saving",
       ""},
      {"url", true,
       "upload through rbdvold's image API at URL (http://HOST:PORT, also with /v2; https "
       "checks the certificate against the system's CAs)",
       "URL"},
      {"connections", true, "with --url: connections sending ranges at once, 1 to 32 (default 4)",
       "N"},
      {"token-file", true,
       "with --url: the file holding the X-Auth-Token (default: $OS_AUTH_TOKEN; none: no token)",
       "FILE"},
      {"insecure", false, "with an https --url: do not check the server's certificate", ""}};
  c.min_positional = c.max_positional = 1;
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    if (!args.has("name")) return usage_error("--name is required");
    if (args.has("url")) return upload_over_http(ctx, args);
    for (const char* only_http : {"connections", "token-file", "insecure"}) {
      if (args.has(only_http)) return usage_error(std::string("--") + only_http + " needs --url");
    }
    nlohmann::json request = {{"path", args.positional()[0]}, {"name", args.get("name")}};
    if (args.has("backend")) request["backend"] = args.get("backend");
    if (args.has("resume")) request["resume"] = true;
    StagedProgress display([&](const std::string& stage) -> std::string {
      if (stage == "convert") return "convert " + args.positional()[0] + " to raw";
      return stage + " " + args.positional()[0];
    });
    auto answer =
        ctx.call("image.upload", request, [&](const char* stage, uint64_t done, uint64_t total) {
          display.update(stage, done, total);
        });
    if (!answer.ok()) return answer.status();
    print_answer(ctx, *answer, [](const nlohmann::json& a) {
      std::printf("uploaded image %s (%s, %s, from %s) to backend %s as %s/%s\n",
                  shown(a.at("id")).c_str(), shown(a.at("name")).c_str(),
                  human_bytes(a.at("size")).c_str(), shown(a.at("format")).c_str(),
                  shown(a.at("backend")).c_str(), shown(a.at("pool")).c_str(),
                  shown(a.at("image")).c_str());
      std::printf("checksum %s\n", printable(a.value("checksum", std::string())).c_str());
    });
    return Status::Ok();
  };
  return c;
}

}  // namespace rbdvol::cli
