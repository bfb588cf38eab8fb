// `rbdvol image upload FILE --url URL`: a raw file uploaded to rbdvold's image
// API as a parallel ranged transfer (docs/rest-api.md, "Parallel ranged
// uploads"): only the chunks holding data are sent, over several keep-alive
// connections, the others are declared holes, and a resumed upload sends only
// what the transfer does not show confirmed. Needs no rbdvol config and no
// plugin.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/http_client.h"
#include "status/status.h"

namespace rbdvol::cli {

struct RangedUploadOptions {
  std::string path;   // the raw file (a qcow2 is refused, EINVAL)
  std::string url;    // the image API's base (parse_http_url)
  std::string name;   // the image's name
  std::string store;  // the store (backend) to upload into; empty: the server's default
  HttpOptions http;
  unsigned connections = 4;  // 1..32
  // Continue the transfer of the one image named `name` that is `saving`
  // (ENOENT when there is none, EEXIST when there are several), instead of
  // creating an image.
  bool resume = false;
};

// Bytes of the file confirmed by the transfer (holes once declared), of its
// size. Called from the connections' threads, one call at a time.
using UploadProgress = std::function<void(uint64_t done, uint64_t total)>;

// Uploads and finishes the transfer. The image as the API answers the finish
// (`active`, with `os_hash_value`), with "upload": {"url", "store",
// "connections", "chunk_size", "bytes_sent", "bytes_zeroed",
// "bytes_confirmed_before", "requests", "retries"} added. A piece whose
// connection fails or that is answered 5xx or 409 is sent again on a new
// connection, only what the transfer lacks of it; after a few tries, the
// error, which tells to rerun with --resume.
Result<nlohmann::json> ranged_upload(const RangedUploadOptions& options,
                                     const UploadProgress& progress);

// The token of a token file: its first line that is neither blank nor a
// '#' comment, without surrounding blanks. ENOENT/EACCES when it cannot be
// read, EINVAL when it holds no token or one with a space or control
// character.
Result<std::string> read_token_file(const std::string& path);

// EINVAL when `token` (from $OS_AUTH_TOKEN or a file) holds a space or a
// control character, which could not be sent in a header.
Status check_token(const std::string& token);

}  // namespace rbdvol::cli
