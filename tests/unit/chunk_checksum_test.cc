// chunk_list_checksum: the checksum an upload records, from chunk digests.
// The expected values are computed here with OpenSSL's one-shot SHA256, not
// with the plugin's code.
#include <openssl/sha.h>

#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

#include "plugin/transfer/chunk_record.h"

namespace rbdvol::plugin {
namespace {

std::array<unsigned char, 32> sha256(const std::string& bytes) {
  std::array<unsigned char, 32> out{};
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), out.data());
  return out;
}

std::string hex(const std::array<unsigned char, 32>& d) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : d) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

std::string random_bytes(size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen());
  return s;
}

ChunkDigest data_chunk(uint64_t index, uint64_t chunk, const std::string& bytes) {
  ChunkDigest d;
  d.index = index;
  d.offset = index * chunk;
  d.length = bytes.size();
  d.sha256 = sha256(bytes);
  return d;
}

// An image of 4 chunks of 4096 bytes, the last one 100 bytes: data, zeros,
// data, data.
constexpr uint64_t kChunk = 4096;
constexpr uint64_t kSize = 3 * kChunk + 100;

}  // namespace

TEST_CASE("the checksum is the SHA-256 of the chunks' SHA-256s, zeros counted as zeros",
          "[checksum]") {
  const std::string c0 = random_bytes(kChunk, 1), c2 = random_bytes(kChunk, 2),
                    c3 = random_bytes(100, 3);
  const std::string zeros(kChunk, '\0');
  const auto list = [](const std::vector<std::string>& chunks) {
    std::string joined;
    for (const auto& c : chunks) {
      const auto d = sha256(c);
      joined.append(reinterpret_cast<const char*>(d.data()), d.size());
    }
    return "sha256-chunks-4096:" + hex(sha256(joined));
  };
  const std::string expected = list({c0, zeros, c2, c3});

  // Chunk 1 as a hole (marked zero, no digest) ...
  std::vector<std::optional<ChunkDigest>> holes = {
      data_chunk(0, kChunk, c0), zero_chunk(1, kChunk, kSize), data_chunk(2, kChunk, c2),
      data_chunk(3, kChunk, c3)};
  auto sum = chunk_list_checksum(kSize, kChunk, holes);
  REQUIRE(sum.ok());
  CHECK(*sum == expected);

  // ... and as zeros written out and hashed give the same checksum.
  std::vector<std::optional<ChunkDigest>> written = holes;
  written[1] = data_chunk(1, kChunk, zeros);
  auto same = chunk_list_checksum(kSize, kChunk, written);
  REQUIRE(same.ok());
  CHECK(*same == expected);

  // A short last chunk of zeros counts with the digest of its 100 zeros.
  std::vector<std::optional<ChunkDigest>> tail_hole = holes;
  tail_hole[3] = zero_chunk(3, kChunk, kSize);
  auto tail = chunk_list_checksum(kSize, kChunk, tail_hole);
  REQUIRE(tail.ok());
  CHECK(*tail == list({c0, zeros, c2, std::string(100, '\0')}));

  // Any changed chunk changes it.
  std::vector<std::optional<ChunkDigest>> changed = holes;
  std::string c2b = c2;
  c2b[17] ^= 1;
  changed[2] = data_chunk(2, kChunk, c2b);
  auto other = chunk_list_checksum(kSize, kChunk, changed);
  REQUIRE(other.ok());
  CHECK(*other != expected);
}

TEST_CASE("a checksum needs a digest for every chunk", "[checksum]") {
  std::vector<std::optional<ChunkDigest>> digests = {zero_chunk(0, kChunk, kSize), std::nullopt,
                                                     zero_chunk(2, kChunk, kSize),
                                                     zero_chunk(3, kChunk, kSize)};
  auto missing = chunk_list_checksum(kSize, kChunk, digests);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().err() == EIO);
  CHECK(missing.status().message() == "chunk 1 has no digest");

  digests.pop_back();
  auto short_list = chunk_list_checksum(kSize, kChunk, digests);
  REQUIRE_FALSE(short_list.ok());
  CHECK(short_list.status().message() == "3 chunk digests for 4 chunks of 4096 bytes");

  auto no_chunk = chunk_list_checksum(kSize, 0, digests);
  CHECK_FALSE(no_chunk.ok());
}

}  // namespace rbdvol::plugin
