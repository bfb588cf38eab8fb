// The service journal: what a volume service (rbdvold) must keep between
// requests and across instances, in the manner of ceph-csi's omap journal.
// One RADOS object per backend, `rbdvol_service_journal` in its volume pool,
// omap only: key = an id the host chooses (a volume uuid), value = a text
// the host defines (JSON). Every change is a compare-and-swap on the
// object's version, as the attachment records are (attachments.h), so two
// hosts never both win, and a crashed one leaves no lock behind.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "plugin/ceph/env.h"
#include "status/status.h"

namespace rbdvol::plugin {

inline const std::string kJournalObject = "rbdvol_service_journal";
// The same, for an image service's records (Glance's images): its own
// object, so that image and volume changes do not contend for one version.
inline const std::string kImageJournalObject = "rbdvol_image_journal";

// The value of `key`; nullopt when neither it nor the object exists.
Result<std::optional<std::string>> journal_get(Pool& io, const std::string& key,
                                               const std::string& object = kJournalObject);

// Every key and value.
Result<std::map<std::string, std::string>> journal_list(Pool& io,
                                                        const std::string& object = kJournalObject);

// Reads `key`'s value (nullopt: absent), lets `change` alter it (nullopt:
// remove the key), and writes it only if the object did not change in
// between; otherwise reads and tries again, for up to 10 s (then EAGAIN).
// An error from `change` is returned as it is, nothing written. Returns the
// value before the change.
Result<std::optional<std::string>> journal_update(
    Pool& io, const std::string& key,
    const std::function<Status(std::optional<std::string>& value)>& change,
    const std::string& object = kJournalObject);

}  // namespace rbdvol::plugin
