// rbdvold: the volume and image service. Loads librbdvol_rbd.so through the
// C ABI (host/plugin_host.h), serves the Cinder block-storage v3 API and the
// Glance image v2 API over Boost.Beast, in the foreground, until SIGTERM.
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "config/config.h"
#include "host/plugin_host.h"
#include "service/auth.h"
#include "service/cinder/cinder_api.h"
#include "service/cinder/volume_service.h"
#include "service/glance/glance_api.h"
#include "service/glance/image_service.h"
#include "service/http_server.h"

namespace {

const char kUsage[] =
    "usage: rbdvold --config FILE [--listen HOST:PORT] [--image-listen HOST:PORT|off]\n"
    "               [--auth-strategy noauth|token] [--token-file FILE] [--workers N]\n"
    "               [--plugin PATH]\n"
    "Serves the Cinder block storage v3 API (--listen, default 127.0.0.1:8776) and\n"
    "the Glance image v2 API (--image-listen, default 127.0.0.1:9292) for the\n"
    "backends of FILE, in the foreground, until SIGTERM or SIGINT. The [service]\n"
    "section of FILE sets the defaults (docs/config.md); the options override it.\n";

int fail(const std::string& message) {
  std::fprintf(stderr, "rbdvold: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace rbdvol;
  std::string config_path, listen, image_listen, strategy, token_file, plugin_path, workers;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    bool ok = true;
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--config") {
      ok = value(&config_path);
    } else if (arg == "--listen") {
      ok = value(&listen);
    } else if (arg == "--image-listen") {
      ok = value(&image_listen);
    } else if (arg == "--auth-strategy") {
      ok = value(&strategy);
    } else if (arg == "--token-file") {
      ok = value(&token_file);
    } else if (arg == "--workers") {
      ok = value(&workers);
    } else if (arg == "--plugin") {
      ok = value(&plugin_path);
    } else {
      std::fputs(kUsage, stderr);
      return fail("unknown argument '" + arg + "'");
    }
    if (!ok) return fail(arg + " needs a value");
  }
  if (config_path.empty()) {
    std::fputs(kUsage, stderr);
    return fail("--config FILE is required");
  }
  auto config = config::load_config_file(config_path);
  if (!config.ok()) return fail(config.status().message());
  config::Service& settings = config->service;
  if (!listen.empty()) settings.listen = listen;
  if (!image_listen.empty()) settings.image_listen = image_listen;
  if (settings.image_listen == settings.listen) {
    return fail("the image API's address must differ from the volume API's (" + settings.listen +
                ")");
  }
  if (!strategy.empty()) settings.auth_strategy = strategy;
  if (!token_file.empty()) settings.token_file = token_file;
  if (!workers.empty()) {
    try {
      settings.workers = std::stoi(workers);
    } catch (const std::exception&) {
      settings.workers = 0;
    }
    if (settings.workers <= 0 || settings.workers > 1024) {
      return fail("--workers must be from 1 to 1024, got '" + workers + "'");
    }
  }
  if (settings.auth_strategy != "noauth" && settings.auth_strategy != "token") {
    return fail("--auth-strategy must be noauth or token, got '" + settings.auth_strategy + "'");
  }
  if (settings.auth_strategy == "token" && settings.token_file.empty()) {
    return fail("auth strategy token needs a token file (token_file or --token-file)");
  }

  // A client that goes away mid-answer must not kill the process.
  signal(SIGPIPE, SIG_IGN);
  auto plugin = host::PluginHost::load(host::find_plugin(plugin_path));
  if (!plugin.ok()) return fail(plugin.status().message());
  Status opened = (*plugin)->open(config_path);
  if (!opened.ok()) return fail(opened.message());

  service::cinder::VolumeService volumes(**plugin, *config, 4);
  service::glance::ImageService images(**plugin, *config, volumes.instance(), 2);
  if (settings.image_listen != "off") volumes.set_images(&images);
  std::optional<service::Authenticator> auth;
  std::unique_ptr<service::cinder::CinderApi> api;
  std::unique_ptr<service::glance::GlanceApi> image_api;
  std::vector<service::Listener> listeners(1);
  listeners[0].listen = settings.listen;
  listeners[0].handler = [&api](service::ApiRequest& request) { return api->handle(request); };
  const bool serve_images = settings.image_listen != "off";
  if (serve_images) {
    service::Listener l;
    l.listen = settings.image_listen;
    l.handler = [&image_api](service::ApiRequest& request) { return image_api->handle(request); };
    l.streams = service::glance::GlanceApi::streams;
    l.stream_limit = settings.image_size_cap;
    listeners.push_back(std::move(l));
  }
  auto server = service::HttpServer::make(settings, std::move(listeners));
  if (!server.ok()) return fail(server.status().message());
  auto made = service::Authenticator::make(settings, (*server)->loopback());
  if (!made.ok()) return fail(made.status().message());
  auth.emplace(std::move(made).value());
  api = std::make_unique<service::cinder::CinderApi>(volumes, *auth);
  image_api = std::make_unique<service::glance::GlanceApi>(images, *auth);

  service::log_line(
      "serving the Cinder v3 API on " + std::string((*server)->tls() ? "https" : "http") + "://" +
      settings.listen.substr(0, settings.listen.rfind(':')) + ":" +
      std::to_string((*server)->port()) + "/v3 (auth " + settings.auth_strategy + ", plugin " +
      (*plugin)->path() + ", " + std::to_string(settings.workers) + " workers)");
  if (serve_images) {
    service::log_line("serving the Glance v2 image API on " +
                      std::string((*server)->tls() ? "https" : "http") + "://" +
                      settings.image_listen.substr(0, settings.image_listen.rfind(':')) + ":" +
                      std::to_string((*server)->port(1)) + "/v2");
  }
  volumes.start_housekeeping();
  images.start_housekeeping();
  size_t left = (*server)->run([&volumes, &images] { return volumes.busy() + images.busy(); });
  if (left > 0) {
    service::log_line("shutdown grace over with " + std::to_string(left) +
                      " requests or jobs still running; exiting without waiting for them");
    std::fflush(stderr);
    std::_Exit(0);
  }
  service::log_line("stopped");
  server->reset();
  return 0;
}
