#include "service/auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <sstream>

namespace rbdvol::service {
namespace {

std::string sha256(const std::string& text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

}  // namespace

Result<Authenticator> Authenticator::make(const config::Service& service, bool listen_is_loopback) {
  Authenticator auth;
  auth.strategy_ = service.auth_strategy;
  if (service.auth_strategy == "noauth") {
    if (!listen_is_loopback) {
      return Status::Invalid("auth_strategy noauth is allowed on a loopback address only, not on " +
                             service.listen + "; use auth_strategy = token");
    }
    return auth;
  }
  struct stat st {};
  if (stat(service.token_file.c_str(), &st) != 0) {
    int err = errno;
    return Status::Error(
        err, "cannot read token_file " + service.token_file + ": " + std::strerror(err));
  }
  if ((st.st_mode & (S_IRWXO | S_IWGRP)) != 0) {
    return Status::Error(
        EACCES, "token_file " + service.token_file + " may be read or written by others (mode " +
                    [&] {
                      std::ostringstream o;
                      o << std::oct << (st.st_mode & 07777);
                      return o.str();
                    }() +
                    "); chmod 600 or 640 it");
  }
  std::ifstream in(service.token_file);
  if (!in) {
    return Status::Error(EACCES, "cannot read token_file " + service.token_file);
  }
  std::string line;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    auth.token_digests_.push_back(sha256(line));
  }
  if (auth.token_digests_.empty()) {
    return Status::Invalid("token_file " + service.token_file + " holds no token");
  }
  return auth;
}

bool Authenticator::allows(const ApiRequest& request) const {
  if (strategy_ == "noauth") return true;
  auto it = request.headers.find("x-auth-token");
  if (it == request.headers.end() || it->second.empty()) return false;
  const std::string given = sha256(it->second);
  int matched = 0;
  for (const auto& digest : token_digests_) {
    matched |= CRYPTO_memcmp(given.data(), digest.data(), digest.size()) == 0 ? 1 : 0;
  }
  return matched != 0;
}

}  // namespace rbdvol::service
