#!/usr/bin/env python3
"""Integration tests of rbdvold's image API (Glance v2) against the sandbox,
driven by Debian's `glance` and `openstack` commands as a user types them,
and by raw HTTP for ranges and hostile input.

Usage: glance_test.py RBDVOLD RBDVOL [unittest args]
Needs $RBDVOL_CONFIG (scripts/sandbox env). Every test deletes the images it
made; other users of the sandbox's pools are left alone.
"""
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rbdvold_test as base  # noqa: E402
from rbdvold_test import ANSWERS, WORK, free_port, raw_exchange, rbd, request  # noqa: E402


class ImageDaemon(base.Daemon):
    """rbdvold with its image API on a free port of its own."""

    def __init__(self, service="", fault=None):
        self.image_port = free_port()
        super().__init__(service, args=["--image-listen", "127.0.0.1:%d" % self.image_port],
                         fault=fault)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                base.socket.create_connection(("127.0.0.1", self.image_port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("the image API did not listen: " + self.log_text())

    @property
    def image_url(self):
        return "http://127.0.0.1:%d" % self.image_port


def glance(daemon, *args, check=True, home=None):
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("OS_"):
            del env[k]
    env["HOME"] = home or os.path.join(WORK, "home")  # glanceclient caches schemas under ~
    os.makedirs(env["HOME"], exist_ok=True)
    cmd = ["glance", "--os-image-url", daemon.image_url, "--os-auth-token", "secret-token"]
    r = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=300, env=env)
    ANSWERS.append(r.stdout + r.stderr)
    if check and r.returncode != 0:
        raise AssertionError("glance %s failed (%d): %s %s" % (" ".join(args), r.returncode,
                                                                 r.stdout, r.stderr))
    return r


def openstack_image(daemon, *args, check=True):
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("OS_"):
            del env[k]
    cmd = ["openstack", "--os-auth-type", "admin_token", "--os-token", "secret-token",
           "--os-endpoint", daemon.image_url + "/v2", "--os-image-api-version", "2"]
    r = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=300, env=env)
    ANSWERS.append(r.stdout + r.stderr)
    if check and r.returncode != 0:
        raise AssertionError("openstack %s failed (%d): %s %s" % (" ".join(args), r.returncode,
                                                                    r.stdout, r.stderr))
    return r


def table_value(text, field):
    """A field of glance's `Property | Value` table."""
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0] == field:
            return cells[1]
    raise AssertionError("no %s in: %s" % (field, text))


def make_file(name, size, dense=True, seed=b"x"):
    path = os.path.join(WORK, name)
    with open(path, "wb") as f:
        if dense:
            block = hashlib.sha256(seed).digest() * 32768  # 1 MiB
            left = size
            while left > 0:
                f.write(block[:min(left, len(block))])
                left -= len(block)
        else:
            f.truncate(size)
            f.seek(size // 3)
            f.write(os.urandom(1 << 20))
    return path


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for piece in iter(lambda: f.read(1 << 20), b""):
            h.update(piece)
    return h.hexdigest()


def image_doc(daemon, image_id):
    status, _, doc, text = request(daemon.image_port, "GET", "/v2/images/" + image_id)
    if status != 200:
        raise AssertionError("GET image %s: %d %s" % (image_id, status, text))
    return doc


def wait_image(daemon, image_id, until, timeout=120):
    deadline = time.time() + timeout
    doc = None
    while time.time() < deadline:
        doc = image_doc(daemon, image_id)
        if until(doc):
            return doc
        time.sleep(0.3)
    raise AssertionError("image %s never got there: %s" % (image_id, doc))


def create_record(daemon, name, disk_format="raw", headers=None):
    status, _, doc, text = request(daemon.image_port, "POST", "/v2/images",
                                   {"name": name, "disk_format": disk_format,
                                    "container_format": "bare"}, headers=headers)
    if status != 201:
        raise AssertionError("create: %d %s" % (status, text))
    return doc["id"]


def delete_image(daemon, image_id):
    request(daemon.image_port, "DELETE", "/v2/images/" + image_id)


def rbd_has(backend, image_id):
    return rbd(backend, "info", "images/image-" + image_id).returncode == 0


class ImageApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = ImageDaemon()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def test_discovery_schemas_and_stores(self):
        status, _, doc, _ = request(self.d.image_port, "GET", "/versions")
        self.assertEqual(status, 200)
        self.assertEqual(doc["versions"][0]["id"], "v2.9")
        status, _, doc, _ = request(self.d.image_port, "GET", "/v2/schemas/image")
        self.assertEqual(status, 200)
        self.assertIn("os_hash_value", doc["properties"])
        r = glance(self.d, "stores-info", "--detail")
        self.assertIn("fast", r.stdout)
        self.assertIn("capacity", r.stdout)
        status, _, doc, _ = request(self.d.image_port, "GET", "/v2/info/stores/detail")
        stores = {s["id"]: s for s in doc["stores"]}
        self.assertTrue(stores["fast"].get("default"))
        self.assertEqual(stores["capacity"]["properties"]["pool"], "images")
        self.assertRegex(stores["capacity"]["properties"]["fsid"], r"^[0-9a-f-]{36}$")
        status, _, doc, _ = request(self.d.image_port, "GET", "/v2/info/import")
        self.assertEqual(doc["import-methods"]["value"], ["glance-direct", "copy-image"])

    def test_upload_to_each_store_download_and_hash(self):
        src = make_file("dense-%s.raw" % uuid.uuid4().hex[:6], 24 << 20, seed=b"each")
        for store in ("fast", "capacity"):
            name = "gt-%s-%s" % (store, uuid.uuid4().hex[:6])
            r = glance(self.d, "image-create", "--name", name, "--disk-format", "raw",
                       "--container-format", "bare", "--file", src, "--store", store)
            image_id = table_value(r.stdout, "id")
            try:
                doc = image_doc(self.d, image_id)
                self.assertEqual(doc["status"], "active")
                self.assertEqual(doc["stores"], store)
                self.assertEqual(doc["size"], 24 << 20)
                self.assertEqual(doc["os_hash_algo"], "sha256")
                self.assertEqual(doc["os_hash_value"], sha256_of(src))
                self.assertTrue(rbd_has(store, image_id), "no RBD image in " + store)
                out = os.path.join(WORK, "down-" + image_id)
                # the client checks os_hash_value while it downloads
                glance(self.d, "image-download", "--file", out, image_id)
                self.assertEqual(sha256_of(out), sha256_of(src))
                r = openstack_image(self.d, "image", "show", image_id, "-f", "json")
                self.assertEqual(json.loads(r.stdout)["name"], name)
                r = openstack_image(self.d, "image", "list", "-f", "json")
                self.assertIn(image_id, [i["ID"] for i in json.loads(r.stdout)])
            finally:
                glance(self.d, "image-delete", image_id, check=False)
            self.assertFalse(rbd_has(store, image_id))

    def test_qcow2_is_converted_and_stored_raw(self):
        raw = make_file("q-%s.raw" % uuid.uuid4().hex[:6], 16 << 20, dense=False)
        qcow2 = raw + ".qcow2"
        subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, qcow2], check=True)
        r = glance(self.d, "image-create", "--name", "gt-qcow2", "--disk-format", "qcow2",
                   "--container-format", "bare", "--file", qcow2)
        image_id = table_value(r.stdout, "id")
        try:
            doc = image_doc(self.d, image_id)
            self.assertEqual(doc["status"], "active")
            self.assertEqual(doc["disk_format"], "raw")
            self.assertEqual(doc["size"], 16 << 20)
            self.assertEqual(doc["os_hash_value"], sha256_of(raw))
            out = os.path.join(WORK, "qdown-" + image_id)
            glance(self.d, "image-download", "--file", out, image_id)
            self.assertEqual(sha256_of(out), sha256_of(raw))
        finally:
            glance(self.d, "image-delete", image_id, check=False)

    def test_copy_image_then_store_delete(self):
        src = make_file("copy-%s.raw" % uuid.uuid4().hex[:6], 8 << 20, seed=b"copy")
        r = glance(self.d, "image-create", "--name", "gt-copy", "--disk-format", "raw",
                   "--container-format", "bare", "--file", src, "--store", "fast")
        image_id = table_value(r.stdout, "id")
        try:
            glance(self.d, "image-import", "--import-method", "copy-image", "--stores",
                   "capacity", image_id)
            doc = wait_image(self.d, image_id,
                             lambda d: set(d.get("stores", "").split(",")) == {"fast", "capacity"})
            self.assertEqual(doc.get("os_glance_importing_to_stores", ""), "")
            self.assertTrue(rbd_has("capacity", image_id))
            # a volume made from it on capacity is a clone of the copy there
            vol = subprocess.run([base.RBDVOL, "--config", base.CONFIG, "--json", "volume", "create",
                                  "--type", "hdd", "--image", image_id,
                                  "--name", "gt-from-copy"], capture_output=True, text=True)
            self.assertEqual(vol.returncode, 0, vol.stderr)
            vid = json.loads(vol.stdout)["id"]
            info = json.loads(rbd("capacity", "info", "--format", "json",
                                  "volumes/volume-" + vid).stdout)
            self.assertEqual(info["parent"]["image"], "image-" + image_id)
            subprocess.run([base.RBDVOL, "--config", base.CONFIG, "volume", "delete", vid],
                           capture_output=True)
            glance(self.d, "stores-delete", image_id, "--store", "capacity")
            doc = image_doc(self.d, image_id)
            self.assertEqual(doc["stores"], "fast")
            self.assertFalse(rbd_has("capacity", image_id))
            # the last copy is not deleted this way
            status, _, _, text = request(self.d.image_port, "DELETE",
                                         "/v2/stores/fast/" + image_id)
            self.assertEqual(status, 409, text)
        finally:
            glance(self.d, "image-delete", image_id, check=False)

    def test_stage_and_glance_direct_import(self):
        src = make_file("stage-%s.raw" % uuid.uuid4().hex[:6], 6 << 20, seed=b"stage")
        # glance's image-create-via-import refuses --file when its stdin is not
        # a terminal (as under a test runner): the same steps, one command each.
        image_id = create_record(self.d, "gt-direct")
        glance(self.d, "image-stage", "--file", src, image_id)
        self.assertEqual(image_doc(self.d, image_id)["status"], "uploading")
        glance(self.d, "image-import", "--import-method", "glance-direct", "--stores", "capacity",
               image_id)
        try:
            doc = wait_image(self.d, image_id, lambda d: d["status"] in ("active", "queued")
                             or d.get("os_glance_failed_import"))
            self.assertEqual(doc["status"], "active", doc)
            self.assertEqual(doc["stores"], "capacity")
            self.assertEqual(doc["os_hash_value"], sha256_of(src))
        finally:
            glance(self.d, "image-delete", image_id, check=False)

    def test_volume_uploaded_to_image(self):
        made = subprocess.run([base.RBDVOL, "--config", base.CONFIG, "--json", "volume", "create",
                               "--type", "ssd", "--size", "8M", "--name", "gt-upload-src"],
                              capture_output=True, text=True)
        self.assertEqual(made.returncode, 0, made.stderr)
        vol = json.loads(made.stdout)
        image_id = None
        try:
            r = base.cinder(self.d, "upload-to-image", vol["id"], "gt-from-volume")
            image_id = table_value(r.stdout, "image_id")
            doc = wait_image(self.d, image_id, lambda d: d["status"] in ("active", "killed"))
            self.assertEqual(doc["status"], "active", doc)
            self.assertEqual(doc["stores"], vol["backend"])
            self.assertEqual(doc["size"], 8 << 20)
            self.assertEqual(doc["os_hash_value"], hashlib.sha256(b"\0" * (8 << 20)).hexdigest())
            self.assertTrue(rbd_has(vol["backend"], image_id))
            out = os.path.join(WORK, "fromvol-" + image_id)
            glance(self.d, "image-download", "--file", out, image_id)
            self.assertEqual(os.path.getsize(out), 8 << 20)
        finally:
            if image_id:
                delete_image(self.d, image_id)
            subprocess.run([base.RBDVOL, "--config", base.CONFIG, "volume", "delete", vol["id"]],
                           capture_output=True)

    def test_ranges(self):
        src = make_file("range-%s.raw" % uuid.uuid4().hex[:6], 4 << 20, seed=b"range")
        image_id = create_record(self.d, "gt-range")
        try:
            with open(src, "rb") as f:
                data = f.read()
            status, _, _, text = request(self.d.image_port, "PUT", "/v2/images/%s/file" % image_id,
                                         raw_body=data,
                                         headers={"Content-Type": "application/octet-stream"})
            self.assertEqual(status, 204, text)
            conn = base.http.client.HTTPConnection("127.0.0.1", self.d.image_port, timeout=30)
            conn.request("GET", "/v2/images/%s/file" % image_id, headers={"Range": "bytes=100-1099"})
            r = conn.getresponse()
            body = r.read()
            self.assertEqual(r.status, 206)
            self.assertEqual(r.getheader("Content-Range"), "bytes 100-1099/%d" % len(data))
            self.assertEqual(body, data[100:1100])
            conn.request("GET", "/v2/images/%s/file" % image_id, headers={"Range": "bytes=-10"})
            r = conn.getresponse()
            self.assertEqual((r.status, r.read()), (206, data[-10:]))
            for bad in ("bytes=%d-" % len(data), "bytes=5-2", "bytes=-0", "items=1-2",
                        "bytes=1-2,4-5"):
                conn.request("GET", "/v2/images/%s/file" % image_id, headers={"Range": bad})
                r = conn.getresponse()
                r.read()
                self.assertEqual(r.status, 416, bad)
                self.assertEqual(r.getheader("Content-Range"), "bytes */%d" % len(data))
            conn.close()
        finally:
            delete_image(self.d, image_id)

    def test_hostile_uploads(self):
        port = self.d.image_port
        # an unknown store
        image_id = create_record(self.d, "gt-hostile")
        try:
            status, _, doc, text = request(port, "PUT", "/v2/images/%s/file" % image_id,
                                           raw_body=b"x" * 4096,
                                           headers={"Content-Type": "application/octet-stream",
                                                    "X-Image-Meta-Store": "nowhere"})
            self.assertEqual(status, 400, text)
            self.assertIn("nowhere", text)
            # qcow2 data declared raw
            status, _, _, text = request(port, "PUT", "/v2/images/%s/file" % image_id,
                                         raw_body=b"QFI\xfb" + b"\0" * 4092,
                                         headers={"Content-Type": "application/octet-stream"})
            self.assertEqual(status, 400, text)
            self.assertIn("qcow2", text)
            self.assertEqual(image_doc(self.d, image_id)["status"], "queued")
            # a body shorter than its Content-Length: the connection is cut
            head = ("PUT /v2/images/%s/file HTTP/1.1\r\nHost: x\r\n"
                    "Content-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n"
                    % (image_id, 8 << 20)).encode()
            raw_exchange(port, None, wait=3, chunks=[head, b"y" * (1 << 20)])
            doc = wait_image(self.d, image_id, lambda d: d["status"] != "saving", timeout=60)
            self.assertEqual(doc["status"], "queued")
            # a chunked body cut in the middle
            head = ("PUT /v2/images/%s/file HTTP/1.1\r\nHost: x\r\n"
                    "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
                    % image_id).encode()
            raw_exchange(port, None, wait=3, chunks=[head, b"100000\r\n" + b"z" * 1000])
            doc = wait_image(self.d, image_id, lambda d: d["status"] != "saving", timeout=60)
            self.assertEqual(doc["status"], "queued")
            # bad JSON patch, read-only attribute, a missing image
            status, _, _, _ = request(port, "PATCH", "/v2/images/" + image_id,
                                      [{"op": "replace", "path": "/status", "value": "active"}],
                                      headers={"Content-Type":
                                               "application/openstack-images-v2.1-json-patch"})
            self.assertEqual(status, 403)
            status, _, _, _ = request(port, "PATCH", "/v2/images/" + image_id,
                                      [{"op": "add", "path": "/os_distro", "value": "debian"}],
                                      headers={"Content-Type":
                                               "application/openstack-images-v2.1-json-patch"})
            self.assertEqual(status, 200)
            self.assertEqual(image_doc(self.d, image_id)["os_distro"], "debian")
            status, _, _, _ = request(port, "GET", "/v2/images/" + str(uuid.uuid4()))
            self.assertEqual(status, 404)
            status, _, _, _ = request(port, "POST", "/v2/images",
                                      {"name": "x", "disk_format": "vmdk"})
            self.assertEqual(status, 400)
            # the data is still uploadable after all that
            status, _, _, text = request(port, "PUT", "/v2/images/%s/file" % image_id,
                                         raw_body=b"ok" * 4096,
                                         headers={"Content-Type": "application/octet-stream"})
            self.assertEqual(status, 204, text)
            self.assertEqual(image_doc(self.d, image_id)["status"], "active")
        finally:
            delete_image(self.d, image_id)

    def test_kill_during_upload_leaves_queued_and_partial(self):
        d = ImageDaemon(fault="image.write:kill-after-chunk=2")
        src = make_file("kill-%s.raw" % uuid.uuid4().hex[:6], 32 << 20, seed=b"kill")
        image_id = create_record(d, "gt-kill")
        try:
            with open(src, "rb") as f:
                data = f.read()
            try:
                request(d.image_port, "PUT", "/v2/images/%s/file" % image_id, raw_body=data,
                        headers={"Content-Type": "application/octet-stream"}, timeout=30)
            except Exception:
                pass  # the daemon died under it
            d.proc.wait(30)
            self.assertEqual(d.proc.returncode, -signal.SIGKILL, d.log_text())
            d.stop()
            # another instance settles the dead one's upload
            self.assertEqual(image_doc(self.d, image_id)["status"], "saving")
            doc = wait_image(self.d, image_id, lambda x: x["status"] != "saving", timeout=60)
            self.assertEqual(doc["status"], "queued")
            partials = subprocess.run([base.RBDVOL, "--config", base.CONFIG, "--json", "image",
                                       "partials"], capture_output=True, text=True)
            self.assertIn(image_id, partials.stdout)
            # A new upload replaces the partial and completes. The killed
            # client's watch on the partial lingers until the OSDs time it out
            # (30 s): until then the partial counts as being written, and the
            # upload is refused (409) before it reads the body.
            deadline = time.time() + 90
            status, text = None, ""
            while time.time() < deadline:
                try:
                    status, _, _, text = request(self.d.image_port, "PUT",
                                                 "/v2/images/%s/file" % image_id, raw_body=data,
                                                 headers={"Content-Type": "application/octet-stream"})
                except OSError as e:
                    status, text = None, str(e)
                if status == 204:
                    break
                self.assertEqual(image_doc(self.d, image_id)["status"], "queued")
                time.sleep(3)
            self.assertEqual(status, 204, text)
            doc = image_doc(self.d, image_id)
            self.assertEqual((doc["status"], doc["os_hash_value"]), ("active", sha256_of(src)))
        finally:
            delete_image(self.d, image_id)


if __name__ == "__main__":
    base.run_tests()
