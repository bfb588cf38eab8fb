// scale_fill: fills one backend with blank volumes and small images through
// the plugin (loaded as rbdvol loads it), several calls in flight, for
// bench/scale. The config's disk type must place volumes on BACKEND, where
// the images are uploaded.
//
//   scale_fill PLUGIN CONFIG BACKEND DISK_TYPE VOLUMES IMAGES IN_FLIGHT IMAGE_FILE
//
// Prints how many of each it made and how long it took; exits 1 at the
// first failure, naming it.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "cli/plugin_host.h"

using rbdvol::cli::PluginHost;

int main(int argc, char** argv) {
  if (argc != 9) {
    std::fprintf(stderr,
                 "usage: scale_fill PLUGIN CONFIG BACKEND DISK_TYPE VOLUMES IMAGES IN_FLIGHT "
                 "IMAGE_FILE\n");
    return 2;
  }
  const std::string backend = argv[3], type = argv[4], image_file = argv[8];
  const long volumes = std::atol(argv[5]), images = std::atol(argv[6]);
  const int in_flight = std::atoi(argv[7]);
  auto host = PluginHost::load(argv[1]);
  if (!host.ok()) {
    std::fprintf(stderr, "scale_fill: %s\n", host.status().message().c_str());
    return 1;
  }
  if (auto s = (*host)->open(argv[2]); !s.ok()) {
    std::fprintf(stderr, "scale_fill: %s\n", s.message().c_str());
    return 1;
  }
  PluginHost& plugin = **host;
  std::atomic<long> next{0};
  std::atomic<bool> failed{false};
  const long total = volumes + images;
  auto start = std::chrono::steady_clock::now();
  auto worker = [&] {
    for (long i; !failed && (i = next++) < total;) {
      nlohmann::json request;
      std::string op;
      if (i < volumes) {
        op = "volume.create";
        request = {
            {"disk_type", type}, {"size", "1G"}, {"name", "scale-volume-" + std::to_string(i)}};
      } else {
        op = "image.upload";
        request = {{"path", image_file},
                   {"backend", backend},
                   {"name", "scale-image-" + std::to_string(i - volumes)}};
      }
      auto answer = plugin.call(op, request);
      if (!answer.ok()) {
        if (!failed.exchange(true)) {
          std::fprintf(stderr, "scale_fill: %s #%ld: %s\n", op.c_str(), i,
                       answer.status().message().c_str());
        }
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < in_flight; ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (failed) return 1;
  std::printf("made %ld volumes and %ld images in %.1f s (%d in flight)\n", volumes, images,
              seconds, in_flight);
  return 0;
}
