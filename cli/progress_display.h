// Progress of a long operation on stderr: a bar with bytes, rate and time
// left on a terminal; a plain line every few seconds otherwise, and one at
// 100%.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
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

// Progress of an operation that reports several stages (a wait, then a copy,
// say): one ProgressDisplay per stage, made when the stage first reports and
// labelled `label(stage)`.
class StagedProgress {
 public:
  explicit StagedProgress(std::function<std::string(const std::string& stage)> label);
  void update(const char* stage, uint64_t done, uint64_t total);

 private:
  std::function<std::string(const std::string&)> label_;
  std::string stage_;
  std::unique_ptr<ProgressDisplay> display_;
};

}  // namespace rbdvol::cli
