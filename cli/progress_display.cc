#include "cli/progress_display.h"

#include <unistd.h>

#include <cstdio>

#include "cli/command.h"

namespace rbdvol::cli {

ProgressDisplay::ProgressDisplay(std::string what)
    : what_(std::move(what)),
      tty_(isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

ProgressDisplay::~ProgressDisplay() {
  if (shown_ && tty_) std::fprintf(stderr, "\n");
}

void ProgressDisplay::update(uint64_t done, uint64_t total) {
  done_ = done;
  total_ = total;
  // The rate counts bytes moved by this run: a resumed transfer starts with
  // what an earlier run did already.
  if (!based_) {
    based_ = true;
    base_ = done;
  }
  const auto now = std::chrono::steady_clock::now();
  const bool finished = total > 0 && done >= total;
  const auto interval = tty_ ? std::chrono::milliseconds(200) : std::chrono::milliseconds(5000);
  // The first update of a stage is shown at once, so that a log tells when
  // each stage began (and a test can see that a wait has started).
  if (!finished && shown_ && now - last_ < interval) return;
  last_ = now;
  const double secs = std::chrono::duration<double>(now - start_).count();
  const double rate = secs > 0 && done > base_ ? static_cast<double>(done - base_) / secs : 0;
  const double left = rate > 0 && total > done ? static_cast<double>(total - done) / rate : 0;
  const int pct =
      total ? static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(total)) : 0;
  if (tty_) {
    const int width = 30, filled = pct * width / 100;
    std::string bar = std::string(filled, '#') + std::string(width - filled, '.');
    std::fprintf(stderr, "\r%s [%s] %3d%% %s / %s  %s/s  %.0fs left   ", printable(what_).c_str(),
                 bar.c_str(), pct, human_bytes(done).c_str(), human_bytes(total).c_str(),
                 human_bytes(static_cast<uint64_t>(rate)).c_str(), left);
  } else {
    std::fprintf(stderr, "%s: %d%% %s of %s, %s/s, %.0fs left\n", printable(what_).c_str(), pct,
                 human_bytes(done).c_str(), human_bytes(total).c_str(),
                 human_bytes(static_cast<uint64_t>(rate)).c_str(), left);
  }
  shown_ = true;
}

StagedProgress::StagedProgress(std::function<std::string(const std::string&)> label)
    : label_(std::move(label)) {}

void StagedProgress::update(const char* stage, uint64_t done, uint64_t total) {
  if (!display_ || stage_ != stage) {
    display_.reset();  // ends the previous stage's line
    stage_ = stage;
    display_ = std::make_unique<ProgressDisplay>(label_(stage_));
  }
  display_->update(done, total);
}

}  // namespace rbdvol::cli
