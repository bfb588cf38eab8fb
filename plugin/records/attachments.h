// Attachment records of a volume: a JSON array kept in the volume's image
// metadata (key rbdvol.attachments). Updates are a compare-and-swap on the
// RBD header object (read the value and the object version, write only if
// the version is unchanged), so two hosts racing to attach the same volume
// cannot both win, and no lock is left behind by a crashed process.
#pragma once

#include <functional>

#include "plugin/ceph/env.h"
#include "plugin/driver.h"

namespace rbdvol::plugin {

// The records: [{"domain", "state" (attaching|attached), "target_dev", "since"}].
Result<Json> read_attachments(Pool& io, RbdImage& image);

// Reads the records, lets `change` edit them, and writes them back only if
// nobody changed the header in between; retries on a race (up to a few
// seconds). `change` may refuse by returning an error, which is returned as
// is. Returns the records as written.
Result<Json> update_attachments(Pool& io, RbdImage& image,
                                const std::function<Status(Json& records)>& change);

}  // namespace rbdvol::plugin
