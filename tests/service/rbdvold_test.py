#!/usr/bin/env python3
"""Integration tests of rbdvold against the sandbox, driven by Debian's own
clients (the `cinder` and `openstack` commands) and by raw HTTP for errors,
limits and hostile input.

Usage: rbdvold_test.py RBDVOLD RBDVOL [unittest args]
Needs $RBDVOL_CONFIG (scripts/sandbox env). Every test cleans up the volumes
it made; other users of the sandbox's pools are left alone.
"""
import glob
import http.client
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

RBDVOLD = None
RBDVOL = None
CONFIG = os.environ.get("RBDVOL_CONFIG", "")
WORK = tempfile.mkdtemp(prefix="rbdvold-test-")
ANSWERS = []  # every raw answer body, checked for keys at the end


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def write_config(extra):
    """The sandbox config with a [service] section of our own."""
    path = os.path.join(WORK, "rbdvol-%s.conf" % uuid.uuid4().hex[:8])
    with open(CONFIG) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(text + "\n[service]\n" + extra)
    return path


class Daemon:
    """One rbdvold process, on a free loopback port, its log in a file."""

    def __init__(self, service="", args=(), port=None, fault=None):
        self.port = port or free_port()
        env = dict(os.environ)
        env.pop("RBDVOL_FAULT", None)
        if fault:
            env["RBDVOL_FAULT"] = fault  # the plugin's fault points, in rbdvold itself
        self.config = write_config(service)
        self.log_path = os.path.join(WORK, "rbdvold-%d.log" % self.port)
        self.log = open(self.log_path, "w")
        args = list(args)
        if "--image-listen" not in args:
            # its own image API port: instances side by side must not share 9292
            args += ["--image-listen", "127.0.0.1:%d" % free_port()]
        self.proc = subprocess.Popen(
            [RBDVOLD, "--config", self.config, "--listen", "127.0.0.1:%d" % self.port] + args,
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                text = self.log_text()
                self.log.close()
                raise AssertionError("rbdvold exited %d: %s" % (self.proc.returncode, text))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("rbdvold did not listen within 20 s: " + self.log_text())

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d/v3" % self.port

    def log_text(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def request(port, method, path, body=None, headers=None, raw_body=None, timeout=60):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    data = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
    conn.request(method, path, body=data, headers=h)
    r = conn.getresponse()
    text = r.read().decode("utf-8", "replace")
    ANSWERS.append(text)
    ANSWERS.append(str(r.getheaders()))
    conn.close()
    doc = None
    if text:
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), doc, text


def raw_exchange(port, data, wait=5.0, chunks=None, pause=0.0):
    """Sends bytes (in `chunks` with `pause` between them) and reads what comes back."""
    s = socket.create_connection(("127.0.0.1", port), timeout=wait)
    try:
        for piece in (chunks or [data]):
            try:
                s.sendall(piece)
            except OSError:
                break
            if pause:
                time.sleep(pause)
        out = b""
        while True:
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            except OSError:
                break
            if not b:
                break
            out += b
        ANSWERS.append(out.decode("utf-8", "replace"))
        return out
    finally:
        s.close()


def cinder(daemon, *args, version=None, check=True):
    cmd = ["cinder", "--os-auth-type", "noauth", "--os-endpoint", daemon.endpoint,
           "--os-user-id", "tester", "--os-project-id", "testproject"]
    if version:
        cmd += ["--os-volume-api-version", version]
    r = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=120)
    ANSWERS.append(r.stdout + r.stderr)
    if check and r.returncode != 0:
        raise AssertionError("cinder %s failed (%d): %s %s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
    return r


def openstack(daemon, *args, check=True):
    cmd = ["openstack", "--os-auth-type", "admin_token", "--os-token", "secret-token",
           "--os-endpoint", daemon.endpoint, "--os-volume-api-version", "3.50"]
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("OS_"):
            del env[k]
    r = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=180, env=env)
    ANSWERS.append(r.stdout + r.stderr)
    if check and r.returncode != 0:
        raise AssertionError("openstack %s failed (%d): %s %s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
    return r


def show(port, vid, version="3.50"):
    return request(port, "GET", "/v3/volumes/" + vid, headers={"OpenStack-API-Version": "volume " + version})


def wait_status(port, vid, wanted, timeout=120):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        status, _, doc, _ = show(port, vid)
        if status == 404:
            last = "gone"
        else:
            last = doc["volume"]["status"]
        if last == wanted:
            return doc
        if last in ("error", "error_deleting", "error_extending") and wanted != last:
            raise AssertionError("volume %s went %s: %s" % (vid, last, doc))
        time.sleep(0.2)
    raise AssertionError("volume %s is %s, not %s, after %d s" % (vid, last, wanted, timeout))


def rbd(backend, *args):
    conf = os.environ["RBDVOL_CEPH_CONF_" + backend.upper()]
    return subprocess.run(["rbd", "-c", conf] + list(args), capture_output=True, text=True, timeout=60)


def cluster_keys():
    keys = []
    for path in glob.glob(os.path.join(os.path.dirname(CONFIG), "ceph", "*", "*.keyring")):
        with open(path) as f:
            for line in f:
                m = re.match(r"\s*key\s*=\s*(\S+)", line)
                if m:
                    keys.append(m.group(1))
    return keys


class Service(unittest.TestCase):
    daemon = None

    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon("max_body_bytes = 65536\nmax_header_bytes = 8192\nrequest_timeout = 3\n"
                            "idle_timeout = 5\nmax_connections = 40\n")
        cls.made = []

    @classmethod
    def tearDownClass(cls):
        for vid in cls.made:
            request(cls.daemon.port, "DELETE", "/v3/volumes/%s?cascade=true" % vid)
        for vid in cls.made:
            deadline = time.time() + 60
            while time.time() < deadline and show(cls.daemon.port, vid)[0] != 404:
                time.sleep(0.3)
        rc = cls.daemon.stop()
        log = cls.daemon.log_text()
        for key in cluster_keys():
            assert key not in log, "a cluster key is in rbdvold's log"
        assert rc == 0, "rbdvold exited %s on SIGTERM: %s" % (rc, log[-2000:])
        assert "stopped" in log, log[-2000:]

    def create(self, body, version="3.50"):
        status, headers, doc, text = request(self.daemon.port, "POST", "/v3/volumes", {"volume": body},
                                             headers={"OpenStack-API-Version": "volume " + version})
        self.assertEqual(status, 202, text)
        self.made.append(doc["volume"]["id"])
        return doc["volume"]

    # --- versions and headers ----------------------------------------------
    def test_version_discovery_at_root_and_v3(self):
        status, headers, doc, _ = request(self.daemon.port, "GET", "/")
        self.assertEqual(status, 300)
        self.assertEqual(doc["versions"][0]["id"], "v3.0")
        self.assertEqual(doc["versions"][0]["min_version"], "3.0")
        self.assertGreaterEqual(int(doc["versions"][0]["version"].split(".")[1]), 50)
        self.assertIn("x-openstack-request-id", headers)
        status, _, doc, _ = request(self.daemon.port, "GET", "/v3/")
        self.assertEqual(status, 200)
        self.assertEqual(doc["versions"][0]["status"], "CURRENT")

    def test_microversion_echoed_and_out_of_range_refused(self):
        status, headers, _, _ = request(self.daemon.port, "GET", "/v3/types",
                                        headers={"OpenStack-API-Version": "volume 3.50"})
        self.assertEqual(status, 200)
        self.assertEqual(headers["openstack-api-version"], "volume 3.50")
        self.assertTrue(headers["x-openstack-request-id"].startswith("req-"))
        status, headers, doc, _ = request(self.daemon.port, "GET", "/v3/types",
                                          headers={"OpenStack-API-Version": "volume 3.99"})
        self.assertEqual(status, 406)
        self.assertIn("notAcceptable", doc)
        status, headers, _, _ = request(self.daemon.port, "GET", "/v3/types")
        self.assertEqual(headers["openstack-api-version"], "volume 3.0")

    def test_urls_with_and_without_project_id(self):
        a = request(self.daemon.port, "GET", "/v3/types")
        b = request(self.daemon.port, "GET", "/v3/someproject/types")
        self.assertEqual(a[0], 200)
        self.assertEqual(b[0], 200)
        self.assertEqual([t["name"] for t in a[2]["volume_types"]], [t["name"] for t in b[2]["volume_types"]])

    # --- volume types --------------------------------------------------------
    def test_volume_types_are_the_configs_disk_types_and_read_only(self):
        r = cinder(self.daemon, "type-list")
        for name in ("ssd", "hdd", "shared"):
            self.assertIn(name, r.stdout)
        status, _, doc, _ = request(self.daemon.port, "GET", "/v3/types")
        shared = [t for t in doc["volume_types"] if t["name"] == "shared"][0]
        self.assertEqual(shared["extra_specs"]["multiattach"], "<is> True")
        self.assertEqual(shared["extra_specs"]["rbdvol:cache"], "none")
        self.assertIn("media:ssd", shared["extra_specs"]["rbdvol:tags"])
        status, _, doc, _ = request(self.daemon.port, "POST", "/v3/types", {"volume_type": {"name": "x"}})
        self.assertEqual(status, 403)
        self.assertIn("[disk_type:NAME]", doc["forbidden"]["message"])
        r = cinder(self.daemon, "type-create", "newtype", check=False)
        self.assertNotEqual(r.returncode, 0)

    # --- the volume flow through the cinder command --------------------------
    def test_cinder_client_volume_flow(self):
        name = "svc-cinder-" + uuid.uuid4().hex[:6]
        r = cinder(self.daemon, "create", "--volume-type", "ssd", "--name", name,
                   "--description", "made by the test", "--metadata", "purpose=test", "1")
        vid = re.search(r"\|\s+id\s+\|\s+([0-9a-f-]{36})", r.stdout).group(1)
        self.made.append(vid)
        doc = wait_status(self.daemon.port, vid, "available")
        self.assertEqual(doc["volume"]["size"], 1)
        self.assertEqual(doc["volume"]["description"], "made by the test")
        self.assertEqual(doc["volume"]["metadata"], {"purpose": "test"})
        self.assertEqual(doc["volume"]["bootable"], "false")
        # The listing comes from the plugin's directory: it holds what the
        # create's volume.update set.
        status, _, doc, text = request(self.daemon.port, "GET", "/v3/volumes/detail?name=" + name)
        self.assertEqual(status, 200, text)
        self.assertEqual([(v["id"], v["description"], v["metadata"]) for v in doc["volumes"]],
                         [(vid, "made by the test", {"purpose": "test"})])
        r = cinder(self.daemon, "list")
        self.assertIn(vid, r.stdout)
        r = cinder(self.daemon, "show", vid)
        self.assertIn(name, r.stdout)
        cinder(self.daemon, "extend", vid, "2")
        doc = wait_status(self.daemon.port, vid, "available")
        self.assertEqual(doc["volume"]["size"], 2)
        r = rbd("fast", "info", "volumes/volume-" + vid)
        self.assertIn("2 GiB", r.stdout)
        r = cinder(self.daemon, "snapshot-create", "--name", "s1", vid)
        sid = re.search(r"\|\s+id\s+\|\s+([0-9a-f-]{36})", r.stdout).group(1)
        r = cinder(self.daemon, "snapshot-list")
        self.assertIn(sid, r.stdout)
        r = cinder(self.daemon, "snapshot-show", sid)
        self.assertIn(vid, r.stdout)
        cinder(self.daemon, "--os-volume-api-version", "3.40", "revert-to-snapshot", sid)
        wait_status(self.daemon.port, vid, "available")
        status, _, doc, _ = request(self.daemon.port, "DELETE", "/v3/volumes/" + vid)
        self.assertEqual(status, 400)
        self.assertIn("still has snapshots", doc["badRequest"]["message"])
        cinder(self.daemon, "snapshot-delete", sid)
        self.assertEqual(request(self.daemon.port, "GET", "/v3/snapshots/" + sid)[0], 404)
        cinder(self.daemon, "retype", vid, "shared")
        doc = wait_status(self.daemon.port, vid, "available")
        self.assertEqual(doc["volume"]["volume_type"], "shared")
        self.assertTrue(doc["volume"]["multiattach"])
        cinder(self.daemon, "rename", vid, name + "-renamed")
        self.assertEqual(show(self.daemon.port, vid)[2]["volume"]["name"], name + "-renamed")
        # The directory's name index follows the rename.
        for listed_name, listed in ((name + "-renamed", True), (name, False)):
            status, _, doc, text = request(self.daemon.port, "GET",
                                           "/v3/volumes/detail?name=" + listed_name)
            self.assertEqual(status, 200, text)
            self.assertEqual(vid in [v["id"] for v in doc["volumes"]], listed, listed_name)
        cinder(self.daemon, "delete", vid)
        wait_status(self.daemon.port, vid, "gone")
        self.assertNotEqual(rbd("fast", "info", "volumes/volume-" + vid).returncode, 0)

    def test_openstack_client_volume_flow(self):
        name = "svc-osc-" + uuid.uuid4().hex[:6]
        r = openstack(self.daemon, "volume", "create", "--size", "1", "--type", "ssd", name, "-f", "json")
        vid = json.loads(r.stdout)["id"]
        self.made.append(vid)
        wait_status(self.daemon.port, vid, "available")
        r = openstack(self.daemon, "volume", "list", "-f", "json")
        self.assertIn(vid, [v["ID"] for v in json.loads(r.stdout)])
        r = openstack(self.daemon, "volume", "show", vid, "-f", "json")
        self.assertEqual(json.loads(r.stdout)["name"], name)
        openstack(self.daemon, "volume", "set", "--property", "k=v", vid)
        self.assertEqual(show(self.daemon.port, vid)[2]["volume"]["metadata"], {"k": "v"})
        openstack(self.daemon, "volume", "delete", vid)
        wait_status(self.daemon.port, vid, "gone")

    def test_list_pages_with_limit_marker_sort_and_filters(self):
        tag = "svc-page-" + uuid.uuid4().hex[:6]
        ids = [self.create({"size": 1, "volume_type": "ssd", "name": "%s-%d" % (tag, i)})["id"] for i in range(3)]
        for vid in ids:
            wait_status(self.daemon.port, vid, "available")
        seen = []
        path = "/v3/volumes/detail?limit=1&sort=name:asc&name=%s-1" % tag
        status, _, doc, _ = request(self.daemon.port, "GET", path)
        self.assertEqual(status, 200)
        self.assertEqual([v["id"] for v in doc["volumes"]], [ids[1]])
        # Walk every page. Other users of the sandbox delete their volumes
        # meanwhile: a marker of theirs that vanished is refused (400, as
        # Cinder) and the walk starts again; ours never vanish.
        for attempt in range(5):
            seen, marker, vanished = [], None, False
            while True:
                q = "/v3/volumes/detail?limit=2&sort=created_at:asc" + ("&marker=" + marker if marker else "")
                status, _, doc, text = request(self.daemon.port, "GET", q)
                if status == 400 and marker not in ids and "could not be found" in text:
                    vanished = True
                    break
                self.assertEqual(status, 200, text)
                seen += [v["id"] for v in doc["volumes"]]
                if "volumes_links" not in doc:
                    break
                self.assertIn("marker=" + doc["volumes"][-1]["id"], doc["volumes_links"][0]["href"])
                marker = doc["volumes"][-1]["id"]
            if not vanished:
                break
        for vid in ids:
            self.assertEqual(seen.count(vid), 1)
        status, _, doc, _ = request(self.daemon.port, "GET", "/v3/volumes?marker=" + str(uuid.uuid4()))
        self.assertEqual(status, 400)
        status, _, doc, _ = request(self.daemon.port, "GET", "/v3/volumes?limit=-1")
        self.assertEqual(status, 400)
        status, _, doc, _ = request(self.daemon.port, "GET", "/v3/volumes?sort=bogus:asc")
        self.assertEqual(status, 400)

    # --- images: clone on the image's cluster, copy then clone elsewhere -----
    def test_volumes_from_an_image_clone_and_copy_then_clone(self):
        path = os.path.join(WORK, "img.raw")
        with open(path, "wb") as f:
            f.write(os.urandom(1 << 20))
            f.truncate(8 << 20)
        r = subprocess.run([RBDVOL, "--config", CONFIG, "--json", "image", "upload", path, "--name",
                            "svc-img-" + uuid.uuid4().hex[:6], "--backend", "fast"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        image = json.loads(r.stdout)["id"]
        try:
            r = cinder(self.daemon, "create", "--image-id", image, "--volume-type", "ssd", "1")
            vid = re.search(r"\|\s+id\s+\|\s+([0-9a-f-]{36})", r.stdout).group(1)
            self.made.append(vid)
            doc = wait_status(self.daemon.port, vid, "available")
            self.assertEqual(doc["volume"]["bootable"], "true")
            self.assertEqual(doc["volume"]["volume_image_metadata"]["image_id"], image)
            info = rbd("fast", "info", "volumes/volume-" + vid).stdout
            self.assertIn("parent: images/image-%s@snap" % image, info)
            # hdd is only on the other cluster: the image is copied there, then cloned.
            v2 = self.create({"size": 1, "volume_type": "hdd", "imageRef": image})["id"]
            doc = wait_status(self.daemon.port, v2, "available")
            self.assertEqual(doc["volume"]["bootable"], "true")
            info = rbd("capacity", "info", "volumes/volume-" + v2).stdout
            self.assertIn("parent: images/image-%s@snap" % image, info)
            for v in (vid, v2):
                request(self.daemon.port, "DELETE", "/v3/volumes/" + v)
                wait_status(self.daemon.port, v, "gone")
        finally:
            subprocess.run([RBDVOL, "--config", CONFIG, "image", "delete", image, "--force"],
                           capture_output=True, text=True, timeout=120)

    # --- attachments ----------------------------------------------------------
    def test_attachments_give_rbd_connection_info_and_one_winner(self):
        shared = self.create({"size": 1, "volume_type": "shared"})["id"]
        single = self.create({"size": 1, "volume_type": "ssd"})["id"]
        wait_status(self.daemon.port, shared, "available")
        wait_status(self.daemon.port, single, "available")
        r = cinder(self.daemon, "attachment-create", "--connect", "True", "--initiator", "iqn.x",
                   "--ip", "127.0.0.1", "--host", "node1", shared, "vm-a", version="3.44")
        self.assertIn("rbd", r.stdout)
        h = {"OpenStack-API-Version": "volume 3.44"}
        status, _, doc, text = request(self.daemon.port, "POST", "/v3/attachments",
                                       {"attachment": {"volume_uuid": shared, "instance_uuid": "vm-b",
                                                       "connector": {"host": "node2"}}}, headers=h)
        self.assertEqual(status, 200, text)
        info = doc["attachment"]["connection_info"]
        self.assertEqual(info["driver_volume_type"], "rbd")
        self.assertEqual(info["name"], "volumes/volume-" + shared)
        for field in ("hosts", "ports", "cluster_name", "auth_enabled", "auth_username", "secret_type",
                      "secret_uuid", "volume_id", "discard"):
            self.assertIn(field, info)
        self.assertNotIn("keyring", info)
        aid = doc["attachment"]["id"]
        status, _, _, _ = request(self.daemon.port, "POST", "/v3/attachments/%s/action" % aid,
                                  {"os-complete": {}}, headers=h)
        self.assertEqual(status, 204)
        doc = show(self.daemon.port, shared)[2]
        self.assertEqual(doc["volume"]["status"], "in-use")
        self.assertEqual(sorted(a["server_id"] for a in doc["volume"]["attachments"]), ["vm-a", "vm-b"])
        # A volume that is not multiattach: racing attachments, one winner.
        results = []

        def attach(domain):
            results.append(request(self.daemon.port, "POST", "/v3/attachments",
                                   {"attachment": {"volume_uuid": single, "instance_uuid": domain,
                                                   "connector": {"host": domain}}}, headers=h)[0])
        threads = [threading.Thread(target=attach, args=("race-%d" % i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(sorted(results), [200, 409, 409, 409])
        status, _, doc, _ = request(self.daemon.port, "GET", "/v3/attachments/detail", headers=h)
        mine = [a for a in doc["attachments"] if a["volume_id"] in (shared, single)]
        self.assertEqual(len(mine), 3)
        # In use: delete refused until detached.
        status, _, doc, _ = request(self.daemon.port, "DELETE", "/v3/volumes/" + shared)
        self.assertEqual(status, 400)
        for a in mine:
            status, _, _, _ = request(self.daemon.port, "DELETE", "/v3/attachments/" + a["id"], headers=h)
            self.assertEqual(status, 200)
        self.assertEqual(show(self.daemon.port, shared)[2]["volume"]["status"], "available")

    # --- pools and services ---------------------------------------------------
    def test_pools_and_services(self):
        status, _, doc, _ = request(self.daemon.port, "GET", "/v3/scheduler-stats/get_pools?detail=true")
        self.assertEqual(status, 200)
        names = [p["name"] for p in doc["pools"]]
        self.assertIn("rbdvold@fast#volumes", names)
        fast = [p for p in doc["pools"] if p["name"] == "rbdvold@fast#volumes"][0]
        self.assertGreater(fast["capabilities"]["total_capacity_gb"], 0)
        r = cinder(self.daemon, "service-list")
        self.assertIn("rbdvold@fast", r.stdout)
        self.assertIn("up", r.stdout)

    # --- errors and hostile input ---------------------------------------------
    def test_errors_have_cinders_shape(self):
        status, headers, doc, _ = request(self.daemon.port, "GET", "/v3/volumes/" + str(uuid.uuid4()))
        self.assertEqual(status, 404)
        self.assertEqual(doc["itemNotFound"]["code"], 404)
        self.assertIn("x-openstack-request-id", headers)
        status, _, doc, _ = request(self.daemon.port, "POST", "/v3/volumes", raw_body="{not json")
        self.assertEqual(status, 400)
        self.assertEqual(doc["badRequest"]["code"], 400)
        for bad in ({"size": "abc"}, {"size": -1}, {"size": 0}, {"size": 1.5}, {"size": [1]},
                    {"size": 10 ** 30}, {"size": 1, "name": 7}, {"size": 1, "metadata": {"a": 1}},
                    {"size": 1, "volume_type": "nope"}, {"size": 1, "imageRef": "../../etc/passwd"}):
            status, _, doc, text = request(self.daemon.port, "POST", "/v3/volumes", {"volume": bad})
            self.assertIn(status, (400, 404), "%s -> %s" % (bad, text))
        status, _, doc, _ = request(self.daemon.port, "POST", "/v3/volumes", raw_body='{"volume": {"size": 1e400}}')
        self.assertEqual(status, 400)
        status, _, doc, _ = request(self.daemon.port, "POST", "/v3/volumes", {"volume": []})
        self.assertEqual(status, 400)
        # Unknown fields are ignored, as Cinder does.
        v = self.create({"size": 1, "volume_type": "ssd", "no_such_field": {"x": 1}})
        wait_status(self.daemon.port, v["id"], "available")
        self.assertEqual(request(self.daemon.port, "PATCH", "/v3/volumes")[0], 405)
        self.assertEqual(request(self.daemon.port, "GET", "/v3/nonsense/x/y/z")[0], 404)

    def test_hostile_ids_never_reach_the_plugin(self):
        for path in ("/v3/volumes/..%2f..%2fetc%2fpasswd", "/v3/volumes/../../etc/passwd",
                     "/v3/volumes/%2e%2e", "/v3/snapshots/" + "a" * 5000, "/v3/volumes/volume-x",
                     "/v3/attachments/%ff%fe", "/v3/types/%27%22%3C"):
            status, _, doc, text = request(self.daemon.port, "GET", path,
                                           headers={"OpenStack-API-Version": "volume 3.50"})
            self.assertIn(status, (400, 404), path + " -> " + text)
        for path in ("/v3/volumes/abc%00def", "/v3/volumes/a%0d%0aX-Injected:%201", "/v3/volumes/%1b[31m"):
            status, headers, _, _ = request(self.daemon.port, "GET", path)
            self.assertEqual(status, 400, path)
            self.assertNotIn("x-injected", headers)
        log = self.daemon.log_text()
        self.assertNotIn("\x1b[31m", log)
        self.assertNotIn("\r\nX-Injected", log)

    def test_limits_body_headers_truncated_and_slow_clients(self):
        status, _, doc, _ = request(self.daemon.port, "POST", "/v3/volumes",
                                    raw_body='{"volume": {"name": "' + "x" * 70000 + '"}}')
        self.assertEqual(status, 413)
        self.assertEqual(doc["overLimit"]["code"], 413)
        out = raw_exchange(self.daemon.port, b"POST /v3/volumes HTTP/1.1\r\nHost: x\r\nContent-Length: 9999999\r\n"
                                             b"Expect: 100-continue\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 413"), out[:100])
        out = raw_exchange(self.daemon.port, b"GET /v3/types HTTP/1.1\r\nHost: x\r\nX-Big: " + b"y" * 10000 + b"\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 431"), out[:100])
        # Truncated: the body never comes whole; the server answers 408 or just closes.
        out = raw_exchange(self.daemon.port, b"POST /v3/volumes HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"vol",
                           wait=10)
        self.assertTrue(out == b"" or out.startswith(b"HTTP/1.1 408"), out[:100])
        # Slow: headers dribbled in over more than request_timeout (3 s).
        start = time.time()
        out = raw_exchange(self.daemon.port, None, wait=10,
                           chunks=[b"GET /v3/types HTTP/1.1\r\n"] + [b"X-Slow: 1\r\n"] * 10, pause=0.5)
        self.assertTrue(out.startswith(b"HTTP/1.1 408"), out[:100])
        self.assertLess(time.time() - start, 9)
        out = raw_exchange(self.daemon.port, b"THIS IS NOT HTTP\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 400"), out[:100])
        # Still serving.
        self.assertEqual(request(self.daemon.port, "GET", "/v3/types")[0], 200)

    def test_connections_beyond_the_limit_get_503(self):
        socks = []
        try:
            for _ in range(45):
                socks.append(socket.create_connection(("127.0.0.1", self.daemon.port), timeout=5))
            time.sleep(0.5)
            s = socket.create_connection(("127.0.0.1", self.daemon.port), timeout=5)
            data = s.recv(4096)
            s.close()
            self.assertTrue(data.startswith(b"HTTP/1.1 503"), data[:100])
            self.assertIn(b"x-openstack-request-id: req-", data)
            self.assertIn(b'"overLimit"', data)
        finally:
            for s in socks:
                s.close()
        time.sleep(0.5)
        self.assertEqual(request(self.daemon.port, "GET", "/v3/types")[0], 200)

    # --- two instances -----------------------------------------------------------
    def test_two_instances_see_the_same_volumes_and_attachments(self):
        other = Daemon()
        try:
            v = self.create({"size": 1, "volume_type": "ssd", "name": "svc-two"})["id"]
            wait_status(self.daemon.port, v, "available")
            status, _, doc, _ = show(other.port, v)
            self.assertEqual(status, 200)
            self.assertEqual(doc["volume"]["name"], "svc-two")
            h = {"OpenStack-API-Version": "volume 3.44"}
            results = []

            def attach(port, domain):
                results.append(request(port, "POST", "/v3/attachments",
                                       {"attachment": {"volume_uuid": v, "instance_uuid": domain,
                                                       "connector": {"host": domain}}}, headers=h))
            t1 = threading.Thread(target=attach, args=(self.daemon.port, "two-a"))
            t2 = threading.Thread(target=attach, args=(other.port, "two-b"))
            t1.start(); t2.start(); t1.join(); t2.join()
            self.assertEqual(sorted(r[0] for r in results), [200, 409])
            winner = [r for r in results if r[0] == 200][0][2]["attachment"]["id"]
            self.assertEqual(request(other.port, "DELETE", "/v3/attachments/" + winner, headers=h)[0], 200)
        finally:
            self.assertEqual(other.stop(), 0)


class Auth(unittest.TestCase):
    def test_token_strategy(self):
        tokens = os.path.join(WORK, "tokens")
        with open(tokens, "w") as f:
            f.write("# tokens\nsecret-token\n")
        os.chmod(tokens, 0o644)
        with self.assertRaises(AssertionError):
            Daemon("auth_strategy = token\ntoken_file = %s\n" % tokens)
        os.chmod(tokens, 0o600)
        d = Daemon("auth_strategy = token\ntoken_file = %s\n" % tokens)
        try:
            self.assertEqual(request(d.port, "GET", "/v3/types")[0], 401)
            self.assertEqual(request(d.port, "GET", "/v3/types", headers={"X-Auth-Token": "secret-tokeX"})[0], 401)
            self.assertEqual(request(d.port, "GET", "/v3/types", headers={"X-Auth-Token": "secret-token"})[0], 200)
            self.assertEqual(request(d.port, "GET", "/")[0], 300)  # discovery needs no token
            r = openstack(d, "volume", "type", "list", "-f", "json")
            self.assertIn("ssd", [t["Name"] for t in json.loads(r.stdout)])
        finally:
            self.assertEqual(d.stop(), 0)

    def test_noauth_only_on_loopback(self):
        config = write_config("auth_strategy = noauth\n")
        r = subprocess.run([RBDVOLD, "--config", config, "--listen", "0.0.0.0:%d" % free_port(),
                            "--image-listen", "127.0.0.1:%d" % free_port()],
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("loopback", r.stderr)


class Tls(unittest.TestCase):
    def test_https_with_a_configured_certificate(self):
        import ssl
        cert, key = os.path.join(WORK, "cert.pem"), os.path.join(WORK, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert],
                       check=True, capture_output=True, timeout=60)
        d = Daemon("tls_cert = %s\ntls_key = %s\n" % (cert, key))
        try:
            context = ssl.create_default_context(cafile=cert)
            context.check_hostname = False
            conn = http.client.HTTPSConnection("127.0.0.1", d.port, context=context, timeout=30)
            conn.request("GET", "/v3/types")
            r = conn.getresponse()
            body = r.read()
            self.assertEqual(r.status, 200)
            self.assertIn(b"ssd", body)
            conn.close()
            # Plain HTTP to it gets no HTTP answer.
            out = raw_exchange(d.port, b"GET /v3/types HTTP/1.1\r\nHost: x\r\n\r\n", wait=5)
            self.assertFalse(out.startswith(b"HTTP/1.1 200"))
            r = subprocess.run(["cinder", "--insecure", "--os-auth-type", "noauth", "--os-endpoint",
                                "https://127.0.0.1:%d/v3" % d.port, "--os-user-id", "u",
                                "--os-project-id", "p", "type-list"],
                               capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("ssd", r.stdout)
        finally:
            self.assertEqual(d.stop(), 0)


class Lifecycle(unittest.TestCase):
    def test_sigterm_lets_a_create_in_flight_finish(self):
        d = Daemon("shutdown_grace = 60\n")
        status, _, doc, text = request(d.port, "POST", "/v3/volumes",
                                       {"volume": {"size": 1, "volume_type": "hdd", "name": "svc-term"}})
        self.assertEqual(status, 202, text)
        vid = doc["volume"]["id"]
        self.assertEqual(d.stop(), 0)
        self.assertIn("SIGTERM", d.log_text())
        other = Daemon()
        try:
            self.assertEqual(show(other.port, vid)[2]["volume"]["status"], "available")
            request(other.port, "DELETE", "/v3/volumes/" + vid)
            wait_status(other.port, vid, "gone")
        finally:
            other.stop()


class Journal(unittest.TestCase):
    def upload_image(self, size_mib=64):
        path = os.path.join(WORK, "big.raw")
        with open(path, "wb") as f:
            for _ in range(size_mib):
                f.write(os.urandom(1 << 20))
        r = subprocess.run([RBDVOL, "--config", CONFIG, "--json", "image", "upload", path, "--name",
                            "svc-kill-" + uuid.uuid4().hex[:6], "--backend", "fast"],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)["id"]

    def test_two_instances_agree_on_a_volume_being_created(self):
        image = self.upload_image(64)
        a, b = Daemon(), Daemon()
        try:
            name = "svc-journal-" + uuid.uuid4().hex[:6]
            status, _, doc, text = request(a.port, "POST", "/v3/volumes",
                                           {"volume": {"volume_type": "hdd", "imageRef": image,
                                                       "name": name}})
            self.assertEqual(status, 202, text)
            vid = doc["volume"]["id"]
            seen_by_b = show(b.port, vid)
            self.assertEqual(seen_by_b[0], 200, seen_by_b[3])
            self.assertIn(seen_by_b[2]["volume"]["status"], ("creating", "available"))
            # Listings merge the journal's volume being created with the
            # directory's; its id is a marker either way.
            status, _, doc, text = request(b.port, "GET", "/v3/volumes/detail?limit=5&name=" + name)
            self.assertEqual(status, 200, text)
            self.assertEqual([v["id"] for v in doc["volumes"]], [vid])
            self.assertIn(doc["volumes"][0]["status"], ("creating", "available"))
            status, _, doc, text = request(b.port, "GET", "/v3/volumes?limit=1&marker=" + vid)
            self.assertEqual(status, 200, text)
            self.assertNotIn(vid, [v["id"] for v in doc["volumes"]])
            wait_status(b.port, vid, "available", timeout=180)
            request(b.port, "DELETE", "/v3/volumes/" + vid)
            wait_status(a.port, vid, "gone")
        finally:
            a.stop()
            b.stop()
            subprocess.run([RBDVOL, "--config", CONFIG, "image", "delete", image, "--force"],
                           capture_output=True, text=True, timeout=120)

    def killed_mid_create_then_restarted(self, fault, size_mib):
        """rbdvold killed by SIGKILL at a fault point of the plugin's create
        (the plugin's "point=kill": a real kill -9, at a known moment), then
        a new instance: returns the final status and the volume's id."""
        image = self.upload_image(size_mib)
        try:
            d = Daemon(fault=fault)
            status, _, doc, text = request(d.port, "POST", "/v3/volumes",
                                           {"volume": {"volume_type": "hdd", "imageRef": image}})
            self.assertEqual(status, 202, text)
            vid = doc["volume"]["id"]
            d.proc.wait(120)
            self.assertEqual(d.proc.returncode, -signal.SIGKILL, d.log_text())
            d.stop()
            restarted = Daemon()
            try:
                self.assertEqual(show(restarted.port, vid)[2]["volume"]["status"], "creating")
                deadline = time.time() + 240
                final = None
                while time.time() < deadline:
                    final = show(restarted.port, vid)[2]["volume"]["status"]
                    if final != "creating":
                        break
                    time.sleep(1)
                self.assertIn("taking over create of volume " + vid, restarted.log_text())
                sys.stderr.write("\n  after kill -9 at %s and restart: %s (%s)\n" % (
                    fault, final, show(restarted.port, vid)[2]["volume"].get("rbdvol:error", "resumed")))
                exists = rbd("capacity", "info", "volumes/volume-" + vid).returncode == 0
                # A retried delete succeeds (202 while it runs), then it is gone.
                self.assertEqual(request(restarted.port, "DELETE", "/v3/volumes/" + vid)[0], 202)
                self.assertIn(request(restarted.port, "DELETE", "/v3/volumes/" + vid)[0], (202, 404))
                wait_status(restarted.port, vid, "gone")
                return final, exists
            finally:
                restarted.stop()
        finally:
            subprocess.run([RBDVOL, "--config", CONFIG, "image", "delete", image, "--force"],
                           capture_output=True, text=True, timeout=120)

    def test_kill_9_in_the_copy_then_restart_resumes_it_to_available(self):
        final, exists = self.killed_mid_create_then_restarted("image.copy:kill-after-chunk=4", 64)
        self.assertEqual(final, "available")
        self.assertTrue(exists)

    def test_kill_9_after_the_rbd_create_then_restart_ends_error_leaving_nothing(self):
        final, exists = self.killed_mid_create_then_restarted("volume.create:after-create=kill", 8)
        self.assertEqual(final, "error")
        self.assertFalse(exists)


class ZzNoKeyAnywhere(unittest.TestCase):
    def test_zz_no_cluster_key_in_any_answer(self):
        keys = cluster_keys()
        self.assertTrue(keys)
        text = "\n".join(ANSWERS)
        for key in keys:
            self.assertNotIn(key, text)


class TimedResult(unittest.TextTestResult):
    """Prints each test's time after its verdict, so that a slow case shows in
    CI's log."""

    def startTest(self, test):
        self._started = time.monotonic()
        super().startTest(test)

    def stopTest(self, test):
        super().stopTest(test)
        self.stream.writeln("    (%.1f s)" % (time.monotonic() - self._started))
        self.stream.flush()


def run_tests():
    """The entry point of every service test file: FILE RBDVOLD RBDVOL
    [unittest args]; runs the test cases of the file run as __main__."""
    global RBDVOLD, RBDVOL
    RBDVOLD, RBDVOL = sys.argv[1], sys.argv[2]
    if not CONFIG or not os.path.exists(CONFIG):
        sys.exit("RBDVOL_CONFIG is not set: eval \"$(scripts/sandbox env)\" first")
    try:
        unittest.main(module="__main__", argv=[sys.argv[0]] + sys.argv[3:], verbosity=2,
                      testRunner=unittest.TextTestRunner(resultclass=TimedResult, verbosity=2))
    finally:
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    run_tests()
