// Ceph keyring files ("[client.admin]\n\tkey = AQ..."): whether one can be
// used, and the key of one entity in it. Knows nothing of librados.
#pragma once

#include <string>

#include "status/status.h"

namespace rbdvol::config {

// Checks that `path` names a keyring that can be read: ENOENT when nothing
// is there, EISDIR for a directory, EINVAL for anything else that is not a
// regular file, EACCES when it cannot be read. The message names the path
// and says what is wrong ("keyring /x/k does not exist"), never its content.
Status check_keyring_file(const std::string& path);

// The key of `entity` ("client.admin") in the keyring at `path`, trimmed.
// ENOENT when the entity has no key there; the errno of the file when it
// cannot be read (check_keyring_file's errors). Errors never hold a key.
Result<std::string> key_in_keyring(const std::string& path, const std::string& entity);

}  // namespace rbdvol::config
