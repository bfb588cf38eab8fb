// xmlpatch: see xmlpatch.h. The document is parsed with pugixml in a mode that
// keeps the text exactly as written (no entity decoding, no end-of-line or
// attribute normalisation, whitespace-only text nodes kept, text before and
// after the root kept), and written back by a serializer of our own that
// remembers, per attribute, which quote character the input used. pugixml's
// own save() cannot do that (one quote style per document, and libvirt mixes
// them: '...' for its own attributes, "..." in <metadata>). The result: an
// unmodified document comes back byte for byte, and a modified one differs
// only in the nodes that were changed.
#include "xmlpatch/xmlpatch.h"

#include <pugixml.hpp>

#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <new>
#include <optional>
#include <string_view>
#include <unordered_map>

namespace rbdvol::xmlpatch {
namespace {

// Limits. Documented in docs/xmlpatch.md; keep the two in step.
constexpr size_t kMaxDocumentBytes = 16u << 20;
constexpr int kMaxDepth = 256;
constexpr size_t kMaxPoolLen = 64;
constexpr size_t kMaxImageLen = 96;
constexpr size_t kMaxUserLen = 64;
constexpr size_t kMaxSerialLen = 64;
constexpr size_t kMaxHostLen = 253;
constexpr size_t kMaxHosts = 16;
constexpr size_t kMaxDomainNameLen = 200;
constexpr size_t kMaxQuotedLen = 64;

constexpr unsigned kParseOptions = pugi::parse_cdata | pugi::parse_pi | pugi::parse_comments |
                                   pugi::parse_declaration | pugi::parse_doctype |
                                   pugi::parse_ws_pcdata | pugi::parse_fragment;

// ---------------------------------------------------------------------------
// Values in messages and in the document.

// `value` in double quotes, with quotes, backslashes, control characters and
// non-ASCII bytes escaped, so that an error message is safe to print.
std::string quoted(std::string_view value) {
  std::string out = "\"";
  size_t n = 0;
  for (unsigned char c : value) {
    if (n++ == kMaxQuotedLen) {
      out += "...";
      break;
    }
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  return out;
}

// Escapes for attribute values (either quote style) and text content alike. The
// document is kept with its entities undecoded, so whatever we put into it
// must already be escaped.
std::string escape_attr(std::string_view v) {
  std::string out;
  for (char c : v) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

void append_utf8(std::string& out, unsigned long cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

// The text a raw (undecoded) value stands for: the five predefined entities
// and character references are decoded; anything else is left as written.
std::string decoded(std::string_view raw) {
  std::string out;
  for (size_t i = 0; i < raw.size();) {
    if (raw[i] != '&') {
      out += raw[i++];
      continue;
    }
    size_t semi = raw.find(';', i);
    if (semi == std::string_view::npos || semi - i > 12) {
      out += raw[i++];
      continue;
    }
    std::string_view ent = raw.substr(i + 1, semi - i - 1);
    bool done = true;
    if (ent == "lt") {
      out += '<';
    } else if (ent == "gt") {
      out += '>';
    } else if (ent == "amp") {
      out += '&';
    } else if (ent == "apos") {
      out += '\'';
    } else if (ent == "quot") {
      out += '"';
    } else if (ent.size() >= 2 && ent[0] == '#') {
      bool hex = ent[1] == 'x' || ent[1] == 'X';
      std::string_view digits = ent.substr(hex ? 2 : 1);
      unsigned long cp = 0;
      done = !digits.empty();
      for (char d : digits) {
        int v = -1;
        if (d >= '0' && d <= '9') v = d - '0';
        if (hex && d >= 'a' && d <= 'f') v = d - 'a' + 10;
        if (hex && d >= 'A' && d <= 'F') v = d - 'A' + 10;
        if (v < 0 || cp > 0x10ffff) {
          done = false;
          break;
        }
        cp = cp * (hex ? 16 : 10) + static_cast<unsigned long>(v);
      }
      if (done && cp > 0 && cp <= 0x10ffff) {
        append_utf8(out, cp);
      } else {
        done = false;
      }
    } else {
      done = false;
    }
    if (done) {
      i = semi + 1;
    } else {
      out += raw[i++];
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Allowlists.

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

Status check_name(const char* field, const std::string& v, size_t max_len) {
  if (v.empty()) return Status::Invalid(std::string(field) + " " + quoted(v) + " is empty");
  if (v.size() > max_len) {
    return Status::Invalid(std::string(field) + " " + quoted(v) + " is longer than " +
                           std::to_string(max_len) + " characters");
  }
  for (char c : v) {
    if (!is_name_char(c)) {
      return Status::Invalid(std::string(field) + " " + quoted(v) +
                             " has a character outside A-Z a-z 0-9 _ . -");
    }
  }
  return Status::Ok();
}

bool is_ipv4(const std::string& v) {
  int parts = 0;
  size_t i = 0;
  while (true) {
    size_t start = i;
    unsigned value = 0;
    while (i < v.size() && v[i] >= '0' && v[i] <= '9' && i - start < 3) {
      value = value * 10 + static_cast<unsigned>(v[i] - '0');
      ++i;
    }
    size_t len = i - start;
    if (len == 0 || value > 255 || (len > 1 && v[start] == '0')) return false;
    ++parts;
    if (i == v.size()) return parts == 4;
    if (v[i] != '.' || parts == 4) return false;
    ++i;
  }
}

bool is_ipv6(const std::string& v) {
  // Hex groups and colons, at most one "::", optionally an IPv4 tail.
  if (v.size() < 2 || v.size() > 45 || v.find(':') == std::string::npos) return false;
  size_t dbl = v.find("::");
  if (dbl != std::string::npos && v.find("::", dbl + 1) != std::string::npos) return false;
  std::string head = v;
  int v4_groups = 0;
  size_t last_colon = v.rfind(':');
  if (v.find('.', last_colon) != std::string::npos) {
    if (!is_ipv4(v.substr(last_colon + 1))) return false;
    head = v.substr(0, last_colon + 1) + "0";  // stands for the IPv4 part
    v4_groups = 1;
  }
  int groups = 0;
  size_t i = 0;
  while (i < head.size()) {
    if (head[i] == ':') {
      ++i;
      continue;
    }
    size_t start = i;
    while (i < head.size() && is_hex(head[i])) ++i;
    if (i == start || i - start > 4 || (i < head.size() && head[i] != ':')) return false;
    ++groups;
  }
  if (head.front() == ':' && head.compare(0, 2, "::") != 0) return false;
  if (head.back() == ':' && head.size() >= 2 && head.compare(head.size() - 2, 2, "::") != 0) {
    return false;
  }
  int total = groups + v4_groups;  // the IPv4 tail counts as two groups
  return dbl == std::string::npos ? total == 8 : total <= 7;
}

bool is_dns_name(const std::string& v) {
  if (v.empty() || v.size() > kMaxHostLen) return false;
  size_t label = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (c == '.') {
      if (label == 0 || v[i - 1] == '-') return false;
      label = 0;
      continue;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              (c == '-' && label > 0);
    if (!ok || ++label > 63) return false;
  }
  if (label == 0 || v.back() == '-') return false;
  // An all-digit last label would make "10.0.0.256" a host name.
  size_t non_digit = v.find_last_not_of("0123456789");
  return non_digit != std::string::npos && non_digit >= v.size() - label;
}

Status check_host(const MonitorHost& h) {
  if (h.name.empty()) return Status::Invalid("monitor host " + quoted(h.name) + " is empty");
  if (h.name.size() > kMaxHostLen) {
    return Status::Invalid("monitor host " + quoted(h.name) + " is longer than " +
                           std::to_string(kMaxHostLen) + " characters");
  }
  if (!is_ipv4(h.name) && !is_ipv6(h.name) && !is_dns_name(h.name)) {
    return Status::Invalid("monitor host " + quoted(h.name) +
                           " is not an IPv4 address, an IPv6 address or a DNS name");
  }
  if (!h.port.empty()) {
    bool digits = h.port.size() <= 5 && h.port[0] != '0';
    for (char c : h.port) digits = digits && c >= '0' && c <= '9';
    if (!digits || std::stoul(h.port) > 65535) {
      return Status::Invalid("monitor port " + quoted(h.port) + " of host " + quoted(h.name) +
                             " is not a number from 1 to 65535");
    }
  }
  return Status::Ok();
}

bool is_uuid(const std::string& v) {
  if (v.size() != 36) return false;
  for (size_t i = 0; i < v.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? v[i] != '-' : !is_hex(v[i])) return false;
  }
  return true;
}

bool is_cache_mode(const std::string& v) {
  return v == "none" || v == "directsync" || v == "writethrough" || v == "writeback" ||
         v == "unsafe";
}

// Cache modes under which no guest can read stale data another guest wrote.
bool is_shared_cache_mode(const std::string& v) { return v == "none" || v == "directsync"; }

Status check_cache_mode(const std::string& v) {
  if (!is_cache_mode(v)) {
    return Status::Invalid("cache mode " + quoted(v) +
                           " is not one of none, directsync, writethrough, writeback, unsafe");
  }
  return Status::Ok();
}

Status check_shared_cache_mode(const std::string& v) {
  if (!is_shared_cache_mode(v)) {
    return Status::Invalid("cache mode " + quoted(v) +
                           " is not allowed on a shareable disk: use none or directsync");
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Documents.

// Quote character each parsed attribute was written with, by pugixml's
// attribute object (stable when the value changes).
using QuoteMap = std::unordered_map<const void*, char>;

struct Document {
  std::string buffer;  // parsed in place: every parsed value points into it
  pugi::xml_document doc;
  QuoteMap quotes;
  pugi::xml_node root;
};

class DepthCheck : public pugi::xml_tree_walker {
 public:
  bool for_each(pugi::xml_node&) override {
    if (depth() >= kMaxDepth) too_deep = true;
    return !too_deep;
  }
  bool too_deep = false;
};

bool is_ws_text(pugi::xml_node n) {
  if (n.type() != pugi::node_pcdata) return false;
  for (const char* p = n.value(); *p; ++p) {
    if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') return false;
  }
  return true;
}

// Right after parsing, every attribute value points into the parsed buffer,
// just past its opening quote.
class QuoteRecorder : public pugi::xml_tree_walker {
 public:
  QuoteRecorder(const std::string& buffer, QuoteMap& q) : buffer_(buffer), quotes_(q) {}
  bool for_each(pugi::xml_node& n) override {
    for (pugi::xml_attribute a : n.attributes()) {
      const char* v = a.value();
      if (v > buffer_.data() && v <= buffer_.data() + buffer_.size()) {
        quotes_[a.internal_object()] = v[-1] == '"' ? '"' : '\'';
      }
    }
    return true;
  }

 private:
  const std::string& buffer_;
  QuoteMap& quotes_;
};

std::string where(const std::string& text, ptrdiff_t offset) {
  size_t line = 1, column = 1;
  for (ptrdiff_t i = 0; i < offset && static_cast<size_t>(i) < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return "offset " + std::to_string(offset) + " (line " + std::to_string(line) + ", column " +
         std::to_string(column) + ")";
}

// Parses `text` (described as `what` in messages) and checks that it holds
// exactly one element, named `root_name`, with nothing but white space,
// comments, PIs and a doctype around it.
Status parse(const std::string& text, const char* what, const char* root_name, Document* out) {
  if (text.size() > kMaxDocumentBytes) {
    return Status::Invalid(std::string(what) + " is larger than " +
                           std::to_string(kMaxDocumentBytes) + " bytes");
  }
  size_t nul = text.find('\0');
  if (nul != std::string::npos) {
    return Status::Invalid(std::string(what) + " has a NUL byte at " +
                           where(text, static_cast<ptrdiff_t>(nul)));
  }
  // With the terminating NUL inside the buffer, as pugixml's own copying
  // load does; without it pugixml drops the text after the root element.
  out->buffer = text;
  out->buffer += '\0';
  pugi::xml_parse_result r = out->doc.load_buffer_inplace(out->buffer.data(), out->buffer.size(),
                                                          kParseOptions, pugi::encoding_utf8);
  if (!r) {
    return Status::Invalid(std::string(what) + " does not parse: " + r.description() + " at " +
                           where(text, r.offset));
  }
  DepthCheck depth;
  out->doc.traverse(depth);
  if (depth.too_deep) {
    return Status::Invalid(std::string(what) + " nests elements deeper than " +
                           std::to_string(kMaxDepth) + " levels");
  }
  bool first = true;
  for (pugi::xml_node n : out->doc.children()) {
    switch (n.type()) {
      case pugi::node_element:
        if (out->root) {
          return Status::Invalid(std::string(what) + " has more than one root element");
        }
        out->root = n;
        break;
      case pugi::node_pcdata:
        if (!is_ws_text(n)) {
          return Status::Invalid(std::string(what) + " has text outside its root element");
        }
        break;
      case pugi::node_cdata:
        return Status::Invalid(std::string(what) + " has CDATA outside its root element");
      case pugi::node_declaration:
        if (!first) return Status::Invalid(std::string(what) + " has an XML declaration inside");
        break;
      case pugi::node_doctype:
        if (out->root) {
          return Status::Invalid(std::string(what) + " has a DOCTYPE after its root element");
        }
        break;
      default:
        break;
    }
    first = false;
  }
  if (!out->root) return Status::Invalid(std::string(what) + " has no root element");
  if (std::strcmp(out->root.name(), root_name) != 0) {
    return Status::Invalid(std::string(what) + ": root element is <" + out->root.name() +
                           ">, not <" + root_name + ">");
  }
  QuoteRecorder rec(out->buffer, out->quotes);
  out->doc.traverse(rec);
  return Status::Ok();
}

Status parse_domain(const std::string& text, Document* out) {
  return parse(text, "domain XML", "domain", out);
}

class Serializer {
 public:
  Serializer(const QuoteMap& quotes, std::string& out) : quotes_(quotes), out_(out) {}

  // Recursion is bounded: parse() refuses documents deeper than kMaxDepth,
  // and an added disk at most doubles that.
  void node(pugi::xml_node n) {
    switch (n.type()) {
      case pugi::node_document:
        for (pugi::xml_node c : n.children()) node(c);
        break;
      case pugi::node_element:
        out_ += '<';
        out_ += n.name();
        attributes(n);
        if (!n.first_child()) {
          out_ += "/>";
        } else {
          out_ += '>';
          for (pugi::xml_node c : n.children()) node(c);
          out_ += "</";
          out_ += n.name();
          out_ += '>';
        }
        break;
      case pugi::node_pcdata:
        out_ += n.value();
        break;
      case pugi::node_cdata:
        out_ += "<![CDATA[";
        out_ += n.value();
        out_ += "]]>";
        break;
      case pugi::node_comment:
        out_ += "<!--";
        out_ += n.value();
        out_ += "-->";
        break;
      case pugi::node_pi:
        out_ += "<?";
        out_ += n.name();
        if (*n.value()) {
          out_ += ' ';
          out_ += n.value();
        }
        out_ += "?>";
        break;
      case pugi::node_declaration:
        out_ += "<?";
        out_ += n.name();
        attributes(n);
        out_ += "?>";
        break;
      case pugi::node_doctype:
        out_ += "<!DOCTYPE ";
        out_ += n.value();
        out_ += '>';
        break;
      case pugi::node_null:
        break;
    }
  }

 private:
  void attributes(pugi::xml_node n) {
    for (pugi::xml_attribute a : n.attributes()) {
      std::string_view v = a.value();
      char q;
      auto it = quotes_.find(a.internal_object());
      if (it != quotes_.end()) {
        q = it->second;
      } else {
        bool has_single = v.find('\'') != std::string_view::npos;
        q = has_single && v.find('"') == std::string_view::npos ? '"' : '\'';
      }
      out_ += ' ';
      out_ += a.name();
      out_ += '=';
      out_ += q;
      for (char c : v) {
        if (c == q) {
          out_ += q == '\'' ? "&apos;" : "&quot;";
        } else {
          out_ += c;
        }
      }
      out_ += q;
    }
  }

  const QuoteMap& quotes_;
  std::string& out_;
};

std::string serialize(const Document& d, pugi::xml_node n) {
  std::string out;
  Serializer(d.quotes, out).node(n);
  return out;
}

std::string serialize(const Document& d) { return serialize(d, d.doc); }

// Gives the attributes of a copied subtree the quote characters of the
// original. `from` and `to` have the same shape.
void copy_quotes(pugi::xml_node from, const QuoteMap& from_quotes, pugi::xml_node to,
                 QuoteMap& to_quotes) {
  pugi::xml_attribute fa = from.first_attribute(), ta = to.first_attribute();
  for (; fa && ta; fa = fa.next_attribute(), ta = ta.next_attribute()) {
    auto it = from_quotes.find(fa.internal_object());
    if (it != from_quotes.end()) to_quotes[ta.internal_object()] = it->second;
  }
  pugi::xml_node fc = from.first_child(), tc = to.first_child();
  for (; fc && tc; fc = fc.next_sibling(), tc = tc.next_sibling()) {
    copy_quotes(fc, from_quotes, tc, to_quotes);
  }
}

// ---------------------------------------------------------------------------
// Indentation.

// The indentation of `n`: what follows the last newline of the white-space
// text node right before it. None when there is no such node.
std::optional<std::string> indent_of(pugi::xml_node n) {
  pugi::xml_node prev = n.previous_sibling();
  if (!is_ws_text(prev)) return std::nullopt;
  std::string_view ws = prev.value();
  size_t nl = ws.rfind('\n');
  if (nl == std::string_view::npos) return std::nullopt;
  return std::string(ws.substr(nl + 1));
}

std::string newline_of(pugi::xml_node n) {
  pugi::xml_node prev = n.previous_sibling();
  if (is_ws_text(prev) && std::strstr(prev.value(), "\r\n")) return "\r\n";
  return "\n";
}

class WsCollector : public pugi::xml_tree_walker {
 public:
  bool for_each(pugi::xml_node& n) override {
    if (is_ws_text(n)) nodes.push_back(n);
    return true;
  }
  std::vector<pugi::xml_node> nodes;
};

std::vector<pugi::xml_node> ws_nodes_under(pugi::xml_node n) {
  WsCollector c;
  n.traverse(c);
  return c.nodes;
}

// The indentation of the closing tag of element `n` (the base every line
// inside it is indented from), "" when it has none.
std::string base_indent_of(pugi::xml_node n) {
  pugi::xml_node last = n.last_child();
  if (!is_ws_text(last)) return "";
  std::string_view ws = last.value();
  size_t nl = ws.rfind('\n');
  if (nl == std::string_view::npos) return "";
  return std::string(ws.substr(nl + 1));
}

// Moves every line inside element `n` from base indentation `from` to `to`,
// writing line ends as `newline`.
void reindent(pugi::xml_node n, const std::string& from, const std::string& to,
              const std::string& newline) {
  for (pugi::xml_node ws : ws_nodes_under(n)) {
    std::string_view v = ws.value();
    size_t lines = 0;
    for (char c : v) lines += c == '\n';
    if (lines == 0) continue;
    std::string_view tail = v.substr(v.rfind('\n') + 1);
    if (tail.substr(0, from.size()) == from) tail.remove_prefix(from.size());
    std::string out;
    for (size_t i = 0; i < lines; ++i) out += newline;
    out += to;
    out += tail;
    ws.set_value(out.c_str());
  }
}

// Removes the white-space text inside element `n`: it goes into a document
// that is not indented.
void compact(pugi::xml_node n) {
  for (pugi::xml_node ws : ws_nodes_under(n)) ws.parent().remove_child(ws);
}

// Inserts a new element named `name` right before element `before`, with a
// copy of the white space that precedes `before`, so both are indented alike.
pugi::xml_node insert_element_before(pugi::xml_node before, const char* name) {
  pugi::xml_node parent = before.parent();
  pugi::xml_node prev = before.previous_sibling();
  if (is_ws_text(prev)) {
    pugi::xml_node e = parent.insert_child_after(name, prev);
    parent.insert_copy_after(prev, e);
    return e;
  }
  return parent.insert_child_before(name, before);
}

// Inserts a new element named `name` right after element `after`, indented
// like it.
pugi::xml_node insert_element_after(pugi::xml_node after, const char* name) {
  pugi::xml_node parent = after.parent();
  pugi::xml_node prev = after.previous_sibling();
  if (is_ws_text(prev)) {
    pugi::xml_node ws = parent.insert_copy_after(prev, after);
    return parent.insert_child_after(name, ws);
  }
  return parent.insert_child_after(name, after);
}

// Removes `n` and the white space that indents it.
void remove_with_indent(pugi::xml_node n) {
  pugi::xml_node parent = n.parent();
  pugi::xml_node prev = n.previous_sibling();
  if (is_ws_text(prev)) parent.remove_child(prev);
  parent.remove_child(n);
}

// Sets attribute `name` of `e` to `value` (escaped here), keeping its place;
// a new attribute goes right after `after` when `e` has that one.
void set_attr(pugi::xml_node e, const char* name, const std::string& value,
              const char* after = nullptr) {
  std::string raw = escape_attr(value);
  pugi::xml_attribute a = e.attribute(name);
  if (!a) {
    pugi::xml_attribute prev = after ? e.attribute(after) : pugi::xml_attribute();
    a = prev ? e.insert_attribute_after(name, prev) : e.append_attribute(name);
  }
  a.set_value(raw.c_str());
}

// ---------------------------------------------------------------------------
// Disks.

std::vector<pugi::xml_node> disks_of(pugi::xml_node domain) {
  std::vector<pugi::xml_node> out;
  for (pugi::xml_node devices : domain.children("devices")) {
    for (pugi::xml_node disk : devices.children("disk")) out.push_back(disk);
  }
  return out;
}

std::string attr(pugi::xml_node e, const char* name) { return decoded(e.attribute(name).value()); }

std::string target_dev_of(pugi::xml_node disk) { return attr(disk.child("target"), "dev"); }

bool is_rbd_source(pugi::xml_node disk, const std::string& name) {
  pugi::xml_node source = disk.child("source");
  return attr(source, "protocol") == "rbd" && attr(source, "name") == name;
}

Result<pugi::xml_node> select_disk(pugi::xml_node domain, const DiskSelector& which) {
  bool by_dev = !which.target_dev.empty();
  if (!by_dev && which.rbd_source.empty()) {
    return Status::Invalid("no disk selected: give a target dev or an rbd source");
  }
  std::string what =
      by_dev ? "target dev " + quoted(which.target_dev) : "rbd source " + quoted(which.rbd_source);
  pugi::xml_node found;
  for (pugi::xml_node disk : disks_of(domain)) {
    bool match =
        by_dev ? target_dev_of(disk) == which.target_dev : is_rbd_source(disk, which.rbd_source);
    if (!match) continue;
    if (found) {
      return Status::Invalid("more than one disk has " + what + "; select it by target dev");
    }
    found = disk;
  }
  if (!found) return Status::NotFound("no disk with " + what);
  return found;
}

std::string dev_prefix_for_bus(const std::string& bus) {
  if (bus == "virtio") return "vd";
  if (bus == "scsi" || bus == "sata" || bus == "usb") return "sd";
  if (bus == "ide") return "hd";
  return "";
}

// The n-th disk name suffix as libvirt counts them: a..z, aa..zz.
std::string dev_suffix(int n) {
  if (n < 26) return std::string(1, static_cast<char>('a' + n));
  n -= 26;
  return std::string(1, static_cast<char>('a' + n / 26)) + static_cast<char>('a' + n % 26);
}
constexpr int kDevSuffixes = 26 + 26 * 26;

// Runs `fn` and turns anything it throws into an error: nothing escapes the
// module.
template <typename Fn>
auto guarded(const char* op, Fn fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    return Status::Error(ENOMEM, std::string(op) + ": out of memory");
  } catch (const std::exception& e) {
    return Status::Error(EIO, std::string(op) + ": " + e.what());
  } catch (...) {
    return Status::Error(EIO, std::string(op) + ": unexpected exception");
  }
}

// The <driver> of `disk`, created as its first child (<driver name='qemu'>)
// when it has none.
pugi::xml_node driver_of(pugi::xml_node disk) {
  pugi::xml_node driver = disk.child("driver");
  if (driver) return driver;
  pugi::xml_node first =
      disk.find_child([](pugi::xml_node n) { return n.type() == pugi::node_element; });
  driver = first ? insert_element_before(first, "driver") : disk.append_child("driver");
  driver.append_attribute("name").set_value("qemu");
  return driver;
}

// The order of a device's <boot order='N'/>: a positive decimal number, as
// libvirt reads it (leading zeros allowed); at most 9 digits here.
Result<unsigned> boot_order_of(pugi::xml_node boot, pugi::xml_node device) {
  std::string v = attr(boot, "order");
  bool digits = !v.empty() && v.size() <= 9;
  for (char c : v) digits = digits && c >= '0' && c <= '9';
  if (!digits || std::stoul(v) == 0) {
    std::string dev = target_dev_of(device);
    return Status::Invalid("boot order " + quoted(v) + " of <" + device.name() + ">" +
                           (dev.empty() ? "" : " " + quoted(dev)) +
                           " is not a number from 1 to 999999999");
  }
  return static_cast<unsigned>(std::stoul(v));
}

}  // namespace

// ---------------------------------------------------------------------------

Status validate_rbd_disk(const RbdDisk& disk) {
  return guarded("validate rbd disk", [&]() -> Status {
    Status s = check_name("pool", disk.pool, kMaxPoolLen);
    if (!s.ok()) return s;
    s = check_name("image", disk.image, kMaxImageLen);
    if (!s.ok()) return s;
    if (disk.hosts.size() > kMaxHosts) {
      return Status::Invalid("more than " + std::to_string(kMaxHosts) + " monitor hosts");
    }
    for (const MonitorHost& h : disk.hosts) {
      s = check_host(h);
      if (!s.ok()) return s;
    }
    if (!disk.auth_username.empty() || !disk.secret_uuid.empty()) {
      s = check_name("auth username", disk.auth_username, kMaxUserLen);
      if (!s.ok()) return s;
      if (!is_uuid(disk.secret_uuid)) {
        return Status::Invalid("secret uuid " + quoted(disk.secret_uuid) +
                               " is not a UUID (8-4-4-4-12 hex digits)");
      }
    }
    if (!disk.serial.empty()) {
      s = check_name("serial", disk.serial, kMaxSerialLen);
      if (!s.ok()) return s;
    }
    s = check_cache_mode(disk.cache);
    if (!s.ok()) return s;
    if (disk.shareable) {
      s = check_shared_cache_mode(disk.cache);
      if (!s.ok()) return s;
    }
    if (disk.target_bus != "virtio" && disk.target_bus != "scsi" && disk.target_bus != "sata") {
      return Status::Invalid("target bus " + quoted(disk.target_bus) +
                             " is not one of virtio, scsi, sata");
    }
    std::string prefix = dev_prefix_for_bus(disk.target_bus);
    const std::string& dev = disk.target_dev;
    bool dev_ok = dev.size() >= 3 && dev.size() <= 4 && dev.compare(0, 2, prefix) == 0;
    for (size_t i = 2; dev_ok && i < dev.size(); ++i) dev_ok = dev[i] >= 'a' && dev[i] <= 'z';
    if (!dev_ok) {
      return Status::Invalid("target dev " + quoted(dev) + " is not " + prefix +
                             " followed by one or two letters a-z (bus " + disk.target_bus + ")");
    }
    return Status::Ok();
  });
}

Status validate_domain_name(const std::string& name) {
  if (name.empty()) return Status::Invalid("domain name \"\" is empty");
  if (name.size() > kMaxDomainNameLen) {
    return Status::Invalid("domain name " + quoted(name) + " is longer than " +
                           std::to_string(kMaxDomainNameLen) + " bytes");
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f || c == '/' || c == '\'' || c == '"' || c == '<' || c == '>' ||
        c == '&') {
      return Status::Invalid("domain name " + quoted(name) +
                             " has a control character, '/', a quote, '<', '>' or '&'");
    }
  }
  return Status::Ok();
}

Result<std::string> build_rbd_disk_xml(const RbdDisk& disk) {
  return guarded("build rbd disk", [&]() -> Result<std::string> {
    Status s = validate_rbd_disk(disk);
    if (!s.ok()) return s;
    // Element order as libvirt writes it back (virDomainDiskDefFormat).
    std::string x = "<disk type='network' device='disk'>\n";
    x += "  <driver name='qemu' type='raw' cache='" + escape_attr(disk.cache) + "'/>\n";
    if (!disk.auth_username.empty()) {
      x += "  <auth username='" + escape_attr(disk.auth_username) + "'>\n";
      x += "    <secret type='ceph' uuid='" + escape_attr(disk.secret_uuid) + "'/>\n";
      x += "  </auth>\n";
    }
    std::string name = escape_attr(disk.pool + "/" + disk.image);
    if (disk.hosts.empty()) {
      x += "  <source protocol='rbd' name='" + name + "'/>\n";
    } else {
      x += "  <source protocol='rbd' name='" + name + "'>\n";
      for (const MonitorHost& h : disk.hosts) {
        x += "    <host name='" + escape_attr(h.name) + "'";
        if (!h.port.empty()) x += " port='" + escape_attr(h.port) + "'";
        x += "/>\n";
      }
      x += "  </source>\n";
    }
    x += "  <target dev='" + escape_attr(disk.target_dev) + "' bus='" +
         escape_attr(disk.target_bus) + "'/>\n";
    if (disk.shareable) x += "  <shareable/>\n";
    if (!disk.serial.empty()) x += "  <serial>" + escape_attr(disk.serial) + "</serial>\n";
    x += "</disk>";
    return x;
  });
}

Result<std::vector<DiskInfo>> list_disks(const std::string& domain_xml) {
  return guarded("list disks", [&]() -> Result<std::vector<DiskInfo>> {
    Document d;
    Status s = parse_domain(domain_xml, &d);
    if (!s.ok()) return s;
    std::vector<DiskInfo> out;
    for (pugi::xml_node disk : disks_of(d.root)) {
      DiskInfo info;
      info.type = attr(disk, "type");
      info.device = attr(disk, "device");
      pugi::xml_node target = disk.child("target");
      info.target_dev = attr(target, "dev");
      info.target_bus = attr(target, "bus");
      pugi::xml_node source = disk.child("source");
      info.source_protocol = attr(source, "protocol");
      for (const char* a : {"name", "file", "dev"}) {
        if (source.attribute(a)) {
          info.source_name = attr(source, a);
          break;
        }
      }
      info.serial = decoded(disk.child("serial").text().get());
      pugi::xml_node driver = disk.child("driver");
      info.driver_type = attr(driver, "type");
      info.cache = attr(driver, "cache");
      // libvirt accepts <auth> in <disk> and in <source>.
      pugi::xml_node auth = disk.child("auth") ? disk.child("auth") : source.child("auth");
      info.auth_username = attr(auth, "username");
      info.secret_uuid = attr(auth.child("secret"), "uuid");
      info.shareable = static_cast<bool>(disk.child("shareable"));
      info.readonly = static_cast<bool>(disk.child("readonly"));
      out.push_back(std::move(info));
    }
    return out;
  });
}

Result<std::string> first_free_target_dev(const std::string& domain_xml, const std::string& bus) {
  return guarded("first free target dev", [&]() -> Result<std::string> {
    std::string prefix = dev_prefix_for_bus(bus);
    if (prefix.empty()) {
      return Status::Invalid("target bus " + quoted(bus) +
                             " is not one of virtio, scsi, sata, usb, ide");
    }
    Document d;
    Status s = parse_domain(domain_xml, &d);
    if (!s.ok()) return s;
    std::vector<std::string> used;
    for (pugi::xml_node disk : disks_of(d.root)) used.push_back(target_dev_of(disk));
    for (int i = 0; i < kDevSuffixes; ++i) {
      std::string dev = prefix + dev_suffix(i);
      bool taken = false;
      for (const std::string& u : used) taken = taken || u == dev;
      if (!taken) return dev;
    }
    return Status::Error(
        ENOSPC, "every target dev from " + prefix + "a to " + prefix + "zz is already used");
  });
}

Result<std::string> add_disk(const std::string& domain_xml, const std::string& disk_xml) {
  return guarded("add disk", [&]() -> Result<std::string> {
    Document d;
    Status s = parse_domain(domain_xml, &d);
    if (!s.ok()) return s;
    Document new_disk;
    s = parse(disk_xml, "disk XML", "disk", &new_disk);
    if (!s.ok()) return s;
    std::string dev = target_dev_of(new_disk.root);
    if (dev.empty()) return Status::Invalid("disk XML has no <target dev='...'>");
    for (pugi::xml_node disk : disks_of(d.root)) {
      if (target_dev_of(disk) == dev) {
        return Status::Exists("target dev " + quoted(dev) + " is already used by a disk");
      }
    }

    pugi::xml_node devices = d.root.child("devices");
    if (!devices) {
      // A domain without <devices> (libvirt never writes one): create it
      // after the last element of <domain>, indented like it.
      pugi::xml_node last;
      for (pugi::xml_node e : d.root.children()) {
        if (e.type() == pugi::node_element) last = e;
      }
      devices = last ? insert_element_after(last, "devices") : d.root.append_child("devices");
    }

    std::vector<pugi::xml_node> disks;
    for (pugi::xml_node disk : devices.children("disk")) disks.push_back(disk);
    pugi::xml_node first = devices.first_child();
    std::optional<std::string> indent;
    std::string newline = "\n";
    pugi::xml_node placed;
    if (!disks.empty()) {
      // After the last disk, indented like it.
      pugi::xml_node last = disks.back();
      indent = indent_of(last);
      newline = newline_of(last);
      pugi::xml_node prev = last.previous_sibling();
      pugi::xml_node anchor = is_ws_text(prev) ? devices.insert_copy_after(prev, last) : last;
      placed = devices.insert_copy_after(new_disk.root, anchor);
    } else if (is_ws_text(first) && first.next_sibling()) {
      // First in <devices>, indented like what follows.
      indent = indent_of(first.next_sibling());
      newline = newline_of(first.next_sibling());
      placed = devices.insert_copy_after(new_disk.root, first);
      devices.insert_copy_after(first, placed);
    } else if (first && !is_ws_text(first)) {
      // <devices> whose children are not indented.
      placed = devices.insert_copy_before(new_disk.root, first);
    } else {
      // Empty <devices>: indent one step (two spaces, as libvirt) deeper than
      // <devices> itself when that is indented.
      std::optional<std::string> parent_indent = indent_of(devices);
      if (parent_indent) {
        newline = newline_of(devices);
        indent = *parent_indent + "  ";
        pugi::xml_node ws = devices.prepend_child(pugi::node_pcdata);
        ws.set_value((newline + *indent).c_str());
        placed = devices.insert_copy_after(new_disk.root, ws);
        if (!first) {
          devices.append_child(pugi::node_pcdata).set_value((newline + *parent_indent).c_str());
        }
      } else {
        placed = devices.prepend_copy(new_disk.root);
      }
    }
    if (!placed) return Status::Error(ENOMEM, "add disk: out of memory");
    copy_quotes(new_disk.root, new_disk.quotes, placed, d.quotes);
    if (indent) {
      reindent(placed, base_indent_of(new_disk.root), *indent, newline);
    } else {
      compact(placed);
    }
    return serialize(d);
  });
}

Result<std::string> remove_disk(const std::string& domain_xml, const DiskSelector& which) {
  return guarded("remove disk", [&]() -> Result<std::string> {
    Document d;
    Status s = parse_domain(domain_xml, &d);
    if (!s.ok()) return s;
    Result<pugi::xml_node> disk = select_disk(d.root, which);
    if (!disk.ok()) return disk.status();
    remove_with_indent(*disk);
    return serialize(d);
  });
}

Result<std::string> set_disk_cache_mode(const std::string& domain_xml, const DiskSelector& which,
                                        const std::string& cache) {
  return guarded("set disk cache mode", [&]() -> Result<std::string> {
    Status s = check_cache_mode(cache);
    if (!s.ok()) return s;
    Document d;
    s = parse_domain(domain_xml, &d);
    if (!s.ok()) return s;
    Result<pugi::xml_node> disk = select_disk(d.root, which);
    if (!disk.ok()) return disk.status();
    if (disk->child("shareable")) {
      s = check_shared_cache_mode(cache);
      if (!s.ok()) return s;
    }
    pugi::xml_node driver = driver_of(*disk);
    set_attr(driver, "cache", cache, driver.attribute("type") ? "type" : "name");
    return serialize(d);
  });
}

Result<std::string> make_disk_shareable(const std::string& domain_xml, const DiskSelector& which,
                                        const std::string& cache) {
  return guarded("make disk shareable", [&]() -> Result<std::string> {
    Status s = check_shared_cache_mode(cache);
    if (!s.ok()) return s;
    Document d;
    s = parse_domain(domain_xml, &d);
    if (!s.ok()) return s;
    Result<pugi::xml_node> disk = select_disk(d.root, which);
    if (!disk.ok()) return disk.status();
    std::string type = attr(disk->child("driver"), "type");
    if (!type.empty() && type != "raw") {
      return Status::Invalid("disk " + quoted(target_dev_of(*disk)) + " has driver type " +
                             quoted(type) + ": only a raw disk can be shared");
    }
    pugi::xml_node driver = driver_of(*disk);
    set_attr(driver, "type", "raw", "name");
    set_attr(driver, "cache", cache, "type");
    if (!disk->child("shareable")) {
      // libvirt's order: ... target, iotune, readonly, shareable, transient,
      // serial, ...; go after the last element that comes before it.
      static const char* const kBefore[] = {"driver",   "auth",          "source",  "backingStore",
                                            "geometry", "blockio",       "mirror",  "target",
                                            "iotune",   "backenddomain", "readonly"};
      pugi::xml_node after, first;
      for (pugi::xml_node e : disk->children()) {
        if (e.type() != pugi::node_element) continue;
        if (!first) first = e;
        for (const char* name : kBefore) {
          if (std::strcmp(e.name(), name) == 0) after = e;
        }
      }
      if (after) {
        insert_element_after(after, "shareable");
      } else if (first) {
        insert_element_before(first, "shareable");
      } else {
        disk->append_child("shareable");
      }
    }
    return serialize(d);
  });
}

Result<std::string> set_disk_driver_type(const std::string& domain_xml, const DiskSelector& which,
                                         const std::string& type) {
  return guarded("set disk driver type", [&]() -> Result<std::string> {
    if (type != "raw" && type != "qcow2") {
      return Status::Invalid("driver type " + quoted(type) + " is not one of raw, qcow2");
    }
    Document d;
    Status s = parse_domain(domain_xml, &d);
    if (!s.ok()) return s;
    Result<pugi::xml_node> disk = select_disk(d.root, which);
    if (!disk.ok()) return disk.status();
    if (type != "raw" && disk->child("shareable")) {
      return Status::Invalid("disk " + quoted(target_dev_of(*disk)) +
                             " is shareable: only a raw disk can be shared");
    }
    pugi::xml_node driver = driver_of(*disk);
    set_attr(driver, "type", type, "name");
    return serialize(d);
  });
}

Result<std::string> set_disk_auth(const std::string& domain_xml, const DiskSelector& which,
                                  const std::string& username, const std::string& secret_uuid) {
  return guarded("set disk auth", [&]() -> Result<std::string> {
    Status s = check_name("auth username", username, 64);
    if (!s.ok()) return s;
    if (username.rfind("client.", 0) == 0) {
      return Status::Invalid("auth username " + quoted(username) + " must not start with client.");
    }
    if (!is_uuid(secret_uuid)) {
      return Status::Invalid("secret uuid " + quoted(secret_uuid) + " is not a uuid");
    }
    Document d;
    s = parse_domain(domain_xml, &d);
    if (!s.ok()) return s;
    Result<pugi::xml_node> disk = select_disk(d.root, which);
    if (!disk.ok()) return disk.status();
    pugi::xml_node source = disk->child("source");
    if (source.child("auth")) remove_with_indent(source.child("auth"));
    pugi::xml_node auth = disk->child("auth");
    if (!auth) {
      pugi::xml_node before = source;
      if (!before) {
        for (pugi::xml_node e : disk->children()) {
          if (e.type() == pugi::node_element && std::strcmp(e.name(), "driver") != 0) {
            before = e;
            break;
          }
        }
      }
      auth = before ? insert_element_before(before, "auth") : disk->append_child("auth");
    }
    set_attr(auth, "username", username);
    // The secret is rebuilt whole: one child, indented one level deeper.
    while (auth.first_child()) auth.remove_child(auth.first_child());
    std::optional<std::string> indent = indent_of(auth);
    const std::string nl = newline_of(auth);
    if (indent) auth.append_child(pugi::node_pcdata).set_value((nl + *indent + "  ").c_str());
    pugi::xml_node secret = auth.append_child("secret");
    set_attr(secret, "type", "ceph");
    set_attr(secret, "uuid", secret_uuid);
    if (indent) auth.append_child(pugi::node_pcdata).set_value((nl + *indent).c_str());
    return serialize(d);
  });
}

Result<std::string> make_boot_disk(const std::string& domain_xml, const DiskSelector& which) {
  return guarded("make boot disk", [&]() -> Result<std::string> {
    Document d;
    Status s = parse_domain(domain_xml, &d);
    if (!s.ok()) return s;
    Result<pugi::xml_node> disk = select_disk(d.root, which);
    if (!disk.ok()) return disk.status();
    std::vector<std::pair<pugi::xml_node, unsigned>> others;
    std::optional<unsigned> own;
    for (pugi::xml_node devices : d.root.children("devices")) {
      for (pugi::xml_node device : devices.children()) {
        if (device.type() != pugi::node_element) continue;
        for (pugi::xml_node boot : device.children("boot")) {
          Result<unsigned> order = boot_order_of(boot, device);
          if (!order.ok()) return order.status();
          if (device == *disk) {
            own = *order;
          } else {
            others.emplace_back(boot, *order);
          }
        }
      }
    }
    for (auto& [boot, order] : others) {
      if (!own || order < *own) set_attr(boot, "order", std::to_string(order + 1));
    }
    pugi::xml_node boot = disk->child("boot");
    if (!boot) {
      // libvirt writes the device's <boot> before <alias> and <address>.
      pugi::xml_node before, last;
      for (pugi::xml_node e : disk->children()) {
        if (e.type() != pugi::node_element) continue;
        last = e;
        if (!before &&
            (std::strcmp(e.name(), "alias") == 0 || std::strcmp(e.name(), "address") == 0 ||
             std::strcmp(e.name(), "acpi") == 0)) {
          before = e;
        }
      }
      boot = before ? insert_element_before(before, "boot")
             : last ? insert_element_after(last, "boot")
                    : disk->append_child("boot");
    }
    set_attr(boot, "order", "1");
    std::vector<pugi::xml_node> os_boots;
    for (pugi::xml_node os : d.root.children("os")) {
      for (pugi::xml_node b : os.children("boot")) os_boots.push_back(b);
    }
    for (pugi::xml_node b : os_boots) remove_with_indent(b);
    return serialize(d);
  });
}

namespace {

// Gives element `e` the text `raw` (already escaped) as its only child.
void set_text(pugi::xml_node e, const std::string& raw) {
  while (e.first_child()) e.remove_child(e.first_child());
  e.append_child(pugi::node_pcdata).set_value(raw.c_str());
}

// The child `name` of `domain`; a new one when it has none, placed after the
// last of `after` it has (the elements libvirt writes before it), or first.
pugi::xml_node domain_child(pugi::xml_node domain, const char* name,
                            std::initializer_list<const char*> after) {
  pugi::xml_node e = domain.child(name);
  if (e) return e;
  pugi::xml_node prev;
  for (const char* a : after) {
    if (domain.child(a)) prev = domain.child(a);
  }
  if (prev) return insert_element_after(prev, name);
  pugi::xml_node first =
      domain.find_child([](pugi::xml_node n) { return n.type() == pugi::node_element; });
  return first ? insert_element_before(first, name) : domain.append_child(name);
}

}  // namespace

Result<std::string> ensure_virtio_scsi_controller(const std::string& domain_xml) {
  return guarded("ensure virtio-scsi controller", [&]() -> Result<std::string> {
    Document d;
    Status s = parse_domain(domain_xml, &d);
    if (!s.ok()) return s;
    pugi::xml_node devices = d.root.child("devices");
    if (!devices) return Status::Invalid("domain XML has no <devices>");
    pugi::xml_node last_controller, last_disk;
    for (pugi::xml_node c : devices.children("controller")) {
      if (attr(c, "type") == "scsi") return serialize(d);
      last_controller = c;
    }
    for (pugi::xml_node disk : devices.children("disk")) last_disk = disk;
    pugi::xml_node anchor = last_controller ? last_controller : last_disk;
    pugi::xml_node controller =
        anchor ? insert_element_after(anchor, "controller") : devices.append_child("controller");
    set_attr(controller, "type", "scsi");
    set_attr(controller, "index", "0");
    set_attr(controller, "model", "virtio-scsi");
    return serialize(d);
  });
}

Result<std::string> set_domain_basics(const std::string& domain_xml, const DomainBasics& basics) {
  return guarded("set domain basics", [&]() -> Result<std::string> {
    Status s = validate_domain_name(basics.name);
    if (!s.ok()) return s;
    Document d;
    s = parse_domain(domain_xml, &d);
    if (!s.ok()) return s;
    set_text(domain_child(d.root, "name", {}), escape_attr(basics.name));
    while (d.root.child("uuid")) remove_with_indent(d.root.child("uuid"));
    if (basics.memory_mib != 0) {
      const std::string mib = std::to_string(basics.memory_mib);
      for (const char* name : {"memory", "currentMemory"}) {
        pugi::xml_node e = d.root.child(name);
        if (!e && std::strcmp(name, "memory") != 0) continue;
        if (!e)
          e = domain_child(
              d.root, name,
              {"name", "uuid", "genid", "title", "description", "metadata", "maxMemory"});
        set_attr(e, "unit", "MiB");
        set_text(e, mib);
      }
    }
    if (basics.vcpus != 0) {
      pugi::xml_node vcpu =
          domain_child(d.root, "vcpu",
                       {"name", "uuid", "genid", "title", "description", "metadata", "maxMemory",
                        "memory", "currentMemory", "blkiotune", "memtune", "memoryBacking"});
      vcpu.remove_attribute("current");
      set_text(vcpu, std::to_string(basics.vcpus));
    }
    return serialize(d);
  });
}

Result<std::string> disk_xml_of(const std::string& domain_xml, const DiskSelector& which) {
  return guarded("disk xml of", [&]() -> Result<std::string> {
    Document d;
    Status s = parse_domain(domain_xml, &d);
    if (!s.ok()) return s;
    Result<pugi::xml_node> disk = select_disk(d.root, which);
    if (!disk.ok()) return disk.status();
    // A copy of its own, moved to column 0, as build_rbd_disk_xml() writes it.
    Document out;
    pugi::xml_node copy = out.doc.append_copy(*disk);
    if (!copy) return Status::Error(ENOMEM, "disk xml of: out of memory");
    copy_quotes(*disk, d.quotes, copy, out.quotes);
    std::optional<std::string> indent = indent_of(*disk);
    if (indent) reindent(copy, *indent, "", newline_of(*disk));
    return serialize(out);
  });
}

Result<std::string> rewrite_domain_xml(const std::string& domain_xml) {
  return guarded("rewrite domain xml", [&]() -> Result<std::string> {
    Document d;
    Status s = parse_domain(domain_xml, &d);
    if (!s.ok()) return s;
    return serialize(d);
  });
}

std::string escape_xml(const std::string& text) { return escape_attr(text); }

}  // namespace rbdvol::xmlpatch
