// rbdvol ha agent --node NODE [--connect URI] [--once] [--name NAME]: the HA
// agent of one node (docs/ha.md). At every check of every HA domain that
// lists this node it asks the plugin for the storage and the lease
// (ha.check), decides with ha/decision.h, acts (lease, fencing, libvirt) and
// reports what it decided (ha.report). A check runs in a worker thread; the
// main thread watches the clock, so that a check held up by a cluster that
// stopped answering, or a lease that was not renewed in time, stops the
// domain here even while a Ceph call hangs.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "cli/backend_secret.h"
#include "cli/command.h"
#include "cli/libvirt_module_loader.h"
#include "ha/decision.h"

namespace rbdvol::cli {

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }

double unix_now() {
  using namespace std::chrono;
  return duration_cast<duration<double>>(system_clock::now().time_since_epoch()).count();
}

std::string timestamp() {
  char buf[32];
  const time_t t = time(nullptr);
  struct tm tm;
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::mutex g_log_mu;
void log_line(const std::string& name, const std::string& node, const std::string& text) {
  std::lock_guard<std::mutex> lock(g_log_mu);
  std::fprintf(stderr, "%s ha %s: node %s: %s\n", timestamp().c_str(), printable(name).c_str(),
               printable(node).c_str(), printable(text).c_str());
  std::fflush(stderr);
}

// How long the storage check may take before the domain is stopped here.
int storage_timeout_seconds(int interval, int lease) {
  return std::max(2, std::min(2 * interval, lease / 3));
}

// What one check saw and did, for the main thread.
struct CheckResult {
  bool storage_ok = false;
  bool held = false;
  uint64_t epoch = 0;
  Clock::time_point lease_deadline{};  // when held: renew before this
  bool maintenance = false;
  bool running_after = false;
  std::string lease_action, domain_action, reason;
  std::string quiet_key;  // what changes when the decision does (no times)
  bool acted = false;     // it started, stopped, took, released or fenced something
};

class Agent {
 public:
  Agent(Context& ctx, std::string node, bool once, std::string only)
      : ctx_(ctx), node_(std::move(node)), once_(once), only_(std::move(only)) {}

  Status run();

 private:
  struct Managed {
    json def;  // the definition as ha.list / ha.check answer it
    std::future<CheckResult> check;
    bool in_flight = false;
    Clock::time_point started{};
    Clock::time_point next{};
    bool held = false;
    uint64_t epoch = 0;
    Clock::time_point lease_deadline{};
    bool maintenance = false;
    bool running = false;  // as last seen here
    bool stopped_for_timeout = false;
    std::string last_said;
  };

  std::string name_of(const Managed& m) const { return m.def.at("name").get<std::string>(); }
  CheckResult check_once(const json& def, bool held_before, uint64_t epoch_before,
                         bool maintenance_before);
  // The full definitions (ha.show) of the HA domains that list this node,
  // and whether every backend answered.
  Result<std::pair<std::vector<json>, bool>> fetch_definitions();
  void merge_definitions(const std::vector<json>& defs, bool complete);
  Result<bool> running_here(const std::string& name);
  Status stop_here(const std::string& name, const std::string& why);
  Status fence_and_start(const json& def, uint64_t epoch, bool running, std::string* said);
  Status ensure_secret(const std::string& backend);
  void supervise(Managed& m);

  Context& ctx_;
  std::string node_;
  bool once_;
  std::string only_;
  double started_at_ = 0;  // unix seconds; 0 for --once (ha::LeaseInput::free_since)
  std::mutex hv_mu_;       // one libvirt call at a time on hv_
  std::unique_ptr<attach::Hypervisor> hv_;
  std::map<std::string, Managed> managed_;
  std::map<std::string, bool> secrets_;  // backend -> its secret is in libvirt
};

Result<bool> Agent::running_here(const std::string& name) {
  std::lock_guard<std::mutex> lock(hv_mu_);
  auto r = hv_->is_running(name);
  if (!r.ok() && r.status().err() == ENOENT) return false;
  return r;
}

// Stops the domain here at once: its QEMU is killed first (SIGKILL through
// libvirt's pid file, when this agent sees it), so that a QEMU stuck in I/O to
// a cluster that stopped answering does not hold the stop up; then libvirt
// destroys the domain.
Status Agent::stop_here(const std::string& name, const std::string& why) {
  std::lock_guard<std::mutex> lock(hv_mu_);
  std::ifstream pidfile("/run/libvirt/qemu/" + name + ".pid");
  long pid = 0;
  if (pidfile >> pid && pid > 1) ::kill(static_cast<pid_t>(pid), SIGKILL);
  Status s = hv_->destroy_domain(name);
  if (!s.ok()) {
    auto running = hv_->is_running(name);
    if (running.ok() && !*running) s = Status::Ok();  // it was already gone
  }
  log_line(name, node_,
           "stopped the domain here (" + why + ")" + (s.ok() ? "" : ": " + s.message()));
  return s;
}

Status Agent::ensure_secret(const std::string& backend) {
  if (secrets_[backend]) return Status::Ok();
  std::lock_guard<std::mutex> lock(hv_mu_);
  auto secret = ensure_backend_secret(ctx_, *hv_, backend);
  if (!secret.ok()) return secret.status();
  secrets_[backend] = true;
  return Status::Ok();
}

// Fences every other client of the volume (ha.fence, again until none is
// left, for up to 15 s), then defines the domain from its template and
// starts it. A copy running here is stopped first: its client is fenced too.
Status Agent::fence_and_start(const json& def, uint64_t epoch, bool running, std::string* said) {
  const std::string name = def.at("name");
  const std::string backend = def.at("backend");
  if (running) RETURN_IF_ERROR(stop_here(name, "restarting it after a takeover"));
  const auto deadline = Clock::now() + std::chrono::seconds(15);
  for (;;) {
    auto fenced = ctx_.call(
        "ha.fence", {{"name", name}, {"backend", backend}, {"node", node_}, {"epoch", epoch}});
    if (!fenced.ok()) return fenced.status();
    for (const auto& b : fenced->at("blocklisted")) {
      *said += "; blocklisted " + b.at("address").get<std::string>();
      log_line(name, node_,
               "fenced: blocklisted " + b.at("address").get<std::string>() + " at epoch " +
                   std::to_string(epoch));
    }
    // The answer lists the watchers as they were before this call's
    // blocklisting; the next call sees whether they went.
    if (fenced->at("watchers").empty()) break;
    if (Clock::now() > deadline) {
      return Status::Busy(std::to_string(fenced->at("watchers").size()) +
                          " client(s) still watch the volume after fencing; not starting");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  RETURN_IF_ERROR(ensure_secret(backend));
  std::lock_guard<std::mutex> lock(hv_mu_);
  // A definition left here (shut off) is replaced by the template.
  auto exists = hv_->is_running(name);
  if (exists.ok()) {
    Status u = hv_->undefine_domain(name);
    if (!u.ok()) return u;
  }
  RETURN_IF_ERROR(hv_->define_domain(def.at("domain_xml").get<std::string>()));
  return hv_->start_domain(name);
}

CheckResult Agent::check_once(const json& def, bool held_before, uint64_t epoch_before,
                              bool maintenance_before) {
  CheckResult out;
  const std::string name = def.at("name");
  const std::string backend = def.at("backend");
  int rank = 0;
  for (size_t i = 0; i < def.at("nodes").size(); ++i) {
    if (def.at("nodes")[i] == node_) rank = static_cast<int>(i);
  }
  auto running = running_here(name);
  if (!running.ok()) {
    // libvirt restarted, or does not answer: connect again once.
    {
      std::lock_guard<std::mutex> lock(hv_mu_);
      auto again = connect_libvirt(ctx_.libvirt_uri);
      if (again.ok()) hv_ = std::move(*again);
    }
    running = running_here(name);
  }
  if (!running.ok()) {
    // Whether the domain runs here is unknown: nothing is started, stopped
    // or fenced (a start would fence this node's own QEMU), and the lease is
    // only kept, not sought.
    out.storage_ok = true;
    out.held = held_before;
    out.epoch = epoch_before;
    out.maintenance = maintenance_before;
    out.lease_action = "none";
    out.domain_action = "none";
    out.reason =
        "libvirt does not answer (" + running.status().message() + "): the domain is left as it is";
    if (held_before) {
      const auto asked = Clock::now();
      auto got =
          ctx_.call("ha.lease_acquire", {{"name", name}, {"backend", backend}, {"node", node_}});
      if (got.ok() && got->at("held").get<bool>() && !got->at("took_over").get<bool>()) {
        out.lease_action = "renew";
        out.lease_deadline = asked + std::chrono::seconds(def.at("lease_seconds").get<int>()) -
                             std::chrono::milliseconds(1000);
      } else {
        out.held = false;
      }
    }
    out.running_after = true;  // as far as anyone knows: the watchdog may stop it
    out.quiet_key = out.reason;
    return out;
  }
  const bool running_before = *running;
  out.running_after = running_before;
  auto checked = ctx_.call("ha.check", {{"name", name}, {"backend", backend}});
  std::string storage_error;
  ha::LeaseInput li;
  li.me = node_;
  li.rank = rank;
  li.now = unix_now();
  li.free_since = std::max(def.value("created", 0.0), started_at_);
  li.running_here = running_before;
  li.grace_seconds = def.at("grace_seconds");
  li.interval_seconds = def.at("interval_seconds");
  if (checked.ok()) {
    const json& st = checked->at("state");
    li.storage_ok = true;
    li.lease.holder = st.value("holder", "");
    li.lease.epoch = st.value("epoch", uint64_t{0});
    li.lease.expires = st.value("expires", 0.0);
    li.lease.released = st.value("released", false);
    li.lease.released_at = st.value("released_at", 0.0);
    li.lease.relocate_to = st.value("relocate_to", "");
    li.lease.maintenance = st.value("maintenance", false);
  } else {
    storage_error = checked.status().message();
    li.lease.maintenance = maintenance_before;  // as last read
  }
  out.storage_ok = li.storage_ok;
  out.maintenance = li.lease.maintenance;
  ha::LeaseDecision lease = ha::lease_step(li);
  out.lease_action = ha::to_string(lease.action);

  ha::DomainInput di;
  di.storage_ok = li.storage_ok;
  di.maintenance = li.lease.maintenance;
  di.running_here = running_before;
  di.holder = li.lease.released ? "" : li.lease.holder;
  out.held = held_before && li.lease.holder == node_ && !li.lease.released;
  out.epoch = epoch_before;
  const auto asked = Clock::now();
  if (lease.action == ha::LeaseAction::kAcquire || lease.action == ha::LeaseAction::kRenew) {
    auto got =
        ctx_.call("ha.lease_acquire", {{"name", name}, {"backend", backend}, {"node", node_}});
    if (!got.ok()) {
      // The storage answered the check but not this: it is not to be relied
      // on. The lease deadline stays what the last renewal gave.
      di.storage_ok = out.storage_ok = false;
      storage_error = got.status().message();
    } else if (got->at("held").get<bool>()) {
      out.held = true;
      out.epoch = got->at("epoch");
      out.lease_deadline = asked + std::chrono::seconds(def.at("lease_seconds").get<int>()) -
                           std::chrono::milliseconds(1000);
      di.took_over = got->at("took_over").get<bool>();
      if (di.took_over || got->value("broke_own_lock", false)) out.acted = true;
      di.holder = node_;
    } else {
      out.held = false;
      di.holder = got->value("holder", "");
    }
  } else if (lease.action == ha::LeaseAction::kRelease) {
    di.releasing = true;
  } else if (lease.action == ha::LeaseAction::kNone && li.lease.holder != node_) {
    out.held = false;
  }
  di.held = out.held;
  ha::DomainDecision dom = ha::domain_step(di);
  out.domain_action = ha::to_string(dom.action);
  out.reason = dom.reason + "; lease " + out.lease_action + ": " + lease.reason;
  out.quiet_key = out.lease_action + "/" + out.domain_action + "/" + dom.reason + "/" +
                  (out.storage_ok ? "" : storage_error);
  if (!storage_error.empty()) out.reason += " (" + storage_error + ")";

  Status acted;
  switch (dom.action) {
    case ha::DomainAction::kStop:
      acted = stop_here(name, dom.reason);
      out.acted = true;
      if (acted.ok()) out.running_after = false;
      break;
    case ha::DomainAction::kFenceAndStart: {
      std::string said;
      acted = fence_and_start(def, out.epoch, running_before, &said);
      out.reason += said;
      out.acted = true;
      auto now_running = running_here(name);
      out.running_after = now_running.ok() && *now_running;
      break;
    }
    case ha::DomainAction::kKeep:
    case ha::DomainAction::kNone:
      break;
  }
  if (!acted.ok()) out.reason += "; failed: " + acted.message();
  if (di.releasing && !out.running_after) {
    auto released =
        ctx_.call("ha.lease_release", {{"name", name}, {"backend", backend}, {"node", node_}});
    out.acted = true;
    if (released.ok()) {
      out.held = false;
    } else {
      out.reason += "; release failed: " + released.status().message();
    }
  }
  if (out.storage_ok) {
    json report = {{"decision", out.domain_action},
                   {"lease", out.lease_action},
                   {"reason", out.reason},
                   {"epoch", out.epoch},
                   {"held", out.held},
                   {"running", out.running_after}};
    auto r = ctx_.call("ha.report",
                       {{"name", name}, {"backend", backend}, {"node", node_}, {"check", report}});
    (void)r;  // a report that did not land is seen as an old check in ha status
  }
  return out;
}

Result<std::pair<std::vector<json>, bool>> Agent::fetch_definitions() {
  ASSIGN_OR_RETURN(json listed, ctx_.call("ha.list", json::object()));
  std::vector<json> defs;
  bool complete = listed.at("unreachable").empty();
  for (const auto& d : listed.at("domains")) {
    bool mine = false;
    for (const auto& n : d.at("nodes")) mine = mine || n == node_;
    const std::string name = d.at("name");
    if (!mine || (!only_.empty() && name != only_)) continue;
    // The full definition (the template) comes with ha.show.
    auto full = ctx_.call("ha.show", {{"name", name}, {"backend", d.at("backend")}});
    if (!full.ok()) {
      complete = false;
      continue;
    }
    defs.push_back(std::move(*full));
  }
  return std::make_pair(std::move(defs), complete);
}

void Agent::merge_definitions(const std::vector<json>& defs, bool complete) {
  for (const auto& d : defs) {
    const std::string name = d.at("name");
    if (managed_.count(name)) continue;
    Managed m;
    m.def = d;
    managed_.emplace(name, std::move(m));
    log_line(name, node_, "watching this HA domain");
  }
  // Definitions removed (ha undefine) are let go; their domains stay as they
  // are. Only a listing that every backend answered can tell.
  if (!complete) return;
  for (auto it = managed_.begin(); it != managed_.end();) {
    bool still = false;
    for (const auto& d : defs) still = still || d.at("name") == it->first;
    if (!still && !it->second.in_flight) {
      log_line(it->first, node_, "no longer defined here; its domain is left as it is");
      it = managed_.erase(it);
    } else {
      ++it;
    }
  }
}

// The clock's side of a check in flight, and what a finished check found.
void Agent::supervise(Managed& m) {
  const std::string name = name_of(m);
  const auto now = Clock::now();
  const int interval = m.def.at("interval_seconds");
  const int lease = m.def.at("lease_seconds");
  if (m.in_flight) {
    if (m.check.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
      CheckResult r = m.check.get();
      m.in_flight = false;
      m.held = r.held;
      m.epoch = r.epoch;
      m.maintenance = r.maintenance;
      m.running = r.running_after;
      if (r.held && r.lease_deadline != Clock::time_point{}) m.lease_deadline = r.lease_deadline;
      // Every decision that acts is logged; one that repeats the last is not.
      if (r.acted || r.quiet_key != m.last_said) {
        log_line(name, node_,
                 "lease " + r.lease_action + ", domain " + r.domain_action + ": " + r.reason);
        m.last_said = r.quiet_key;
      }
      m.stopped_for_timeout = false;
      return;
    }
    // Held up in Ceph: the storage does not answer within its time.
    if (!m.maintenance && m.running && !m.stopped_for_timeout &&
        now - m.started > std::chrono::seconds(storage_timeout_seconds(interval, lease))) {
      if (stop_here(name, "the storage did not answer within " +
                              std::to_string(storage_timeout_seconds(interval, lease)) + " s")
              .ok()) {
        m.running = false;
      }
      m.stopped_for_timeout = true;
    }
  }
  // Self-fencing: a lease that was not renewed in time is lost.
  if (m.held && now > m.lease_deadline) {
    m.held = false;
    if (!m.maintenance && m.running) {
      if (stop_here(name, "the lease was not renewed before it expired").ok()) m.running = false;
    }
  }
}

Status Agent::run() {
  // One agent per node: the lease of this node's earlier agent is taken over
  // (broken) by the next, which is only safe if it is dead.
  const std::string lock_path = "/run/lock/rbdvol-ha-agent." + node_ + ".lock";
  int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) return Status::Error(errno, "cannot open " + lock_path);
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    return Status::Busy("another HA agent of node " + node_ + " runs here (it holds " + lock_path +
                        ")");
  }
  auto driver = ctx_.driver();
  if (!driver.ok()) return driver.status();
  auto hv = connect_libvirt(ctx_.libvirt_uri);
  if (!hv.ok()) return hv.status();
  hv_ = std::move(*hv);
  if (!once_) {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
  }
  if (!once_) started_at_ = unix_now();
  log_line("*", node_, once_ ? "one check" : "agent started");
  auto fetched = fetch_definitions();
  if (fetched.ok()) {
    merge_definitions(fetched->first, fetched->second);
  } else if (once_) {
    return fetched.status();
  } else {
    log_line("*", node_, "cannot list the HA domains yet: " + fetched.status().message());
  }
  if (once_) {
    Status worst;
    for (auto& [name, m] : managed_) {
      CheckResult r = check_once(m.def, false, 0, false);
      log_line(name, node_,
               "lease " + r.lease_action + ", domain " + r.domain_action + ": " + r.reason);
      if (!r.storage_ok) worst = Status::Error(EHOSTUNREACH, name + ": " + r.reason);
    }
    if (managed_.empty()) log_line("*", node_, "no HA domain lists this node");
    return worst;
  }
  // New and removed definitions are picked up every 10 s, in the
  // background: a backend that does not answer must not hold the checks up.
  auto next_refresh = Clock::now() + std::chrono::seconds(10);
  std::future<Result<std::pair<std::vector<json>, bool>>> refreshing;
  bool refresh_in_flight = false;
  while (!g_stop) {
    const auto now = Clock::now();
    for (auto& [name, m] : managed_) {
      supervise(m);
      if (!m.in_flight && now >= m.next) {
        m.in_flight = true;
        m.started = now;
        m.next = now + std::chrono::seconds(m.def.at("interval_seconds").get<int>());
        m.check = std::async(std::launch::async, [this, def = m.def, held = m.held, epoch = m.epoch,
                                                  maintenance = m.maintenance] {
          return check_once(def, held, epoch, maintenance);
        });
      }
    }
    if (refresh_in_flight &&
        refreshing.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
      refresh_in_flight = false;
      auto r = refreshing.get();
      if (r.ok()) {
        merge_definitions(r->first, r->second);
      } else {
        log_line("*", node_, "cannot list the HA domains: " + r.status().message());
      }
    }
    if (!refresh_in_flight && now >= next_refresh) {
      next_refresh = now + std::chrono::seconds(10);
      refresh_in_flight = true;
      refreshing = std::async(std::launch::async, [this] { return fetch_definitions(); });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  log_line("*", node_, "agent stopping; domains and leases are left as they are");
  for (auto& [name, m] : managed_) {
    if (m.in_flight) m.check.wait();
  }
  if (refresh_in_flight) refreshing.wait();
  return Status::Ok();
}

}  // namespace

Command ha_agent_command() {
  Command c;
  c.words = "ha agent";
  c.usage = "--node NODE [--connect URI] [--once] [--name NAME]";
  c.summary =
      "Run the HA agent of NODE: keep each HA domain that lists NODE running on exactly one "
      "node, with a lease in Ceph and fencing. --once: one check, for a timer.";
  c.options = {
      {"node", true, "this node's name, as the definitions list it", "NODE"},
      {"once", false, "run one check of each HA domain and exit", ""},
      {"name", true, "only this HA domain", "NAME"},
  };
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    if (!args.has("node")) return usage_error("--node NODE is required");
    const std::string node = args.get("node");
    bool valid = !node.empty() && node.size() <= 64 && node[0] != '.' && node[0] != '-';
    for (char ch : node)
      valid = valid &&
              (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '.' || ch == '-');
    if (!valid) {
      return usage_error(
          "--node takes a node name: 1 to 64 of letters, digits, '_', '.' and '-', "
          "not starting with '.' or '-'; not '" +
          printable(node) + "'");
    }
    Agent agent(ctx, args.get("node"), args.has("once"), args.get("name"));
    return agent.run();
  };
  return c;
}

}  // namespace rbdvol::cli
