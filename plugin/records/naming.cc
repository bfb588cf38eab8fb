#include "plugin/records/naming.h"

#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>
#include <cctype>
#include <cstdio>
#include <ctime>

namespace rbdvol::plugin {

std::string new_uuid() {
  // 122 random bits from the kernel's generator (getrandom), fresh for
  // every id: a generator seeded once per process, as every rbdvol command
  // is, would draw its first id from only as many values as its seed has.
  return boost::uuids::to_string(boost::uuids::random_generator()());
}

Status check_name(const std::string& what, const std::string& name) {
  if (name.empty()) return Status::Invalid(what + " name is empty");
  if (name.size() > kMaxNameBytes) {
    return Status::Invalid(what + " name is " + std::to_string(name.size()) +
                           " bytes long; at most " + std::to_string(kMaxNameBytes) +
                           " are allowed");
  }
  // UTF-8, without C0 or C1 control characters: a name is printed in
  // listings and logs, where a newline would split a row and an escape
  // sequence would reach the terminal.
  for (size_t i = 0; i < name.size();) {
    const auto c = static_cast<unsigned char>(name[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xe  ? 3
                 : (c >> 3) == 0x1e ? 4
                                    : 0;
    bool valid = len != 0 && i + len <= name.size();
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
    for (size_t k = 1; valid && k < len; ++k) {
      const auto cc = static_cast<unsigned char>(name[i + k]);
      valid = (cc >> 6) == 0x2;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (valid && (cp < kMin[len] || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)) {
      valid = false;
    }
    if (!valid) {
      return Status::Invalid(what + " name is not valid UTF-8 (at byte " + std::to_string(i) + ")");
    }
    if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f)) {
      char code[8];
      std::snprintf(code, sizeof(code), "U+%04X", cp);
      return Status::Invalid(what + " name holds the control character " + code + " at byte " +
                             std::to_string(i) + "; names may not hold control characters");
    }
    i += len;
  }
  return Status::Ok();
}

bool is_uuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(s[i]))) {
      return false;
    }
  }
  return true;
}

Result<std::string> uuid_from_id(const std::string& id, const std::string& prefix,
                                 const std::string& what) {
  std::string uuid = id.compare(0, prefix.size(), prefix) == 0 ? id.substr(prefix.size()) : id;
  if (!is_uuid(uuid)) {
    std::string shown;
    for (char c : id.substr(0, 80)) shown += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
    return Status::Invalid(what + " id '" + shown + "' is not a uuid (nor " + prefix + "<uuid>)");
  }
  for (auto& c : uuid) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return uuid;
}

std::string name_list(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "(none)" : out;
}

std::string utc_now_iso8601() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace rbdvol::plugin
