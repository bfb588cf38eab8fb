// Sizes for people: "1.0 GiB". One implementation for the command and the
// plugin's messages.
#pragma once

#include <cstdint>
#include <string>

namespace rbdvol::text {

// `bytes` in binary units with one decimal ("512 B", "1.5 KiB", "5.9 GiB",
// up to PiB).
std::string human_bytes(uint64_t bytes);

}  // namespace rbdvol::text
