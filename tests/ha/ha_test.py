#!/usr/bin/python3
"""The HA agent against real daemons (issue 20, docs/ha.md): a guest booted
from a volume, kept on exactly one of several hypervisors on this machine by
one `rbdvol ha agent` per hypervisor, through agents killed, frozen, a cluster
paused, a power loss, maintenance and relocation.

Usage: ha_test.py RBDVOL [unittest args]

The hypervisors are named by $RBDVOL_HA_HYPERVISORS (default "system n2 n3",
the first is the primary): "system" is the sandbox's libvirtd, every other one
a libvirtd in a mount namespace of its own (scripts/second-hypervisor), which
the test starts, and stops at the end when it started it. Its agent runs in
that namespace. The guest is the image scripts/make-boot-image builds, uploaded
and cloned into a volume. Needs root, the sandbox ($RBDVOL_CONFIG, scripts/sandbox
env) and Debian's python3-rados and python3-rbd (hence /usr/bin/python3). The
test pauses a cluster and kills processes: run it alone, under the sandbox's
lock (docs/testing.md).

The main assertion of every case: a sampler looks every 0.5 s at where the
domain is live, and it must never be live on two hypervisors at once. A QEMU
counts as live when libvirt says its domain runs (not paused, not shut off),
the process is not stopped (SIGSTOP), and its RBD client is not blocklisted in
Ceph. Which client is a QEMU's is learnt as it starts: the one new watcher of
the volume's header that appears with the one new QEMU (unknown = counted live).
On a failure the timeline of samples is printed.

Timings are the defaults of `rbdvol ha define` (lease 12 s, grace 4 s, checks
every 2 s). The failover time (the holder's death, killed or frozen, to the
guest running on another hypervisor) is measured over several runs, and the
time to come back after a power loss; a table is printed at the end.
"""
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

import rados
import rbd

RBDVOL = None
CONFIG = os.environ.get("RBDVOL_CONFIG", "")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECOND_HV = os.path.join(REPO, "scripts", "second-hypervisor")
SANDBOX = os.path.join(REPO, "scripts", "sandbox")
NODES = os.environ.get("RBDVOL_HA_HYPERVISORS", "system n2 n3").split()
PRIMARY = NODES[0] if NODES else "system"
RUNS = int(os.environ.get("RBDVOL_HA_RUNS", "3"))
TAG = uuid.uuid4().hex[:8]
NAME = "ha-test-" + TAG
WORK = tempfile.mkdtemp(prefix="rbdvol-ha-test-")
T0 = time.monotonic()
RESULTS = {"killed": [], "frozen": [], "first start": None, "paused": None, "power loss": None}


def now():
    return time.monotonic() - T0


def say(text):
    print("%7.1f  %s" % (now(), text), flush=True)


def run(argv, timeout=120, check=True):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError("%s: exit %d\n%s%s" % (" ".join(argv), r.returncode, r.stdout, r.stderr))
    return r


def rbdvol(*args, check=True, timeout=120):
    return run([RBDVOL, "--config", CONFIG] + list(args), timeout=timeout, check=check)


def rbdvol_json(*args):
    return json.loads(rbdvol("--json", *args).stdout)


def sandbox_dir():
    return os.environ.get("RBDVOL_SANDBOX_DIR") or os.path.join(REPO, ".sandbox")


# --- the hypervisors ----------------------------------------------------------

class Hypervisors:
    """The nodes' libvirtds: "system" and those of scripts/second-hypervisor."""

    def __init__(self, nodes):
        self.nodes = nodes
        self.started = []
        self.ns_pids = {}

    def start(self):
        was = {n: run([SECOND_HV, "status", n], check=False).returncode == 0
               for n in self.nodes if n != "system"}
        procs = {n: subprocess.Popen([SECOND_HV, "start", n], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
                 for n in self.nodes if n != "system"}
        for n, p in procs.items():
            out = p.communicate(timeout=180)[0]
            if not was[n]:
                self.started.append(n)
            if p.returncode != 0:
                raise AssertionError("second-hypervisor start %s: %s" % (n, out))
            say(out.strip())

    def stop(self):
        for n in self.started:
            r = run([SECOND_HV, "stop", n], check=False, timeout=120)
            say((r.stdout + r.stderr).strip())
        self.started = []

    def ns_pid(self, node):
        if node == "system":
            return None
        if node not in self.ns_pids:
            with open(os.path.join(sandbox_dir(), "hv-" + node, "ns.pid")) as f:
                self.ns_pids[node] = f.read().strip()
        return self.ns_pids[node]

    def root(self, node):
        """Where NODE's files are seen from here ("" for the host's own)."""
        return "" if node == "system" else "/proc/%s/root" % self.ns_pid(node)

    def prefix(self, node):
        """The argv prefix that runs a command in NODE's namespace."""
        return [] if node == "system" else ["nsenter", "-t", self.ns_pid(node), "-m", "--"]

    def virsh(self, node, *args, check=False):
        return run(self.prefix(node) + ["virsh", "-q", "-c", "qemu:///system"] + list(args),
                   check=check, timeout=60)

    def devices(self):
        """The tmpfs on /run/libvirt of each node, as "MAJOR:MINOR" -> node."""
        out = {}
        for n in self.nodes:
            if n == "system":
                continue
            with open(os.path.join(sandbox_dir(), "hv-" + n, "run-libvirt.dev")) as f:
                out[f.read().strip()] = n
        return out

    def qemu_log(self, node):
        if node == "system":
            return "/var/log/libvirt/qemu/%s.log" % NAME
        return os.path.join(sandbox_dir(), "hv-" + node, "log", "qemu", NAME + ".log")


# --- processes ----------------------------------------------------------------

def proc_state(pid):
    """The state letter of /proc/PID/stat (R, S, T, ...), None when gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def run_libvirt_dev(pid):
    """The device of PID's /run/libvirt mount, "" when it has none of its own."""
    dev = ""
    try:
        with open("/proc/%d/mountinfo" % pid) as f:
            for line in f:
                fields = line.split()
                if len(fields) > 4 and fields[4] == "/run/libvirt":
                    dev = fields[2]
    except OSError:
        return None
    return dev


def guest_qemus():
    """The pids of every QEMU process of the guest, on any node."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if not argv or b"qemu-system" not in argv[0]:
            continue
        if ("guest=%s," % NAME).encode() in b" ".join(argv) + b",":
            pids.append(int(entry))
    return pids


class Agent:
    """One node's `rbdvol ha agent`, its output appended to a log file."""

    def __init__(self, hvs, node):
        self.hvs = hvs
        self.node = node
        self.proc = None
        self.log_path = os.path.join(WORK, "agent-%s.log" % node)

    def start(self):
        log = open(self.log_path, "a")
        log.write("--- started at %.1f s\n" % now())
        log.flush()
        self.proc = subprocess.Popen(
            self.hvs.prefix(self.node) +
            [RBDVOL, "--config", CONFIG, "ha", "agent", "--node", self.node,
             "--connect", "qemu:///system", "--name", NAME],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        if self.alive():
            os.kill(self.proc.pid, sig)

    def kill(self):
        if self.alive():
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        if self.alive():
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_text(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ""


# --- the sampler --------------------------------------------------------------

def first_json(text):
    """The first JSON document of TEXT (Pacific's `osd blocklist ls` answers
    two of them)."""
    text = text.strip()
    if not text:
        return []
    doc, _ = json.JSONDecoder().raw_decode(text)
    return doc


class Sampler:
    """Every 0.5 s: on which nodes the guest is live. A second thread asks
    Ceph (which may not answer: a paused cluster) for the volume's watchers
    and the blocklist; what it last heard is used."""

    def __init__(self, hvs, ceph_conf, pool, image):
        self.hvs = hvs
        self.ceph_conf = ceph_conf
        self.pool = pool
        self.image = image
        self.lock = threading.Lock()
        self.samples = []  # (t, live nodes, {node: description})
        self.events = []  # (t, text)
        self.violations = []
        self.stop_flag = threading.Event()
        self.blocklist = set()
        self.ceph_heard = None
        self.pid_first_seen = {}
        self.addr_first_seen = {}
        self.pid_addr = {}
        self.addr_pid = {}
        self.stray_before = set()
        self.devs = hvs.devices()
        self.threads = [threading.Thread(target=self._sample_loop, daemon=True),
                        threading.Thread(target=self._ceph_loop, daemon=True)]

    def start(self):
        for t in self.threads:
            t.start()

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(10)

    def event(self, text):
        with self.lock:
            self.events.append((now(), text))
        say(text)

    # Ceph's side.
    def _ceph_loop(self):
        cluster = None
        img = None
        failing = False
        while not self.stop_flag.is_set():
            started = time.monotonic()
            try:
                if img is None:
                    if cluster is None:
                        cluster = rados.Rados(conffile=self.ceph_conf,
                                              conf={"rados_osd_op_timeout": "3",
                                                    "rados_mon_op_timeout": "3"})
                        cluster.connect(timeout=5)
                    ioctx = cluster.open_ioctx(self.pool)
                    img = rbd.Image(ioctx, self.image, read_only=True)  # no watch of its own
                watchers = [w["addr"] for w in img.watchers_list()]
                ret, out, errs = cluster.mon_command(
                    json.dumps({"prefix": "osd blocklist ls", "format": "json"}), b"", timeout=3)
                if ret != 0:
                    raise RuntimeError("osd blocklist ls: %s" % errs)
                blocked = {e["addr"] for e in first_json(out.decode())}
                self._learn(watchers, blocked)
            except Exception as e:  # a paused cluster: try again; keep what was heard
                if cluster is not None and cluster.state != "connected":
                    cluster = img = None
                if not failing:
                    self.event("sampler: Ceph does not answer (%s); the last answer stands" % e)
                failing = True
            else:
                if failing:
                    self.event("sampler: Ceph answers again")
                failing = False
            elapsed = time.monotonic() - started
            self.stop_flag.wait(max(0.05, 0.5 - elapsed))
        try:
            if img is not None:
                img.close()
            if cluster is not None:
                cluster.shutdown()
        except Exception:
            pass

    def _learn(self, watchers, blocked):
        t = now()
        with self.lock:
            self.blocklist = blocked
            self.ceph_heard = t
            for a in watchers:
                self.addr_first_seen.setdefault(a, t)
            new_addrs = [a for a in watchers if a not in self.addr_pid]
            new_pids = [p for p in self.pid_first_seen
                        if p not in self.pid_addr and proc_state(p) not in (None, "Z", "X")]
            # One new QEMU and one new client, the client seen no earlier
            # than the QEMU (give or take a sample): the QEMU's.
            if len(new_addrs) == 1 and len(new_pids) == 1:
                a, p = new_addrs[0], new_pids[0]
                if self.addr_first_seen[a] >= self.pid_first_seen[p] - 1.5:
                    self.pid_addr[p] = a
                    self.addr_pid[a] = p
                    self.events.append((t, "QEMU %d is RBD client %s" % (p, a)))

    # libvirt's and the processes' side.
    def _libvirt_status(self, node):
        try:
            with open(self.hvs.root(node) + "/run/libvirt/qemu/%s.xml" % NAME) as f:
                head = f.read(4096)
        except OSError:
            return None, None
        m = re.search(r"<domstatus\b[^>]*>", head)
        if not m:
            return None, None
        tag = m.group(0)
        st = re.search(r"\bstate='([^']*)'", tag)
        pid = re.search(r"\bpid='(\d+)'", tag)
        return (st.group(1) if st else None), (int(pid.group(1)) if pid else None)

    def node_of(self, pid):
        dev = run_libvirt_dev(pid)
        if dev is None:
            return None
        if dev == "":
            return "system" if "system" in self.hvs.nodes else "?"
        return self.devs.get(dev, "?" + dev)

    def sample(self):
        t = now()
        pids = {p: self.node_of(p) for p in guest_qemus()}
        status = {n: self._libvirt_status(n) for n in self.hvs.nodes}
        desc = {n: [] for n in self.hvs.nodes}
        live = set()
        strays = set()
        with self.lock:
            for p, node in pids.items():
                if node is None:
                    continue
                self.pid_first_seen.setdefault(p, t)
                state = proc_state(p)
                if state is None:
                    continue
                lv_state, lv_pid = status.get(node, (None, None))
                known = lv_pid == p
                addr = self.pid_addr.get(p)
                fenced = addr is not None and addr in self.blocklist
                running = state not in ("T", "t", "Z", "X")
                text = "qemu %d %s libvirt=%s%s%s" % (
                    p, state, lv_state if known else "-", " client=" + addr if addr else "",
                    " FENCED" if fenced else "")
                if known:
                    is_live = lv_state == "running" and running and not fenced
                else:
                    # A QEMU libvirt does not know (yet, or any more): a
                    # writer all the same once seen twice in a row.
                    strays.add(p)
                    is_live = p in self.stray_before and running and not fenced
                if is_live:
                    live.add(node)
                desc.setdefault(node, []).append(text + (" LIVE" if is_live else ""))
            self.stray_before = strays
            for n, (lv_state, lv_pid) in status.items():
                if lv_state and lv_pid not in pids:
                    desc[n].append("libvirt=%s pid %s (no such QEMU)" % (lv_state, lv_pid))
            entry = (t, tuple(sorted(live)), {n: "; ".join(d) or "-" for n, d in desc.items()})
            self.samples.append(entry)
            if len(live) > 1:
                self.violations.append(entry)
        return entry

    def _sample_loop(self):
        while not self.stop_flag.is_set():
            started = time.monotonic()
            try:
                self.sample()
            except Exception as e:  # keep sampling; say why once
                self.event("sampler: %r" % e)
            self.stop_flag.wait(max(0.05, 0.5 - (time.monotonic() - started)))

    def latest(self):
        with self.lock:
            return self.samples[-1] if self.samples else (0, (), {})

    def mark(self):
        with self.lock:
            return len(self.samples), len(self.violations), now()

    def timeline(self, since=0.0):
        """The samples since SINCE where something changed, and the events."""
        with self.lock:
            rows = [(t, "event: " + e) for t, e in self.events if t >= since]
            last = None
            for t, live, desc in self.samples:
                if t < since:
                    continue
                key = (live, tuple(sorted(desc.items())))
                if key != last:
                    rows.append((t, "live on %s | %s" % (",".join(live) or "none", "  ".join(
                        "%s: %s" % (n, d) for n, d in sorted(desc.items())))))
                    last = key
        rows.sort(key=lambda r: r[0])
        return "\n".join("%7.1f  %s" % r for r in rows)

    def fenced_addresses(self):
        with self.lock:
            return set(self.blocklist)


# --- the test -----------------------------------------------------------------

class HaFailover(unittest.TestCase):
    hvs = None
    sampler = None
    agents = {}
    volume = None
    image = None
    defined = False
    blocklisted = set()
    backend = None

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root (libvirtd in namespaces)")
        cls.hvs = Hypervisors(NODES)
        try:
            cls._set_up()
        except BaseException:
            cls._tear_down()
            raise

    @classmethod
    def _set_up(cls):
        t_setup = now()
        cls.hvs.start()
        image_path = run([os.path.join(REPO, "scripts", "make-boot-image")], timeout=600).stdout
        image_path = image_path.strip().splitlines()[-1]
        up = rbdvol_json("image", "upload", image_path, "--name", NAME)
        cls.image = up["id"]
        vol = rbdvol_json("volume", "create", "--type", "ssd", "--image", cls.image, "--name", NAME)
        cls.volume = vol["id"]
        cls.backend = vol["backend"]
        os.chmod(WORK, 0o755)
        # The guest's serial console, appended to by whichever node runs it
        # (QEMU runs as another user; no node relabels it).
        cls.console = os.path.join(WORK, "console.log")
        open(cls.console, "w").close()
        os.chmod(cls.console, 0o666)
        template = os.path.join(WORK, "template.xml")
        with open(template, "w") as f:
            f.write("""<domain type='qemu'>
  <name>template</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
  <features><acpi/></features>
  <devices>
    <serial type='file'>
      <source path='%s' append='on'>
        <seclabel model='dac' relabel='no'/>
      </source>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
  </devices>
</domain>
""" % cls.console)
        rbdvol_json("ha", "define", NAME, "--volume", cls.volume, "--nodes", ",".join(NODES),
                    "--domain-xml", template)
        cls.defined = True
        shown = rbdvol_json("ha", "show", NAME)
        cls.timings = {k: shown[k] for k in ("lease_seconds", "grace_seconds", "interval_seconds")}
        say("HA domain %s on volume %s (backend %s), nodes %s, timings %s" % (
            NAME, cls.volume, cls.backend, ",".join(NODES), cls.timings))
        conf_env = {"fast": "RBDVOL_CEPH_CONF_FAST", "capacity": "RBDVOL_CEPH_CONF_CAPACITY"}
        ceph_conf = os.environ[conf_env[cls.backend]]
        cls.sampler = Sampler(cls.hvs, ceph_conf, "volumes", "volume-" + cls.volume)
        cls.sampler.start()
        cls.agents = {n: Agent(cls.hvs, n) for n in NODES}
        t0 = now()
        for a in cls.agents.values():
            a.start()
        cls.sampler.event("agents started on %s" % ", ".join(NODES))
        node = cls.wait_live(lambda live: len(live) == 1, 120, "the first start")
        RESULTS["first start"] = now() - t0
        say("the guest runs on %s, %.1f s after the agents started (setup took %.1f s)" % (
            node, RESULTS["first start"], now() - t_setup))
        assert node == PRIMARY, "the first start was on %s, not the primary %s\n%s" % (
            node, PRIMARY, cls.sampler.timeline())

    @classmethod
    def tearDownClass(cls):
        cls._tear_down()
        print_results()

    @classmethod
    def _tear_down(cls):
        for a in cls.agents.values():
            a.stop()
        if cls.sampler is not None:
            cls.sampler.stop()
        cls.note_fences()
        for n in NODES:
            try:
                cls.hvs.virsh(n, "destroy", NAME)
                cls.hvs.virsh(n, "undefine", NAME)
            except Exception as e:
                say("cleaning up %s on %s: %s" % (NAME, n, e))
        # orphans (a QEMU whose node's libvirtd lost it)
        for p in guest_qemus():
            try:
                os.kill(p, signal.SIGCONT)
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        if cls.defined:
            rbdvol("ha", "undefine", NAME, "--force", check=False)
        if cls.volume:
            deadline = time.monotonic() + 60
            while True:  # a killed QEMU's watch lasts up to 30 s
                r = rbdvol("volume", "delete", cls.volume, check=False)
                if r.returncode == 0 or time.monotonic() > deadline:
                    if r.returncode != 0:
                        say("volume delete %s: %s" % (cls.volume, r.stderr.strip()))
                    break
                time.sleep(2)
        if cls.image:
            rbdvol("image", "delete", cls.image, "--force", check=False)
        # Every blocklist entry of this test's QEMUs' clients: the fences, and
        # those librbd made breaking a killed QEMU's exclusive lock.
        if cls.sampler is not None:
            with cls.sampler.lock:
                cls.blocklisted |= set(cls.sampler.pid_addr.values())
        unblock(cls.backend, cls.blocklisted)
        if cls.hvs is not None:
            cls.hvs.stop()

    @classmethod
    def note_fences(cls):
        """Keeps the addresses this HA domain's fences blocklisted (ha status),
        to lift them at the end."""
        if not cls.defined:
            return
        try:
            st = rbdvol_json("ha", "status", NAME)
            cls.blocklisted |= {b["address"] for b in st.get("blocklisted", [])}
        except Exception as e:
            say("ha status: %s" % e)

    # --- helpers ------------------------------------------------------------

    @classmethod
    def wait_live(cls, predicate, timeout, what, since=None):
        """Waits for a sample (taken after SINCE) whose live nodes satisfy
        PREDICATE; returns the one node live then (or None)."""
        since = now() if since is None else since
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with cls.sampler.lock:
                for t, live, _ in reversed(cls.sampler.samples):
                    if t < since:
                        break
                    if predicate(live):
                        cls.found_at = t
                        return live[0] if len(live) == 1 else None
            time.sleep(0.1)
        raise AssertionError("%s: not within %d s\n%s\n%s" % (
            what, timeout, cls.sampler.timeline(since - 30), cls.agent_logs()))

    @classmethod
    def agent_logs(cls, lines=25):
        out = []
        for n, a in cls.agents.items():
            text = a.log_text().splitlines()[-lines:]
            out.append("--- agent %s (%s)\n%s" % (n, "running" if a.alive() else "not running",
                                                   "\n".join(text)))
        return "\n".join(out)

    def holder(self):
        """The one node the guest is live on now, and its QEMU's pid."""
        node = self.wait_live(lambda live: len(live) == 1, 60, "the guest live on one node")
        st, pid = self.sampler._libvirt_status(node)
        self.assertEqual(st, "running")
        return node, pid

    def status(self):
        return rbdvol_json("ha", "status", NAME)

    def settle(self):
        """Every agent running and not stopped, every QEMU of the guest
        continued, the guest live on one node for two checks."""
        for a in self.agents.values():
            a.signal(signal.SIGCONT)
            if not a.alive():
                a.start()
        for p in guest_qemus():
            try:
                os.kill(p, signal.SIGCONT)
            except OSError:
                pass
        interval = self.timings["interval_seconds"]
        node = self.wait_live(lambda live: len(live) == 1, 90, "settle: live on one node")
        t = now()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            time.sleep(0.5)
            _, live, _ = self.sampler.latest()
            if live != (node,):
                node = self.wait_live(lambda live: len(live) == 1, 90, "settle: live on one node")
                t = now()
            elif now() - t >= 2 * interval:
                return node
        raise AssertionError("settle: the guest does not stay on one node\n" +
                             self.sampler.timeline(t - 30))

    def setUp(self):
        self.mark = self.sampler.mark()
        self.settled_on = self.settle()
        self.case_start = now()

    def tearDown(self):
        self.note_fences()
        _, nviol, since = self.mark
        with self.sampler.lock:
            violations = self.sampler.violations[nviol:]
        if violations:
            t = violations[0][0]
            self.fail("the guest was live on %s at once at %.1f s (%d samples)\n%s\n%s" % (
                " and ".join(violations[0][1]), t, len(violations),
                self.sampler.timeline(max(since, t - 40)), self.agent_logs()))

    def other_than(self, node):
        return [n for n in NODES if n != node]

    # --- the cases -------------------------------------------------------------

    def test_1_holder_agent_killed_the_guest_stays_and_the_restarted_agent_carries_on(self):
        node, pid = self.holder()
        epoch = self.status()["epoch"]
        self.agents[node].kill()
        self.sampler.event("kill -9 of the agent of %s (holder, QEMU %d)" % (node, pid))
        # Longer than two checks, shorter than the lease: nobody takes over.
        time.sleep(min(6, self.timings["lease_seconds"] / 2))
        self.assertEqual(self.sampler.latest()[1], (node,))
        self.agents[node].start()
        self.sampler.event("agent of %s started again" % node)
        time.sleep(self.timings["lease_seconds"] + self.timings["grace_seconds"])
        st = self.status()
        self.assertEqual(st["holder"], node)
        self.assertEqual(st["epoch"], epoch, "the restarted agent took the lease over again")
        self.assertEqual(self.sampler._libvirt_status(node), ("running", pid),
                         "the guest was restarted\n" + self.sampler.timeline(self.case_start))
        self.assertEqual(st["checks"][node]["lease"], "renew")
        self.assertEqual(st["checks"][node]["decision"], "keep")
        log = self.agents[node].log_text().rsplit("--- started at", 1)[-1]
        self.assertIn("lease renew, domain keep", log)

    def test_2_maintenance_the_agents_leave_the_domain_alone(self):
        node, pid = self.holder()
        rbdvol("ha", "maintenance", NAME, "on")
        self.sampler.event("maintenance on")
        time.sleep(2 * self.timings["interval_seconds"])  # every agent has read it
        self.hvs.virsh(node, "destroy", NAME, check=True)
        self.sampler.event("virsh destroy on %s (the holder)" % node)
        # Past the lease and grace: no agent starts or takes it.
        time.sleep(self.timings["lease_seconds"] + self.timings["grace_seconds"])
        self.assertEqual(self.sampler.latest()[1], ())
        st = self.status()
        self.assertTrue(st["maintenance"])
        self.assertEqual(st["holder"], node, "the holder keeps renewing in maintenance")
        for n in NODES:
            self.assertNotEqual(self.hvs.virsh(n, "domstate", NAME).stdout.strip(), "running")
        rbdvol("ha", "maintenance", NAME, "off")
        self.sampler.event("maintenance off")
        t = now()
        back = self.wait_live(lambda live: len(live) == 1, 30, "started again after maintenance")
        self.assertEqual(back, node, "the holder starts it again")
        say("maintenance off: the guest runs again on %s after %.1f s" % (back, self.found_at - t))

    def test_3_relocate_moves_the_guest_to_the_node_named(self):
        node, pid = self.holder()
        epoch = self.status()["epoch"]
        target = self.other_than(node)[-1]
        out = rbdvol("ha", "relocate", NAME, "--to", target).stdout
        self.sampler.event("ha relocate --to %s: %s" % (target, out.strip()))
        t = now()
        got = self.wait_live(lambda live: live == (target,), 60, "relocated to " + target)
        say("relocate: the guest runs on %s %.1f s after the request" % (got, self.found_at - t))
        st = self.status()
        self.assertEqual(st["holder"], target)
        self.assertEqual(st["epoch"], epoch + 1)
        self.assertEqual(st["relocate_to"], "")
        self.assertNotIn(pid, guest_qemus(), "the old QEMU still runs")

    def test_4_holder_killed_another_node_takes_over(self):
        """kill -9 of the holder's agent and QEMU (a node gone), RUNS times."""
        for i in range(RUNS):
            if i:
                self.settle()
            node, pid = self.holder()
            self.agents[node].kill()
            os.kill(pid, signal.SIGKILL)
            t_dead = now()
            self.sampler.event("run %d: kill -9 of the agent and QEMU %d of %s (holder)" % (
                i + 1, pid, node))
            got = self.wait_live(lambda live: len(live) == 1 and live[0] != node, 90,
                                 "failover from killed " + node, since=t_dead)
            took = self.found_at - t_dead
            RESULTS["killed"].append((node, got, took))
            say("run %d: %s killed -> the guest runs on %s after %.1f s" % (i + 1, node, got, took))
            self.agents[node].start()
            self.sampler.event("agent of %s started again" % node)

    def test_5_holder_frozen_is_fenced_and_stopped_when_it_wakes(self):
        """SIGSTOP of the holder's agent and QEMU (a hung node), RUNS times;
        the first time its writes after SIGCONT are seen to fail."""
        for i in range(RUNS):
            if i:
                self.settle()
            node, pid = self.holder()
            with self.sampler.lock:
                addr = self.sampler.pid_addr.get(pid)
            self.assertIsNotNone(addr, "the QEMU's RBD client was not learnt\n" +
                                 self.sampler.timeline(self.case_start))
            agent = self.agents[node]
            agent.signal(signal.SIGSTOP)
            os.kill(pid, signal.SIGSTOP)
            t_frozen = now()
            self.sampler.event("run %d: SIGSTOP of the agent and QEMU %d of %s (holder, client %s)"
                               % (i + 1, pid, node, addr))
            got = self.wait_live(lambda live: len(live) == 1 and live[0] != node, 90,
                                 "failover from frozen " + node, since=t_frozen)
            took = self.found_at - t_frozen
            RESULTS["frozen"].append((node, got, took))
            say("run %d: %s frozen -> the guest runs on %s after %.1f s" % (i + 1, node, got, took))
            deadline = time.monotonic() + 10
            while addr not in self.sampler.fenced_addresses() and time.monotonic() < deadline:
                time.sleep(0.2)
            self.assertIn(addr, self.sampler.fenced_addresses(),
                          "the frozen QEMU's client is not in `ceph osd blocklist ls`")
            self.blocklisted.add(addr)
            st = self.status()
            self.assertIn(addr, [b["address"] for b in st["blocklisted"]])
            if i == 0:
                self.writes_of_a_fenced_qemu_fail(node, pid)
            os.kill(pid, signal.SIGCONT)
            agent.signal(signal.SIGCONT)
            self.sampler.event("SIGCONT of QEMU %d and the agent of %s" % (pid, node))
            deadline = time.monotonic() + 15
            while proc_state(pid) is not None and time.monotonic() < deadline:
                time.sleep(0.2)
            self.assertIsNone(proc_state(pid), "the agent of %s did not stop its fenced copy\n%s"
                              % (node, self.agent_logs()))
            self.sampler.event("QEMU %d on %s stopped by its agent" % (pid, node))
            # (the agent kills the QEMU, then has libvirt destroy the domain,
            # then logs)
            pattern = (r"stopped the domain here \((the lease was not renewed"
                       r"|does not hold the lease)")
            deadline = time.monotonic() + 10
            while (not re.search(pattern, agent.log_text().rsplit("--- started at", 1)[-1])
                   and time.monotonic() < deadline):
                time.sleep(0.2)
            self.assertRegex(agent.log_text().rsplit("--- started at", 1)[-1], pattern)

    def writes_of_a_fenced_qemu_fail(self, node, pid):
        """The frozen QEMU, continued while its agent stays stopped: a write
        through it (qemu-io in its monitor, on the disk device's own block
        backend, to the unused sectors between the MBR and the partition)
        fails, as the QEMU log says."""
        os.kill(pid, signal.SIGCONT)
        self.sampler.event("SIGCONT of QEMU %d only; a write through it" % pid)
        log_path = self.hvs.qemu_log(node)
        size_before = os.path.getsize(log_path) if os.path.exists(log_path) else 0
        blocks = self.hvs.virsh(node, "qemu-monitor-command", NAME, "--hmp", "info block").stdout
        # The device the rbd node is attached to ("Attached to:
        # /machine/peripheral/virtio-disk0/virtio-backend"), whose own block
        # backend qemu-io then uses: a new user of the node would need write
        # permission the device does not share.
        device = None
        in_rbd = False
        for line in blocks.splitlines():
            if not line.startswith(" "):
                in_rbd = "rbd" in line
            m = re.search(r"Attached to:\s+(/\S+)", line)
            if in_rbd and m:
                device = m.group(1)  # the QOM path of the device's block backend's owner
                break
        self.assertIsNotNone(device, "no rbd disk in `info block`:\n" + blocks)
        r = self.hvs.virsh(node, "qemu-monitor-command", NAME, "--hmp",
                           'qemu-io -d %s "write -P 0xab 524288 65536"' % device)
        deadline = time.monotonic() + 20
        text = ""
        while time.monotonic() < deadline:
            with open(log_path, errors="replace") as f:
                f.seek(size_before)
                text = f.read() + r.stdout
            if "write failed" in text or "wrote 65536" in text or r.returncode != 0:
                break
            time.sleep(0.2)
        self.sampler.event("the write through the fenced QEMU: %s" % (
            "failed" if "write failed" in text else "did NOT fail"))
        self.assertIn("write failed", text, "virsh: %s%s\nQEMU log:\n%s" % (r.stdout, r.stderr, text))
        self.assertNotIn("wrote 65536", text)

    def test_6_cluster_paused_the_holder_stops_nobody_starts_then_one_comes_back(self):
        node, pid = self.holder()
        cluster = self.backend
        t_pause = now()
        run([SANDBOX, "pause", cluster])
        self.sampler.event("scripts/sandbox pause %s" % cluster)
        try:
            self.wait_live(lambda live: live == (), 20, "the holder stops the guest", since=t_pause)
            stopped_after = self.found_at - t_pause
            say("pause: %s stopped the guest %.1f s after the pause" % (node, stopped_after))
            # Past the lease and the grace time: nobody starts it.
            hold = self.timings["lease_seconds"] + self.timings["grace_seconds"] + 2
            time.sleep(max(0, t_pause + hold - now()))
            with self.sampler.lock:
                seen = [s for s in self.sampler.samples if s[0] >= self.found_at]
            self.assertTrue(all(s[1] == () for s in seen), "the guest ran while %s was paused\n%s"
                            % (cluster, self.sampler.timeline(t_pause - 5)))
        finally:
            # Measured from the SIGCONT: resume waits until no PG is laggy
            # (marking the OSD down to re-peer them when some stay so).
            t_resume = now()
            self.sampler.event("scripts/sandbox resume %s" % cluster)
            run([SANDBOX, "resume", cluster], timeout=180)
            self.sampler.event("scripts/sandbox resume %s returned" % cluster)
        got = self.wait_live(lambda live: len(live) == 1, 120, "the guest back after the resume",
                             since=t_resume)
        RESULTS["paused"] = (node, got, stopped_after, self.found_at - t_resume)
        say("resume: the guest runs on %s %.1f s after the resume" % (got, self.found_at - t_resume))
        self.settle()

    def test_7_power_loss_the_primary_runs_it_when_the_agents_start_again(self):
        node, pid = self.holder()
        if node == PRIMARY:
            # A power loss after a failover: the guest ran elsewhere.
            target = self.other_than(PRIMARY)[0]
            rbdvol("ha", "relocate", NAME, "--to", target)
            self.sampler.event("ha relocate --to %s (before the power loss)" % target)
            node = self.wait_live(lambda live: live == (target,), 60, "relocated to " + target)
            time.sleep(2 * self.timings["interval_seconds"])
        for a in self.agents.values():
            a.kill()
        for p in guest_qemus():
            os.kill(p, signal.SIGKILL)
        t_off = now()
        self.sampler.event("power loss: kill -9 of every agent and every QEMU of the guest "
                           "(it ran on %s)" % node)
        # The power stays off longer than the lease.
        time.sleep(self.timings["lease_seconds"] + self.timings["grace_seconds"] + 1)
        self.assertEqual(self.sampler.latest()[1], ())
        # The primary's node comes back last, 2 s after the others (one of
        # them the holder before the power loss).
        t_on = now()
        for n, a in self.agents.items():
            if n != PRIMARY:
                a.start()
        self.sampler.event("power back: the agents of every node but the primary started")
        time.sleep(2)
        self.agents[PRIMARY].start()
        self.sampler.event("the primary's agent started")
        got = self.wait_live(lambda live: len(live) == 1, 90, "back after the power loss",
                             since=t_on)
        RESULTS["power loss"] = (node, got, self.found_at - t_on, t_on - t_off)
        say("power loss: the guest runs on %s %.1f s after the agents started" % (
            got, self.found_at - t_on))
        self.assertEqual(got, PRIMARY, "not the primary after a power loss\n" +
                         self.sampler.timeline(t_off - 5) + "\n" + self.agent_logs())
        self.settle()

    def test_8_every_boot_counted_the_boots_before_it(self):
        """The guest's init counts its boots in a file on the volume: each
        copy, on whichever node, saw what the copies before it wrote."""
        with open(self.console, errors="replace") as f:
            text = f.read()
        counts = [int(n) for n in re.findall(r"rbdvol-boot: boot count (\d+) written", text)]
        say("boots on the console: %d, counts %s" % (len(counts), counts))
        self.assertIn("rbdvol-boot: booted from /dev/vda", text)
        self.assertGreaterEqual(len(counts), 3)
        self.assertEqual(counts, sorted(set(counts)), "a boot did not see the one before it")


def unblock(backend, addresses):
    """Lifts the blocklist entries of ADDRESSES that are there."""
    if not addresses or not backend:
        return
    conf_env = {"fast": "RBDVOL_CEPH_CONF_FAST", "capacity": "RBDVOL_CEPH_CONF_CAPACITY"}
    conf = os.environ.get(conf_env.get(backend, ""), "")
    listed = run(["ceph", "-c", conf, "--connect-timeout", "20", "osd", "blocklist", "ls"],
                 check=False, timeout=60).stdout
    present = {line.split()[0] for line in listed.splitlines() if line.strip()}
    for a in sorted(addresses & present):
        r = run(["ceph", "-c", conf, "--connect-timeout", "20", "osd", "blocklist", "rm", a],
                check=False, timeout=60)
        say("ceph osd blocklist rm %s: %s" % (a, (r.stdout + r.stderr).strip()))


def print_results():
    def table(kind, runs):
        if not runs:
            return
        print("failover, holder %s:" % kind)
        for i, (frm, to, took) in enumerate(runs):
            print("  run %d  %-8s -> %-8s %5.1f s" % (i + 1, frm, to, took))
        print("  median %.1f s (min %.1f, max %.1f) over %d runs" % (
            statistics.median(r[2] for r in runs), min(r[2] for r in runs),
            max(r[2] for r in runs), len(runs)))
    print("\n=== HA failover, default timings (lease 12 s, grace 4 s, checks every 2 s) ===")
    if RESULTS["first start"] is not None:
        print("first start after the agents started: %.1f s" % RESULTS["first start"])
    table("killed (agent and QEMU kill -9)", RESULTS["killed"])
    table("frozen (agent and QEMU SIGSTOP)", RESULTS["frozen"])
    both = RESULTS["killed"] + RESULTS["frozen"]
    if both:
        print("all failovers: median %.1f s over %d runs" % (
            statistics.median(r[2] for r in both), len(both)))
    if RESULTS["paused"]:
        frm, to, stopped, back = RESULTS["paused"]
        print("cluster paused: %s stopped the guest after %.1f s; after the resume it ran on %s "
              "after %.1f s" % (frm, stopped, to, back))
    if RESULTS["power loss"]:
        frm, to, back, off = RESULTS["power loss"]
        print("power loss (ran on %s, off %.0f s): back on %s %.1f s after the agents started" % (
            frm, off, to, back))
    print("total: %.0f s" % now(), flush=True)


def main():
    global RBDVOL
    if len(sys.argv) < 2:
        sys.exit("usage: ha_test.py RBDVOL [unittest args]")
    RBDVOL = sys.argv[1]
    if not CONFIG or not os.path.exists(CONFIG):
        sys.exit("RBDVOL_CONFIG is not set: eval \"$(scripts/sandbox env)\" first")
    program = unittest.main(module="__main__", argv=[sys.argv[0]] + sys.argv[2:], verbosity=2,
                            exit=False)
    if program.result.wasSuccessful():
        shutil.rmtree(WORK, ignore_errors=True)
        sys.exit(0)
    print("agent logs and the console kept in %s" % WORK)
    sys.exit(1)


if __name__ == "__main__":
    main()
