// Progress of a long operation on stderr: a bar with bytes, rate and time
// left on a terminal; a plain line every few seconds otherwise.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace rbdvol::cli {

class ProgressDisplay {
 public:
  explicit ProgressDisplay(std::string what);
  ~ProgressDisplay();
  void update(uint64_t done, uint64_t total);

 private:
  std::string what_;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_;
  uint64_t done_ = 0, total_ = 0;
  bool shown_ = false;
  bool based_ = false;
  uint64_t base_ = 0;  // `done` of the first update
};

}  // namespace rbdvol::cli
