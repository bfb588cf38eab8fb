// rbdvol check [--backend B] [--repair] [--min-age SECONDS] [--only ID,...]
//
// The plugin's backend.check finds what is wrong inside Ceph; the attachment
// records it returns are checked here against libvirt, which the plugin
// knows nothing of: a record whose domain no longer has the volume's disk is
// stale.
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "attach/hypervisor.h"
#include "cli/command.h"
#include "cli/libvirt_module_loader.h"
#include "xmlpatch/xmlpatch.h"

namespace rbdvol::cli {

namespace {

using nlohmann::json;

// "2026-11-21T05:17:51Z" -> seconds since the epoch; 0 when it does not parse.
time_t parse_utc(const std::string& text) {
  struct tm tm = {};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (!end || *end) return 0;
  return timegm(&tm);
}

// Whether `domain`'s live XML (when it runs) or its persistent definition
// has an RBD disk on pool/image. ENOENT when there is no such domain.
Result<bool> domain_has_disk(attach::Hypervisor& hv, const std::string& domain,
                             const std::string& source) {
  ASSIGN_OR_RETURN(bool running, hv.is_running(domain));
  std::vector<bool> which = {true};  // persistent
  if (running) which.push_back(false);
  for (bool persistent : which) {
    auto xml = hv.domain_xml(domain, persistent);
    if (!xml.ok()) {
      // A transient domain has no persistent definition.
      if (persistent && running) continue;
      return xml.status();
    }
    ASSIGN_OR_RETURN(auto disks, xmlpatch::list_disks(*xml));
    for (const auto& d : disks) {
      if (d.source_protocol == "rbd" && d.source_name == source) return true;
    }
  }
  return false;
}

// The stale-attachment findings for the records backend.check returned.
// Each is added to `answer["findings"]`; returns how many remain.
int check_attachments(Context& ctx, json& answer, bool repair, int64_t min_age) {
  int remaining = 0;
  if (answer.at("attachments").empty()) {
    answer["libvirt"] = {{"checked", true}, {"error", ""}};
    return 0;
  }
  auto hv = connect_libvirt(ctx.libvirt_uri);
  if (!hv.ok()) {
    // Said, not guessed: without libvirt no record can be called stale.
    answer["libvirt"] = {{"checked", false}, {"error", hv.status().message()}};
    return 0;
  }
  answer["libvirt"] = {{"checked", true}, {"error", ""}};
  const time_t now = ::time(nullptr);
  for (const auto& volume : answer.at("attachments")) {
    const std::string source =
        volume.at("pool").get<std::string>() + "/" + volume.at("image").get<std::string>();
    const std::string volume_id = volume.at("volume");
    for (const auto& record : volume.at("records")) {
      const std::string domain = record.value("domain", "");
      const std::string state = record.value("state", "");
      const time_t since = parse_utc(record.value("since", ""));
      // An attach reserves its record before it touches the domain.
      if (state == "attaching" && since + min_age > now) continue;
      json f = {{"kind", "stale_attachment"},
                {"backend", volume.at("backend")},
                {"pool", volume.at("pool")},
                {"image", volume.at("image")},
                {"snapshot", ""},
                {"ids", json::array({volume_id})},
                {"domain", domain},
                {"repair", ""},
                {"left", ""},
                {"repaired", false}};
      auto has = domain_has_disk(**hv, domain, source);
      if (has.ok() && *has) continue;
      if (!has.ok() && has.status().err() != ENOENT) {
        f["kind"] = "unchecked_attachment";
        f["problem"] = "volume " + volume_id + " is recorded as attached to domain " + domain +
                       ", whose disks could not be read: " + has.status().message();
        f["left"] = "nothing is known to be wrong";
        answer["findings"].push_back(f);
        ++remaining;
        continue;
      }
      if (!has.ok()) {
        f["problem"] = "volume " + volume_id + " is recorded as attached to domain " + domain +
                       " (" + state + "), which libvirt does not know";
        f["left"] =
            "the domain may be defined on another host; if it is gone for good, 'rbdvol detach " +
            volume_id + " " + domain + "' removes the record";
        answer["findings"].push_back(f);
        ++remaining;
        continue;
      }
      f["problem"] = "volume " + volume_id + " is recorded as attached to domain " + domain + " (" +
                     state + "), which has no disk on " + source;
      f["repair"] = "remove the record of domain " + domain + " from the volume";
      if (repair) {
        auto removed = ctx.call("attachment.delete", {{"volume", volume_id}, {"domain", domain}});
        if (removed.ok()) {
          f["repaired"] = true;
        } else {
          f["left"] = "the repair failed: " + removed.status().message();
        }
      }
      if (!f["repaired"].get<bool>()) ++remaining;
      answer["findings"].push_back(f);
    }
  }
  return remaining;
}

void print_check(const json& a) {
  const bool repair = a.at("repair").get<bool>();
  for (const auto& f : a.at("findings")) {
    std::string where = f.at("backend").get<std::string>() + " " + f.at("pool").get<std::string>() +
                        "/" + f.at("image").get<std::string>();
    if (!f.at("snapshot").get<std::string>().empty()) {
      where += "@" + f.at("snapshot").get<std::string>();
    }
    std::printf("%s  %s\n  %s\n", f.at("kind").get<std::string>().c_str(), where.c_str(),
                f.at("problem").get<std::string>().c_str());
    const std::string fix = f.at("repair"), left = f.at("left");
    if (repair && f.at("repaired").get<bool>()) {
      std::printf("  repaired: %s\n", fix.c_str());
    } else if (!left.empty()) {
      std::printf("  left: %s\n", left.c_str());
    } else if (!fix.empty()) {
      std::printf("  --repair would %s\n", fix.c_str());
    }
  }
  for (const auto& u : a.at("unreachable")) {
    std::printf("backend %s not checked: %s\n", u.at("backend").get<std::string>().c_str(),
                u.at("error").get<std::string>().c_str());
  }
  if (!a.at("libvirt").at("checked").get<bool>()) {
    std::printf("attachment records not checked: libvirt is unreachable: %s\n",
                a.at("libvirt").at("error").get<std::string>().c_str());
  }
  const int remaining = a.at("remaining");
  std::printf(
      "%zu finding(s)%s, %d remaining\n", a.at("findings").size(),
      repair ? (", " + std::to_string(a.at("repaired").get<int>()) + " repaired").c_str() : "",
      remaining);
}

}  // namespace

Command check_command() {
  Command c;
  c.words = "check";
  c.usage = "[--backend ID] [--repair] [--min-age SECONDS] [--only ID[,ID...]]";
  c.summary =
      "Find what crashes, kills and outside tools left behind (partial images, childless hidden "
      "snapshots, snapshot-directory mismatches, stale attachment records, ...); --repair mends "
      "what is safe. Exit status 1 while findings remain.";
  c.options = {
      {"backend", true, "only this backend", "ID"},
      {"repair", false,
       "mend what is safe to mend and say what is left and why; never touches an image or "
       "snapshot rbdvol did not make",
       ""},
      {"min-age", true,
       "leave out snapshots, unfinished volumes and attachments being made younger than this "
       "(they may belong to an operation still running; default 600)",
       "SECONDS"},
      {"only", true, "only findings that name one of these volume, image or snapshot ids",
       "ID[,ID...]"},
  };
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    json request = json::object();
    if (args.has("backend")) request["backend"] = args.get("backend");
    const bool repair = args.has("repair");
    request["repair"] = repair;
    int64_t min_age = 600;
    if (args.has("min-age")) {
      const std::string text = args.get("min-age");
      char* end = nullptr;
      const long long v = std::strtoll(text.c_str(), &end, 10);
      if (text.empty() || *end || v < 0) {
        return Status::Invalid("--min-age takes a number of seconds, 0 or more, not '" + text +
                               "'");
      }
      min_age = v;
    }
    request["min_age"] = min_age;
    if (args.has("only")) {
      request["only"] = json::array();
      std::stringstream ids(args.get("only"));
      for (std::string id; std::getline(ids, id, ',');) {
        if (!id.empty()) request["only"].push_back(id);
      }
    }
    ASSIGN_OR_RETURN(json answer, ctx.call("backend.check", request));
    int remaining = answer.at("remaining").get<int>();
    remaining += check_attachments(ctx, answer, repair, min_age);
    int repaired = 0;
    for (const auto& f : answer.at("findings")) repaired += f.value("repaired", false) ? 1 : 0;
    answer["remaining"] = remaining;
    answer["repaired"] = repaired;
    print_answer(ctx, answer, print_check);
    if (remaining > 0 || !answer.at("unreachable").empty()) {
      return Status::Error(
          EAGAIN,
          std::to_string(remaining) + " finding(s) remain" +
              (answer.at("unreachable").empty() ? "" : " and some backends could not be checked"));
    }
    return Status::Ok();
  };
  return c;
}

}  // namespace rbdvol::cli
