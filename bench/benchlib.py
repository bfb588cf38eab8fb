"""What the Python benchmarks share (bench/service, bench/images): the
sandbox's environment, the rbdvol command, rbdvold on free loopback ports,
and peak memory read from /proc."""
import json
import os
import shlex
import socket
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RBDVOL = os.path.join(ROOT, "build", "lib", "rbdvol")
RBDVOLD = os.path.join(ROOT, "build", "lib", "rbdvold")


def sandbox_env():
    """$RBDVOL_CONFIG and friends from `scripts/sandbox env` when not set."""
    if os.environ.get("RBDVOL_CONFIG"):
        return
    out = subprocess.run([os.path.join(ROOT, "scripts", "sandbox"), "env"], check=True,
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        words = shlex.split(line)
        if words[:1] == ["export"]:
            words = words[1:]
        for w in words:
            if "=" in w:
                k, v = w.split("=", 1)
                os.environ[k] = v


def rbdvol(*args):
    """`rbdvol --json ARGS`: its answer."""
    r = subprocess.run([RBDVOL, "--json"] + list(args), capture_output=True, text=True,
                       timeout=600)
    if r.returncode != 0:
        raise RuntimeError("rbdvol %s: %s" % (" ".join(args), r.stderr.strip()))
    return json.loads(r.stdout) if r.stdout.strip() else None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_rbdvold(work, args=()):
    """rbdvold with the sandbox's config (noauth on loopback), on a free port:
    (process, port, config path). Its log is work/rbdvold.log."""
    config = os.path.join(work, "rbdvol.conf")
    with open(os.environ["RBDVOL_CONFIG"]) as src, open(config, "w") as dst:
        dst.write(src.read() + "\n[service]\n")
    port = free_port()
    log = open(os.path.join(work, "rbdvold.log"), "w")
    daemon = subprocess.Popen([RBDVOLD, "--config", config, "--listen", "127.0.0.1:%d" % port]
                              + list(args), stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return daemon, port, config
        except OSError:
            if daemon.poll() is not None or time.time() > deadline:
                raise RuntimeError("rbdvold did not start; see " + log.name)
            time.sleep(0.05)


def peak_rss_mib(pid):
    """A live process's peak resident memory (VmHWM), MiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return 0.0
