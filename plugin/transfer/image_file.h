// What image.upload and image.checksum need to know about a local image
// file: its format (from its content, never its name) and a raw view of it.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
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

// An open file descriptor, closed when this object goes.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor();
  int get() const { return fd_; }

 private:
  int fd_;
};

// A local image file opened for its raw bytes: the file itself when it is
// raw, else (qcow2) a raw conversion of it in a temporary file, removed when
// this object goes.
struct RawImageFile {
  std::string path;   // as given
  struct stat st {};  // of the file as given
  uint64_t file_size = 0;
  std::string format;  // "raw" or "qcow2", from the content
  uint64_t size = 0;   // of the raw bytes
  std::string label;   // for messages: `path`, or the conversion's "(raw of <path>)"
  int fd() const { return raw_ ? raw_->get() : file_->get(); }

  // Opens `path`: EINVAL when it is not a regular file or is empty (or its
  // qcow2 image has a virtual size of 0). `on_convert` is called before a
  // qcow2 file is converted.
  static Result<std::unique_ptr<RawImageFile>> open(const std::string& path,
                                                    const std::function<void()>& on_convert);

 private:
  std::unique_ptr<FileDescriptor> file_;
  std::optional<ConvertedRawFile> converted_;
  std::unique_ptr<FileDescriptor> raw_;
};

}  // namespace rbdvol::plugin
