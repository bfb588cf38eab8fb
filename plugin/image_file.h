// What image.upload needs to know about a local file before copying it:
// its format (from its content, never its name), a raw view of it, and the
// SHA-256 of that raw content.
#pragma once

#include <cstdint>
#include <string>

#include "status/status.h"

namespace rbdvol::plugin {

// "qcow2" when the file starts with the qcow2 magic "QFI\xfb", else "raw".
Result<std::string> detect_image_format(int fd, const std::string& path);

// A raw file made from a qcow2 one by `qemu-img convert -O raw` (sparse: the
// holes of the qcow2 image stay holes), removed when this object goes.
class ConvertedRawFile {
 public:
  ConvertedRawFile() = default;
  ConvertedRawFile(ConvertedRawFile&& other) noexcept;
  ConvertedRawFile& operator=(ConvertedRawFile&&) = delete;
  ~ConvertedRawFile();
  const std::string& path() const { return path_; }

  // Converts `qcow2_path` into a new file in $TMPDIR (else /var/tmp). The
  // error keeps qemu-img's own message; EINVAL when it is not valid qcow2.
  static Result<ConvertedRawFile> convert(const std::string& qcow2_path);

 private:
  std::string path_;
};

// "sha256:<64 hex digits>" of the first `size` bytes of `fd`, read with
// pread (the file offset is not used, so other readers may share `fd`).
Result<std::string> sha256_of_file(int fd, const std::string& path, uint64_t size);

}  // namespace rbdvol::plugin
