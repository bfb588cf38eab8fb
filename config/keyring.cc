#include "config/keyring.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace rbdvol::config {
namespace {

std::string trimmed(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

}  // namespace

Status check_keyring_file(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT) return Status::Error(err, "keyring " + path + " does not exist");
    return Status::Error(err, "keyring " + path + ": " + std::strerror(err));
  }
  if (S_ISDIR(st.st_mode)) {
    return Status::Error(EISDIR, "keyring " + path + " is a directory, not a keyring file");
  }
  if (!S_ISREG(st.st_mode)) {
    return Status::Invalid("keyring " + path + " is not a regular file");
  }
  if (access(path.c_str(), R_OK) != 0) {
    const int err = errno;
    return Status::Error(err, "keyring " + path + " cannot be read: " + std::strerror(err));
  }
  return Status::Ok();
}

Result<std::string> key_in_keyring(const std::string& path, const std::string& entity) {
  RETURN_IF_ERROR(check_keyring_file(path));
  std::ifstream in(path);
  if (!in) return Status::Error(EIO, "keyring " + path + " cannot be opened");
  std::string line;
  bool in_section = false;
  while (std::getline(in, line)) {
    const std::string t = trimmed(line);
    if (!t.empty() && t.front() == '[') {
      in_section = t == "[" + entity + "]";
      continue;
    }
    if (!in_section) continue;
    const auto eq = t.find('=');
    if (eq != std::string::npos && trimmed(t.substr(0, eq)) == "key") {
      return trimmed(t.substr(eq + 1));
    }
  }
  return Status::NotFound("keyring " + path + " has no key for " + entity);
}

}  // namespace rbdvol::config
