#include "plugin/transfer/sha256.h"

#include <algorithm>
#include <new>

namespace rbdvol::plugin {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) throw std::bad_alloc();
}

void Sha256::update(const void* data, size_t len) { EVP_DigestUpdate(ctx_.get(), data, len); }

void Sha256::update_zeros(uint64_t n) {
  static const unsigned char zeros[65536] = {0};
  while (n > 0) {
    const size_t step = static_cast<size_t>(std::min<uint64_t>(n, sizeof(zeros)));
    update(zeros, step);
    n -= step;
  }
}

Sha256::Digest Sha256::finish() {
  Digest out{};
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx_.get(), out.data(), &n);
  return out;
}

}  // namespace rbdvol::plugin
