// SHA-256 with OpenSSL (SHA-NI where the CPU has it), fed in pieces.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

#include <openssl/evp.h>

namespace rbdvol::plugin {

class Sha256 {
 public:
  using Digest = std::array<unsigned char, 32>;

  Sha256();
  void update(const void* data, size_t len);
  // Feeds `n` zero bytes.
  void update_zeros(uint64_t n);
  Digest finish();

 private:
  struct CtxDeleter {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, CtxDeleter> ctx_;
};

}  // namespace rbdvol::plugin
