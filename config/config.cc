// A hand-written INI parser: Boost.PropertyTree does not keep the line of each
// key, and every error message must name file, line and key. Parsing is done
// in two passes: the text is split into raw sections of key/value pairs (with
// their lines), then each section is checked and turned into typed fields.
// Nothing is returned until the whole file has been checked.
#include "config/config.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <new>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace rbdvol::config {
namespace {

const char kDefaultSection[] = "DEFAULT";
const char kDiskTypePrefix[] = "disk_type:";
const char kServiceSection[] = "service";

const std::vector<std::string> kDefaultKeys = {"enabled_backends",      "default_backend",
                                               "rados_connect_timeout", "rados_osd_op_timeout",
                                               "max_clone_depth",       "copy_wait_timeout"};
const std::vector<std::string> kBackendKeys = {"ceph_conf",   "rbd_user",           "keyring",
                                               "volume_pool", "image_pool",         "tags",
                                               "weight",      "libvirt_secret_uuid"};
const std::vector<std::string> kDiskTypeKeys = {"tags", "multiattach", "cache", "image_store"};
const std::vector<std::string> kServiceKeys = {
    "listen",          "auth_strategy", "token_file",      "max_body_bytes", "max_header_bytes",
    "max_connections", "idle_timeout",  "request_timeout", "shutdown_grace", "workers",
    "tls_cert",        "tls_key",       "image_listen",    "image_size_cap", "image_staging_dir"};
const std::vector<std::string> kAuthStrategies = {"noauth", "token"};
const std::vector<std::string> kCacheModes = {"none", "directsync", "writethrough", "writeback",
                                              "unsafe"};
const std::vector<std::string> kMultiattachCacheModes = {"none", "directsync"};

struct RawValue {
  std::string value;
  int line = 0;
};

struct RawSection {
  std::string name;
  int line = 0;
  std::map<std::string, RawValue> keys;
};

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

std::string trim(const std::string& s) {
  size_t begin = 0;
  size_t end = s.size();
  while (begin < end && is_space(s[begin])) ++begin;
  while (end > begin && is_space(s[end - 1])) --end;
  return s.substr(begin, end - begin);
}

std::string join(const std::vector<std::string>& items, const char* separator = ", ") {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += separator;
    out += items[i];
  }
  return out;
}

bool contains(const std::vector<std::string>& items, const std::string& item) {
  for (const auto& i : items) {
    if (i == item) return true;
  }
  return false;
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool is_name_char(char c) { return is_alnum(c) || c == '_' || c == '.' || c == '-'; }

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// [A-Za-z0-9][A-Za-z0-9_.-]{0,63}: safe in a Ceph pool or user name, a
// libvirt XML attribute and a file name alike.
bool is_valid_name(const std::string& s) {
  if (s.empty() || s.size() > 64 || !is_alnum(s[0])) return false;
  for (char c : s) {
    if (!is_name_char(c)) return false;
  }
  return true;
}

// [A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?
bool is_valid_tag(const std::string& s) {
  size_t colon = s.find(':');
  auto part_ok = [](const std::string& part) {
    if (part.empty()) return false;
    for (char c : part) {
      if (!is_name_char(c)) return false;
    }
    return true;
  };
  if (colon == std::string::npos) return part_ok(s);
  return part_ok(s.substr(0, colon)) && part_ok(s.substr(colon + 1));
}

// 8-4-4-4-12 hexadecimal digits, either case.
bool is_valid_uuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !is_hex(s[i])) return false;
  }
  return true;
}

std::string lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

// Builds the messages; every error of the module goes through here so they
// all share the form "PATH:LINE: [section] key: what is wrong".
class Errors {
 public:
  explicit Errors(std::string path) : path_(std::move(path)) {}

  Status syntax(int line, const std::string& what) const {
    return Status::Invalid(path_ + ":" + std::to_string(line) + ": " + what);
  }
  Status section(int line, const std::string& section, const std::string& what) const {
    return syntax(line, "[" + section + "]: " + what);
  }
  Status key(int line, const std::string& section, const std::string& key,
             const std::string& what) const {
    return syntax(line, "[" + section + "] " + key + ": " + what);
  }
  // An error about the file as a whole, with no line to point at.
  Status file(const std::string& what) const { return Status::Invalid(path_ + ": " + what); }

 private:
  std::string path_;
};

std::string quoted(const std::string& s) { return "'" + s + "'"; }

// Pass one: lines into sections. Checks only the syntax, unknown sections
// and keys are left to pass two.
Status split_sections(const std::string& text, const Errors& errors,
                      std::vector<RawSection>* sections) {
  std::map<std::string, int> section_lines;
  size_t pos = 0;
  int line_no = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    std::string raw = text.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    // A UTF-8 byte order mark, as some editors write it.
    if (line_no == 1 && starts_with(raw, "\xEF\xBB\xBF")) raw.erase(0, 3);
    for (char c : raw) {
      unsigned char u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t' && c != '\r') || u == 0x7f) {
        return errors.syntax(line_no, "control character in line");
      }
    }
    std::string line = trim(raw);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;

    if (line[0] == '[') {
      if (line.back() != ']') {
        return errors.syntax(line_no, "section header " + quoted(line) + " does not end with ']'");
      }
      std::string name = trim(line.substr(1, line.size() - 2));
      if (name.empty()) return errors.syntax(line_no, "empty section name '[]'");
      auto seen = section_lines.find(name);
      if (seen != section_lines.end()) {
        return errors.section(
            line_no, name,
            "section given twice (first at line " + std::to_string(seen->second) + ")");
      }
      section_lines[name] = line_no;
      sections->push_back(RawSection{name, line_no, {}});
      continue;
    }

    size_t eq = line.find('=');
    if (eq == std::string::npos) {
      return errors.syntax(line_no,
                           "expected '[section]', 'key = value' or a comment, got " + quoted(line));
    }
    std::string key = trim(line.substr(0, eq));
    std::string value = trim(line.substr(eq + 1));
    if (key.empty()) return errors.syntax(line_no, "no key before '=' in " + quoted(line));
    if (sections->empty()) {
      return errors.syntax(line_no, "key " + quoted(key) + " comes before any [section]");
    }
    RawSection& section = sections->back();
    auto seen = section.keys.find(key);
    if (seen != section.keys.end()) {
      return errors.key(line_no, section.name, key,
                        "given twice (first at line " + std::to_string(seen->second.line) + ")");
    }
    section.keys[key] = RawValue{value, line_no};
  }
  return Status::Ok();
}

// Pass two: one section at a time, with the section's name and errors at hand.
class SectionReader {
 public:
  SectionReader(const RawSection& section, const Errors& errors)
      : section_(section), errors_(errors) {}

  const std::string& name() const { return section_.name; }
  int line() const { return section_.line; }

  Status check_keys(const std::vector<std::string>& allowed) const {
    // The first unknown key in file order, not in the map's order.
    const std::string* unknown = nullptr;
    int unknown_line = 0;
    for (const auto& [key, raw] : section_.keys) {
      if (!contains(allowed, key) && (unknown == nullptr || raw.line < unknown_line)) {
        unknown = &key;
        unknown_line = raw.line;
      }
    }
    if (unknown == nullptr) return Status::Ok();
    return errors_.key(unknown_line, section_.name, *unknown,
                       "unknown key; allowed keys are " + join(allowed));
  }

  bool has(const std::string& key) const { return section_.keys.count(key) > 0; }
  bool has_empty(const std::string& key) const {
    auto it = section_.keys.find(key);
    return it != section_.keys.end() && it->second.value.empty();
  }

  // Line of the key, or of the section header when the key is absent.
  int line_of(const std::string& key) const {
    auto it = section_.keys.find(key);
    return it == section_.keys.end() ? section_.line : it->second.line;
  }

  Status error(const std::string& key, const std::string& what) const {
    return errors_.key(line_of(key), section_.name, key, what);
  }

  Status string(const std::string& key, bool required, std::string* out) const {
    auto it = section_.keys.find(key);
    if (it == section_.keys.end()) {
      return required ? error(key, "missing (required)") : Status::Ok();
    }
    if (it->second.value.empty()) {
      return error(key, required ? "empty value (required)"
                                 : "empty value (leave the key out to use the default)");
    }
    *out = it->second.value;
    return Status::Ok();
  }

  Status name_value(const std::string& key, bool required, std::string* out) const {
    std::string value;
    Status s = string(key, required, &value);
    if (!s.ok() || !has(key)) return s;
    if (!is_valid_name(value)) {
      return error(
          key, "invalid name " + quoted(value) + ": must match [A-Za-z0-9][A-Za-z0-9_.-]{0,63}");
    }
    *out = value;
    return Status::Ok();
  }

  Status list(const std::string& key, bool required, std::vector<std::string>* out) const {
    std::string value;
    Status s = string(key, required, &value);
    if (!s.ok() || !has(key)) return s;
    std::vector<std::string> items;
    size_t start = 0;
    while (true) {
      size_t comma = value.find(',', start);
      std::string item =
          trim(value.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
      if (item.empty()) return error(key, "empty item in list " + quoted(value));
      if (contains(items, item)) return error(key, quoted(item) + " listed twice");
      items.push_back(item);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    *out = std::move(items);
    return Status::Ok();
  }

  Status tags(const std::string& key, bool required, std::vector<std::string>* out) const {
    std::vector<std::string> items;
    Status s = list(key, required, &items);
    if (!s.ok() || !has(key)) return s;
    for (const auto& tag : items) {
      if (!is_valid_tag(tag)) {
        return error(
            key, "invalid tag " + quoted(tag) + ": must match [A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?");
      }
    }
    *out = std::move(items);
    return Status::Ok();
  }

  Status positive_int(const std::string& key, int* out) const {
    std::string value;
    Status s = string(key, false, &value);
    if (!s.ok() || !has(key)) return s;
    int parsed = 0;
    const char* end = value.data() + value.size();
    auto [ptr, ec] = std::from_chars(value.data(), end, parsed);
    if (ec != std::errc() || ptr != end || parsed <= 0) {
      return error(key, "must be a positive integer, got " + quoted(value));
    }
    *out = parsed;
    return Status::Ok();
  }

  Status positive_number(const std::string& key, double* out) const {
    std::string value;
    Status s = string(key, false, &value);
    if (!s.ok() || !has(key)) return s;
    double parsed = 0;
    const char* end = value.data() + value.size();
    // from_chars, unlike strtod, ignores the locale and takes no hex floats.
    auto [ptr, ec] = std::from_chars(value.data(), end, parsed);
    if (ec != std::errc() || ptr != end || !std::isfinite(parsed) || !(parsed > 0)) {
      return error(key, "must be a positive number, got " + quoted(value));
    }
    *out = parsed;
    return Status::Ok();
  }

  // A positive integer of up to `max`.
  Status positive_u64(const std::string& key, uint64_t max, uint64_t* out) const {
    std::string value;
    Status s = string(key, false, &value);
    if (!s.ok() || !has(key)) return s;
    uint64_t parsed = 0;
    const char* end = value.data() + value.size();
    auto [ptr, ec] = std::from_chars(value.data(), end, parsed);
    if (ec != std::errc() || ptr != end || parsed == 0 || parsed > max) {
      return error(
          key, "must be an integer from 1 to " + std::to_string(max) + ", got " + quoted(value));
    }
    *out = parsed;
    return Status::Ok();
  }

  Status boolean(const std::string& key, bool* out) const {
    std::string value;
    Status s = string(key, false, &value);
    if (!s.ok() || !has(key)) return s;
    std::string word = lower(value);
    if (word == "true" || word == "yes" || word == "1") {
      *out = true;
    } else if (word == "false" || word == "no" || word == "0") {
      *out = false;
    } else {
      return error(key, "must be true, false, yes, no, 1 or 0, got " + quoted(value));
    }
    return Status::Ok();
  }

 private:
  const RawSection& section_;
  const Errors& errors_;
};

Status read_default(const SectionReader& r, Config* config, std::vector<std::string>* enabled) {
  RETURN_IF_ERROR(r.check_keys(kDefaultKeys));
  if (r.has_empty("enabled_backends")) {
    return r.error("enabled_backends", "empty: at least one backend must be enabled");
  }
  RETURN_IF_ERROR(r.list("enabled_backends", true, enabled));
  for (const auto& id : *enabled) {
    if (!is_valid_name(id)) {
      return r.error("enabled_backends", "invalid backend id " + quoted(id) +
                                             ": must match [A-Za-z0-9][A-Za-z0-9_.-]{0,63}");
    }
    if (id == kDefaultSection || id == kServiceSection) {
      return r.error("enabled_backends", quoted(id) + " cannot be a backend id");
    }
  }
  RETURN_IF_ERROR(r.string("default_backend", true, &config->default_backend));
  if (!contains(*enabled, config->default_backend)) {
    return r.error("default_backend", quoted(config->default_backend) +
                                          " is not among enabled_backends (" + join(*enabled) +
                                          ")");
  }
  RETURN_IF_ERROR(r.positive_int("rados_connect_timeout", &config->rados_connect_timeout));
  RETURN_IF_ERROR(r.positive_int("rados_osd_op_timeout", &config->rados_osd_op_timeout));
  RETURN_IF_ERROR(r.positive_int("max_clone_depth", &config->max_clone_depth));
  RETURN_IF_ERROR(r.positive_int("copy_wait_timeout", &config->copy_wait_timeout));
  return Status::Ok();
}

Status read_backend(const SectionReader& r, Backend* backend) {
  RETURN_IF_ERROR(r.check_keys(kBackendKeys));
  backend->id = r.name();
  backend->line = r.line();
  RETURN_IF_ERROR(r.string("ceph_conf", true, &backend->ceph_conf));
  RETURN_IF_ERROR(r.name_value("rbd_user", false, &backend->rbd_user));
  RETURN_IF_ERROR(r.string("keyring", false, &backend->keyring));
  RETURN_IF_ERROR(r.name_value("volume_pool", true, &backend->volume_pool));
  RETURN_IF_ERROR(r.name_value("image_pool", true, &backend->image_pool));
  RETURN_IF_ERROR(r.tags("tags", false, &backend->tags));
  RETURN_IF_ERROR(r.positive_number("weight", &backend->weight));
  RETURN_IF_ERROR(r.string("libvirt_secret_uuid", false, &backend->libvirt_secret_uuid));
  if (r.has("libvirt_secret_uuid") && !is_valid_uuid(backend->libvirt_secret_uuid)) {
    return r.error("libvirt_secret_uuid",
                   "not a UUID (8-4-4-4-12 hex digits): " + quoted(backend->libvirt_secret_uuid));
  }
  return Status::Ok();
}

// host:port, or [v6]:port; the port 1..65535. The host is not resolved.
bool is_valid_listen(const std::string& s) {
  size_t colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  std::string host = s.substr(0, colon);
  std::string port = s.substr(colon + 1);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return false;
  } else if (host.find(':') != std::string::npos) {
    return false;  // an IPv6 address needs brackets
  }
  int parsed = 0;
  const char* end = port.data() + port.size();
  auto [ptr, ec] = std::from_chars(port.data(), end, parsed);
  return ec == std::errc() && ptr == end && parsed > 0 && parsed <= 65535;
}

Status read_service(const SectionReader& r, Service* service) {
  RETURN_IF_ERROR(r.check_keys(kServiceKeys));
  service->line = r.line();
  RETURN_IF_ERROR(r.string("listen", false, &service->listen));
  if (!is_valid_listen(service->listen)) {
    return r.error("listen", "must be HOST:PORT (an IPv6 address as [ADDR]:PORT), got " +
                                 quoted(service->listen));
  }
  RETURN_IF_ERROR(r.string("auth_strategy", false, &service->auth_strategy));
  if (!contains(kAuthStrategies, service->auth_strategy)) {
    return r.error("auth_strategy", "unknown strategy " + quoted(service->auth_strategy) +
                                        "; one of " + join(kAuthStrategies));
  }
  RETURN_IF_ERROR(r.string("token_file", false, &service->token_file));
  if (service->auth_strategy == "token" && service->token_file.empty()) {
    return r.error("token_file", "missing (required with auth_strategy = token)");
  }
  RETURN_IF_ERROR(r.positive_u64("max_body_bytes", uint64_t{1} << 40, &service->max_body_bytes));
  uint64_t header = service->max_header_bytes;
  RETURN_IF_ERROR(r.positive_u64("max_header_bytes", 1 << 20, &header));
  service->max_header_bytes = static_cast<uint32_t>(header);
  RETURN_IF_ERROR(r.positive_int("max_connections", &service->max_connections));
  RETURN_IF_ERROR(r.positive_int("idle_timeout", &service->idle_timeout));
  RETURN_IF_ERROR(r.positive_int("request_timeout", &service->request_timeout));
  RETURN_IF_ERROR(r.positive_int("shutdown_grace", &service->shutdown_grace));
  RETURN_IF_ERROR(r.positive_int("workers", &service->workers));
  RETURN_IF_ERROR(r.string("tls_cert", false, &service->tls_cert));
  RETURN_IF_ERROR(r.string("tls_key", false, &service->tls_key));
  if (service->tls_cert.empty() != service->tls_key.empty()) {
    const char* missing = service->tls_cert.empty() ? "tls_cert" : "tls_key";
    return r.error(missing, "missing: tls_cert and tls_key go together");
  }
  RETURN_IF_ERROR(r.string("image_listen", false, &service->image_listen));
  if (service->image_listen != "off" && !is_valid_listen(service->image_listen)) {
    return r.error("image_listen",
                   "must be HOST:PORT (an IPv6 address as [ADDR]:PORT) or off, got " +
                       quoted(service->image_listen));
  }
  if (service->image_listen != "off" && service->image_listen == service->listen) {
    return r.error("image_listen", "must differ from listen (" + service->listen + ")");
  }
  RETURN_IF_ERROR(r.positive_u64("image_size_cap", uint64_t{1} << 50, &service->image_size_cap));
  RETURN_IF_ERROR(r.string("image_staging_dir", false, &service->image_staging_dir));
  if (service->image_staging_dir.empty() || service->image_staging_dir.front() != '/') {
    return r.error("image_staging_dir",
                   "must be an absolute path, got " + quoted(service->image_staging_dir));
  }
  return Status::Ok();
}

std::string describe_backend_tags(const std::vector<Backend>& backends) {
  std::vector<std::string> parts;
  for (const auto& b : backends) {
    parts.push_back(b.id + (b.tags.empty() ? " has no tags" : " has " + join(b.tags)));
  }
  return join(parts, "; ");
}

Status read_disk_type(const SectionReader& r, const Errors& errors, const Config& config,
                      DiskType* type) {
  type->name = r.name().substr(std::strlen(kDiskTypePrefix));
  type->line = r.line();
  if (!is_valid_name(type->name)) {
    return errors.section(r.line(), r.name(),
                          "invalid disk type name " + quoted(type->name) +
                              ": must match [A-Za-z0-9][A-Za-z0-9_.-]{0,63}");
  }
  RETURN_IF_ERROR(r.check_keys(kDiskTypeKeys));
  RETURN_IF_ERROR(r.tags("tags", true, &type->tags));
  RETURN_IF_ERROR(r.boolean("multiattach", &type->multiattach));
  RETURN_IF_ERROR(r.string("cache", false, &type->cache));
  if (!contains(kCacheModes, type->cache)) {
    return r.error("cache",
                   "unknown cache mode " + quoted(type->cache) + "; one of " + join(kCacheModes));
  }
  if (type->multiattach && !contains(kMultiattachCacheModes, type->cache)) {
    return r.error("cache", "cache mode " + quoted(type->cache) +
                                " is not allowed for a multiattach disk type; use " +
                                join(kMultiattachCacheModes, " or "));
  }
  RETURN_IF_ERROR(r.string("image_store", false, &type->image_store));
  if (type->image_store != "same" && config.find_backend(type->image_store) == nullptr) {
    std::vector<std::string> ids;
    for (const auto& b : config.backends) ids.push_back(b.id);
    return r.error("image_store", quoted(type->image_store) +
                                      " is not an enabled backend; use 'same' or one of " +
                                      join(ids));
  }
  bool matched = false;
  for (const auto& b : config.backends) {
    if (backend_matches(b, type->tags)) matched = true;
  }
  if (!matched) {
    return r.error("tags", "no enabled backend carries all of " + join(type->tags) + " (" +
                               describe_backend_tags(config.backends) + ")");
  }
  return Status::Ok();
}

Result<Config> parse(const std::string& text, const std::string& path) {
  Errors errors(path);
  std::vector<RawSection> sections;
  RETURN_IF_ERROR(split_sections(text, errors, &sections));

  Config config;
  config.path = path;

  const RawSection* default_section = nullptr;
  for (const auto& s : sections) {
    if (s.name == kDefaultSection) default_section = &s;
  }
  if (default_section == nullptr) {
    return errors.file("missing [DEFAULT] section (required: it names enabled_backends)");
  }
  std::vector<std::string> enabled;
  RETURN_IF_ERROR(read_default(SectionReader(*default_section, errors), &config, &enabled));

  // Classify every section before reading any, so an unknown section is
  // reported even when a backend section is also wrong.
  std::map<std::string, const RawSection*> backend_sections;
  std::vector<const RawSection*> disk_type_sections;
  for (const auto& s : sections) {
    if (s.name == kDefaultSection) continue;
    if (s.name == kServiceSection) {
      RETURN_IF_ERROR(read_service(SectionReader(s, errors), &config.service));
      continue;
    }
    if (contains(enabled, s.name)) {
      backend_sections[s.name] = &s;
    } else if (starts_with(s.name, kDiskTypePrefix)) {
      disk_type_sections.push_back(&s);
    } else {
      return errors.section(s.line, s.name,
                            "unknown section; expected [DEFAULT], [service], [disk_type:NAME] or "
                            "an enabled backend (enabled_backends: " +
                                join(enabled) + ")");
    }
  }

  for (const auto& id : enabled) {
    auto it = backend_sections.find(id);
    if (it == backend_sections.end()) {
      return errors.key(default_section->keys.at("enabled_backends").line, kDefaultSection,
                        "enabled_backends",
                        "backend " + quoted(id) + " has no [" + id + "] section");
    }
    Backend backend;
    RETURN_IF_ERROR(read_backend(SectionReader(*it->second, errors), &backend));
    config.backends.push_back(std::move(backend));
  }

  for (const RawSection* s : disk_type_sections) {
    DiskType type;
    RETURN_IF_ERROR(read_disk_type(SectionReader(*s, errors), errors, config, &type));
    config.disk_types.push_back(std::move(type));
  }
  return config;
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

Status read_file(const std::string& path, std::string* out) {
  auto fail = [&path](int err) {
    return Status::Error(err, "cannot read config " + path + ": " + std::strerror(err));
  };
  errno = 0;
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) return fail(errno != 0 ? errno : EIO);
  char buffer[8192];
  while (true) {
    size_t n = std::fread(buffer, 1, sizeof buffer, file.get());
    out->append(buffer, n);
    if (n < sizeof buffer) {
      // errno is set by the failed read (EISDIR for a directory).
      if (std::ferror(file.get())) return fail(errno != 0 ? errno : EIO);
      break;
    }
  }
  return Status::Ok();
}

}  // namespace

const Backend* Config::find_backend(const std::string& id) const {
  for (const auto& b : backends) {
    if (b.id == id) return &b;
  }
  return nullptr;
}

const DiskType* Config::find_disk_type(const std::string& name) const {
  for (const auto& t : disk_types) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

bool backend_matches(const Backend& backend, const std::vector<std::string>& tags) {
  for (const auto& tag : tags) {
    if (!contains(backend.tags, tag)) return false;
  }
  return true;
}

Result<Config> parse_config(const std::string& text, const std::string& path) {
  try {
    return parse(text, path);
  } catch (const std::bad_alloc&) {
    return Status::Error(ENOMEM, path + ": out of memory while parsing config");
  } catch (const std::exception& e) {
    return Status::Error(EIO, path + ": internal error while parsing config: " + e.what());
  }
}

Result<Config> load_config_file(const std::string& path) {
  try {
    std::string text;
    Status s = read_file(path, &text);
    if (!s.ok()) return s;
    return parse_config(text, path);
  } catch (const std::bad_alloc&) {
    return Status::Error(ENOMEM, "cannot read config " + path + ": out of memory");
  } catch (const std::exception& e) {
    return Status::Error(EIO, "cannot read config " + path + ": " + e.what());
  }
}

}  // namespace rbdvol::config
