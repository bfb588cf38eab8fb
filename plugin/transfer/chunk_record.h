// The chunk record of an image that the copy engine wrote: for every chunk
// its index, offset, length and SHA-256 (or that it is all zeros), kept with
// the image in its pool as the omap of the RADOS object
// rbdvol_chunks.<image name>. It is written as chunks are confirmed (their
// data flushed to the image), in batches, so a transfer that was killed half
// way can resume from what is recorded, and `image.verify` can check a copy.
//
// Not in the image's metadata: librbd copies metadata into every clone, and
// a record of a large image has thousands of keys.
//
// Omap keys: "header" (JSON, ChunkRecordHeader) and "c.<16 hex digits of the
// chunk index>" (JSON, ChunkDigest), so keys sort by index. A run of chunks
// that are holes of the source is one "c." key with "chunks" > 1.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "plugin/ceph/env.h"
#include "status/status.h"

namespace rbdvol::plugin {

struct ChunkDigest {
  uint64_t index = 0;   // first chunk
  uint64_t chunks = 1;  // > 1 only for a run of zero chunks
  uint64_t offset = 0;  // bytes
  uint64_t length = 0;  // bytes covered (the last chunk of an image may be short)
  bool zero = false;    // all zeros: a hole of the source, or read as zeros
  std::array<unsigned char, 32> sha256{};  // of the chunk's bytes; unset when zero
};

// The entry of chunk `index` of `size` bytes in chunks of `chunk_size` when
// it is all zeros (a hole).
ChunkDigest zero_chunk(uint64_t index, uint64_t chunk_size, uint64_t size);

// "sha256 hex" of a digest.
std::string hex_of(const std::array<unsigned char, 32>& digest);

// The source in the record of a streamed transfer (image_transfer.h).
inline const std::string kTransferSource = "transfer";

struct ChunkRecordHeader {
  uint64_t size = 0;        // the image's size
  uint64_t chunk_size = 0;  // bytes per chunk
  std::string source;       // what was copied: "fast:images/image-...@snap", a file path
  std::string state;        // "incomplete" while the transfer runs, then "complete"
  std::string owner;        // "<hostname>:<pid>" of the process transferring
  // The librados client of that process that writes the image and so holds
  // its exclusive lock ("client.<instance id>", Pool::client_name): what tells a
  // lock left by the transfer's process from one held by anyone else.
  std::string client;
  // The clients of earlier runs that wrote the image and were found gone: a
  // run that takes the record over (claim_chunk_record) appends the `client`
  // it replaces, oldest first, at most kMaxPreviousClients (the newest).
  // With `client`, the only holders of the image's lock that a take-over may
  // break (break_dead_writer_lock): any other holder is a live writer that
  // took the image over meanwhile.
  std::vector<std::string> previous_clients;
  std::string started_at, completed_at;
  // Only a streamed transfer's (transfer/image_transfer.h): the image's size
  // as its begin declared it; 0 when not declared (`size` then is the image's
  // size so far, grown as writes go past it).
  uint64_t transfer_size = 0;
  uint64_t chunks() const { return chunk_size ? (size + chunk_size - 1) / chunk_size : 0; }
};

inline constexpr size_t kMaxPreviousClients = 16;

// The clients the record names as writers of its image: `client` and
// previous_clients. Once this process claimed the record, `client` is its
// own, which break_dead_writer_lock never breaks.
std::vector<std::string> recorded_writer_clients(const ChunkRecordHeader& header);

// "rbdvol_chunks.<rbd_name>".
std::string chunk_record_object(const std::string& rbd_name);

// The header, or nullopt when the image has no record. `version`, when
// given, gets the record object's RADOS version, which every write to the
// record changes.
Result<std::optional<ChunkRecordHeader>> read_chunk_record_header(Pool& io,
                                                                  const std::string& rbd_name,
                                                                  uint64_t* version = nullptr);

// Writes the header; with `exclusive`, creates the object and fails with
// EEXIST when it exists.
Status write_chunk_record_header(Pool& io, const std::string& rbd_name,
                                 const ChunkRecordHeader& header, bool exclusive);

// A watch on the RADOS object of a chunk record, held by a run that claimed
// the record (claim_chunk_record) until it is done with the image: it says
// to processes on other hosts that the record's new owner runs before the
// owner holds the image's lock (owner_is_running). Unwatches when destroyed;
// a process that dies loses it when the OSDs time its watch out
// (osd_client_watch_timeout, 30 s) or its client is blocklisted.
class RecordWatch {
 public:
  explicit RecordWatch(std::unique_ptr<Pool::Watch> watch) : watch_(std::move(watch)) {}
  ~RecordWatch();
  RecordWatch(const RecordWatch&) = delete;
  RecordWatch& operator=(const RecordWatch&) = delete;

 private:
  std::unique_ptr<Pool::Watch> watch_;
};

// Makes this process the owner of the record of a partial copy or upload
// whose owner is gone, in one RADOS write that succeeds only while the record
// object is still at `version` (read when the owner was found gone): of two
// processes resuming the same partial image at once, one gets it, the other
// EBUSY, before either breaks a lock or writes a byte. `header` gets the new
// owner and io.client_name() as its client; the client it replaces is
// appended to its previous_clients. The record is watched first; the watch
// is returned for the caller to keep until it holds the image's lock or is
// done with it (RecordWatch).
Result<std::unique_ptr<RecordWatch>> claim_chunk_record(Pool& io, const std::string& rbd_name,
                                                        ChunkRecordHeader& header,
                                                        uint64_t version);

// Adds chunk entries in one RADOS write (the caller batches).
Status record_chunk_digests(Pool& io, const std::string& rbd_name,
                            const std::vector<ChunkDigest>& digests);

// Every recorded chunk, one entry per chunk index up to `header.chunks()`:
// nullopt for a chunk with no entry (not yet confirmed). Runs are expanded,
// so memory is about 80 bytes per chunk (20 KiB per GiB at 4 MiB chunks).
// With `stored_lengths`, each entry's length is the one recorded (a streamed
// transfer records a short chunk before the image's size is known), not the
// one header.size gives it.
Result<std::vector<std::optional<ChunkDigest>>> read_chunk_digests(Pool& io,
                                                                   const std::string& rbd_name,
                                                                   const ChunkRecordHeader& header,
                                                                   bool stored_lengths = false);

// The checksum rbdvol records for an image (rbdvol.checksum) from its chunk
// digests, one per chunk index up to the image's last (as read_chunk_digests
// gives them): "sha256-chunks-<chunk_size>:<64 hex digits>", the SHA-256 of
// the chunks' SHA-256 digests (32 bytes each) in index order, where a chunk
// of zeros counts with the SHA-256 of its zeros. It costs no second pass
// over the data and nothing for holes, unlike a SHA-256 of the whole image
// (`rbdvol image checksum FILE` computes it for a local file). EIO naming
// the first chunk without a digest when one has none.
Result<std::string> chunk_list_checksum(uint64_t size, uint64_t chunk_size,
                                        const std::vector<std::optional<ChunkDigest>>& digests);

// chunk_list_checksum of the record of `rbd_name` (read_chunk_digests).
Result<std::string> recorded_checksum(Pool& io, const std::string& rbd_name,
                                      const ChunkRecordHeader& header);

// Removes the record; ENOENT counts as success.
Status remove_chunk_record(Pool& io, const std::string& rbd_name);

// Starts the record of a transfer into the new image `rbd_name`: a header in
// state "incomplete" owned by this process. EEXIST when a record exists.
Result<ChunkRecordHeader> start_chunk_record(Pool& io, const std::string& rbd_name, uint64_t size,
                                             uint64_t chunk_size, const std::string& source);
// Marks the record "complete".
Status complete_chunk_record(Pool& io, const std::string& rbd_name, ChunkRecordHeader header);

// "<hostname>:<pid>" of this process.
std::string this_process_owner();

// Whether `owner` (a record's) names a process of this host.
bool owner_is_on_this_host(const std::string& owner);

// Whether the process `owner` (a record's) still writes the image `rbd_name`
// in `io`'s pool, and if so `how` that is known (for messages). A process on
// this host is looked up by its pid. One on another host cannot be: it counts
// as running while the image has a live writer (live_writer: the holder of
// its exclusive lock, still watching it) or a client watches the image's
// chunk record (RecordWatch). A copy takes that lock before it names itself
// in the record and keeps it until it closes the image; a run resuming one
// watches the record and names itself first (claim_chunk_record), then takes
// the lock.
Result<bool> owner_is_running(Pool& io, const std::string& rbd_name, const std::string& owner,
                              std::string* how = nullptr);

}  // namespace rbdvol::plugin
