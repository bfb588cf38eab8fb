#include "plugin/transfer/chunk_record.h"

#include "text/hex.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <list>
#include <map>
#include <memory>

#include <nlohmann/json.hpp>

#include "plugin/ceph/omap_read.h"
#include "plugin/ceph/rbd_image.h"
#include "plugin/records/naming.h"
#include "plugin/transfer/sha256.h"

namespace rbdvol::plugin {

namespace {

using Json = nlohmann::json;

const char kHeaderKey[] = "header";

std::string chunk_key(uint64_t index) {
  char key[32];
  std::snprintf(key, sizeof(key), "c.%016llx", static_cast<unsigned long long>(index));
  return key;
}

bool parse_hex_digest(const std::string& hex, std::array<unsigned char, 32>* out) {
  if (hex.size() != 64) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < 32; ++i) {
    int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return true;
}

std::string where(Pool& io, const std::string& rbd_name) {
  return io.name() + "/" + chunk_record_object(rbd_name);
}

std::string this_host() {
  char host[256] = {0};
  ::gethostname(host, sizeof(host) - 1);
  return host;
}

}  // namespace

ChunkDigest zero_chunk(uint64_t index, uint64_t chunk_size, uint64_t size) {
  ChunkDigest d;
  d.index = index;
  d.offset = index * chunk_size;
  d.length = std::min(chunk_size, size - d.offset);
  d.zero = true;
  return d;
}

std::string hex_of(const std::array<unsigned char, 32>& digest) {
  return text::hex_of(digest.data(), digest.size());
}

std::vector<std::string> recorded_writer_clients(const ChunkRecordHeader& header) {
  std::vector<std::string> clients = header.previous_clients;
  if (!header.client.empty()) clients.push_back(header.client);
  return clients;
}

std::string chunk_record_object(const std::string& rbd_name) { return "rbdvol_chunks." + rbd_name; }

Result<std::optional<ChunkRecordHeader>> read_chunk_record_header(Pool& io,
                                                                  const std::string& rbd_name,
                                                                  uint64_t* version) {
  const std::string oid = chunk_record_object(rbd_name);
  auto page = io.omap_get_keys(oid, {kHeaderKey});
  if (!page.ok() && page.status().err() == ENOENT) return std::optional<ChunkRecordHeader>();
  if (!page.ok()) return page.status();
  if (version) *version = page->version;
  const auto found = page->values.find(kHeaderKey);
  if (found == page->values.end()) return std::optional<ChunkRecordHeader>();
  try {
    const Json j = Json::parse(found->second);
    ChunkRecordHeader h;
    h.size = j.at("size").get<uint64_t>();
    h.chunk_size = j.at("chunk_size").get<uint64_t>();
    h.source = j.value("source", "");
    h.state = j.value("state", "");
    h.owner = j.value("owner", "");
    h.client = j.value("client", "");
    if (j.contains("previous_clients")) {
      h.previous_clients = j.at("previous_clients").get<std::vector<std::string>>();
    }
    h.started_at = j.value("started_at", "");
    h.completed_at = j.value("completed_at", "");
    h.transfer_size = j.value("transfer_size", uint64_t{0});
    if (h.chunk_size == 0) throw std::runtime_error("chunk_size is 0");
    return std::optional<ChunkRecordHeader>(h);
  } catch (const std::exception& e) {
    return Status::Error(EIO, "unreadable header in " + where(io, rbd_name) + ": " + e.what());
  }
}

namespace {

Status write_header(Pool& io, const std::string& rbd_name, const ChunkRecordHeader& header,
                    bool exclusive, const uint64_t* version) {
  Json j = {{"version", 1},
            {"size", header.size},
            {"chunk_size", header.chunk_size},
            {"chunks", header.chunks()},
            {"source", header.source},
            {"state", header.state},
            {"owner", header.owner},
            {"client", header.client},
            {"started_at", header.started_at}};
  if (!header.completed_at.empty()) j["completed_at"] = header.completed_at;
  if (!header.previous_clients.empty()) j["previous_clients"] = header.previous_clients;
  if (header.transfer_size) j["transfer_size"] = header.transfer_size;
  ObjectWrite op;
  op.create_exclusive = exclusive;
  if (version) op.assert_version = *version;
  op.omap_set[kHeaderKey] = j.dump();
  Status s = io.operate(chunk_record_object(rbd_name), op);
  if (version && (s.err() == ERANGE || s.err() == EOVERFLOW)) {
    return Status::Busy("another process took over " + image_spec(io, rbd_name) +
                        " at the same time (its chunk record changed since it was read)");
  }
  if (!s.ok()) return s.Prefixed("the header of " + where(io, rbd_name));
  return Status::Ok();
}

}  // namespace

Status write_chunk_record_header(Pool& io, const std::string& rbd_name,
                                 const ChunkRecordHeader& header, bool exclusive) {
  return write_header(io, rbd_name, header, exclusive, nullptr);
}

RecordWatch::~RecordWatch() = default;

Result<std::unique_ptr<RecordWatch>> claim_chunk_record(Pool& io, const std::string& rbd_name,
                                                        ChunkRecordHeader& header,
                                                        uint64_t version) {
  // A record's watch only marks it as claimed: no one notifies it.
  ASSIGN_OR_RETURN(auto watched, io.watch(chunk_record_object(rbd_name)));
  auto watch = std::make_unique<RecordWatch>(std::move(watched));
  ChunkRecordHeader claimed = header;
  claimed.owner = this_process_owner();
  claimed.client = io.client_name();
  // The replaced client is the dead writer whose lock the caller breaks next.
  auto& previous = claimed.previous_clients;
  if (!header.client.empty() && header.client != claimed.client &&
      std::find(previous.begin(), previous.end(), header.client) == previous.end()) {
    previous.push_back(header.client);
  }
  if (previous.size() > kMaxPreviousClients) {
    previous.erase(previous.begin(), previous.end() - kMaxPreviousClients);
  }
  Status s = write_header(io, rbd_name, claimed, false, &version);
  if (!s.ok()) return s;
  header = claimed;
  return watch;
}

Status record_chunk_digests(Pool& io, const std::string& rbd_name,
                            const std::vector<ChunkDigest>& digests) {
  if (digests.empty()) return Status::Ok();
  std::vector<std::string> keys, values;
  for (const auto& d : digests) {
    Json j = {{"offset", d.offset}, {"length", d.length}};
    if (d.chunks != 1) j["chunks"] = d.chunks;
    if (d.zero) {
      j["zero"] = true;
    } else {
      j["sha256"] = hex_of(d.sha256);
    }
    keys.push_back(chunk_key(d.index));
    values.push_back(j.dump());
  }
  ObjectWrite op;
  for (size_t i = 0; i < keys.size(); ++i) op.omap_set[keys[i]] = values[i];
  Status s = io.operate(chunk_record_object(rbd_name), op);
  if (!s.ok()) {
    return s.Prefixed("cannot record " + std::to_string(digests.size()) + " chunk digests in " +
                      where(io, rbd_name));
  }
  return Status::Ok();
}

Result<std::vector<std::optional<ChunkDigest>>> read_chunk_digests(Pool& io,
                                                                   const std::string& rbd_name,
                                                                   const ChunkRecordHeader& header,
                                                                   bool stored_lengths) {
  const std::string oid = chunk_record_object(rbd_name);
  std::vector<std::optional<ChunkDigest>> out(header.chunks());
  Status unreadable;  // an entry that is not one
  Status read = omap_visit(io, oid, "c.", [&](const std::string& key, const std::string& val) {
    try {
      const Json j = Json::parse(val);
      ChunkDigest d;
      d.index = std::stoull(key.substr(2), nullptr, 16);
      d.chunks = j.value("chunks", uint64_t{1});
      d.offset = j.at("offset").get<uint64_t>();
      d.length = j.at("length").get<uint64_t>();
      d.zero = j.value("zero", false);
      if (!d.zero && !parse_hex_digest(j.at("sha256").get<std::string>(), &d.sha256)) {
        throw std::runtime_error("bad sha256");
      }
      for (uint64_t i = 0; i < d.chunks && d.index + i < out.size(); ++i) {
        ChunkDigest one = d;
        one.index = d.index + i;
        one.chunks = 1;
        one.offset = one.index * header.chunk_size;
        if (stored_lengths) {
          const uint64_t run_end = d.offset + d.length;
          one.length = run_end > one.offset ? std::min(header.chunk_size, run_end - one.offset) : 0;
        } else {
          one.length = std::min(header.chunk_size, header.size - one.offset);
        }
        out[one.index] = one;
      }
    } catch (const std::exception& e) {
      unreadable = Status::Error(
          EIO, "unreadable entry " + key + " in " + where(io, rbd_name) + ": " + e.what());
    }
    return unreadable;
  });
  RETURN_IF_ERROR(unreadable);
  if (!read.ok()) return read.Prefixed("the chunk digests in " + where(io, rbd_name));
  return out;
}

Result<std::string> chunk_list_checksum(uint64_t size, uint64_t chunk_size,
                                        const std::vector<std::optional<ChunkDigest>>& digests) {
  if (chunk_size == 0) return Status::Invalid("chunk size 0");
  const uint64_t chunks = (size + chunk_size - 1) / chunk_size;
  if (digests.size() != chunks) {
    return Status::Error(EIO, std::to_string(digests.size()) + " chunk digests for " +
                                  std::to_string(chunks) + " chunks of " +
                                  std::to_string(chunk_size) + " bytes");
  }
  Sha256 list;
  // The digest of a chunk of zeros, by length: the full chunk and the last.
  std::map<uint64_t, Sha256::Digest> zero_digests;
  auto zero_digest = [&](uint64_t length) -> const Sha256::Digest& {
    auto it = zero_digests.find(length);
    if (it != zero_digests.end()) return it->second;
    Sha256 zeros;
    zeros.update_zeros(length);
    return zero_digests.emplace(length, zeros.finish()).first->second;
  };
  for (uint64_t i = 0; i < chunks; ++i) {
    const auto& d = digests[i];
    if (!d) return Status::Error(EIO, "chunk " + std::to_string(i) + " has no digest");
    const Sha256::Digest& digest =
        d->zero ? zero_digest(std::min(chunk_size, size - i * chunk_size)) : d->sha256;
    list.update(digest.data(), digest.size());
  }
  return "sha256-chunks-" + std::to_string(chunk_size) + ":" + hex_of(list.finish());
}

Result<std::string> recorded_checksum(Pool& io, const std::string& rbd_name,
                                      const ChunkRecordHeader& header) {
  auto digests = read_chunk_digests(io, rbd_name, header);
  if (!digests.ok()) return digests.status();
  auto sum = chunk_list_checksum(header.size, header.chunk_size, *digests);
  if (!sum.ok()) return sum.status().Prefixed(where(io, rbd_name));
  return sum;
}

Status remove_chunk_record(Pool& io, const std::string& rbd_name) {
  Status s = io.remove(chunk_record_object(rbd_name));
  if (!s.ok() && s.err() != ENOENT) return s;
  return Status::Ok();
}

Result<ChunkRecordHeader> start_chunk_record(Pool& io, const std::string& rbd_name, uint64_t size,
                                             uint64_t chunk_size, const std::string& source) {
  ChunkRecordHeader h;
  h.size = size;
  h.chunk_size = chunk_size;
  h.source = source;
  h.state = "incomplete";
  h.owner = this_process_owner();
  h.client = io.client_name();
  h.started_at = utc_now_iso8601();
  Status s = write_chunk_record_header(io, rbd_name, h, true);
  if (!s.ok()) return s;
  return h;
}

Status complete_chunk_record(Pool& io, const std::string& rbd_name, ChunkRecordHeader header) {
  header.state = "complete";
  header.completed_at = utc_now_iso8601();
  return write_chunk_record_header(io, rbd_name, header, false);
}

std::string this_process_owner() { return this_host() + ":" + std::to_string(::getpid()); }

bool owner_is_on_this_host(const std::string& owner) {
  const auto colon = owner.rfind(':');
  return colon != std::string::npos && owner.substr(0, colon) == this_host();
}

Result<bool> owner_is_running(Pool& io, const std::string& rbd_name, const std::string& owner,
                              std::string* how) {
  if (owner_is_on_this_host(owner)) {
    const long pid = std::strtol(owner.c_str() + owner.rfind(':') + 1, nullptr, 10);
    const bool running = pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
    if (how) *how = running ? "running on this host" : "no longer running on this host";
    return running;
  }
  auto writer = live_writer(io, rbd_name);
  if (!writer.ok()) return writer.status();
  if (!writer->empty()) {
    if (how) *how = "on another host, and its client " + *writer + " holds the image's lock";
    return true;
  }
  // A run that has just claimed the record watches it until it holds the lock.
  auto watchers = io.object_watchers(chunk_record_object(rbd_name));
  if (!watchers.ok() && watchers.status().err() != ENOENT) return watchers.status();
  if (watchers.ok() && !watchers->empty()) {
    if (how) {
      *how = "on another host, and its client " + watchers->front() +
             " watches the chunk record (it took the copy over and is taking the image's lock)";
    }
    return true;
  }
  if (how) *how = "on another host, and no client that holds the image's lock watches it";
  return false;
}

}  // namespace rbdvol::plugin
