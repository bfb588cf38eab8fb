// Lowercase hexadecimal of bytes (digests in chunk records, key digests).
#pragma once

#include <cstddef>
#include <string>

namespace rbdvol::text {

// Two lowercase hex digits per byte of [data, data + size).
std::string hex_of(const void* data, size_t size);

}  // namespace rbdvol::text
