#!/usr/bin/env python3
"""Integration tests of `rbdvol image upload FILE --url URL`, the client of
rbdvold's transfer resource (docs/cli.md, docs/rest-api.md "Parallel ranged
uploads"), against a real rbdvold on the sandbox: a sparse file over four
connections, compared byte for byte and by its sha256; a client killed with
SIGKILL and the upload resumed, sending only what was missing; a connection
cut in the middle of a range and the piece sent again by itself; TLS; and
what is refused before anything is sent.

The client runs with RBDVOL_CONFIG naming no file and --driver naming no
plugin: the --url path needs neither. Some tests put a proxy of their own
between the client and rbdvold, to slow the data down or cut a connection.

Usage: ranged_upload_test.py RBDVOLD RBDVOL [unittest args]
Needs $RBDVOL_CONFIG (scripts/sandbox env). Every test deletes the images it
made.
"""
import hashlib
import http.client
import json
import os
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rbdvold_test as base  # noqa: E402
from glance_test import ImageDaemon  # noqa: E402
from rbdvold_test import WORK, request  # noqa: E402

MIB = 1 << 20
CHUNK = 4 * MIB  # the transfer's default chunk size
TOKEN = "ranged-upload-token"
AUTH = {"X-Auth-Token": TOKEN}


def make_sparse(name, size, pieces):
    """A sparse file of `size` bytes with `pieces` ({offset: bytes}) written."""
    path = os.path.join(WORK, name)
    with open(path, "wb") as f:
        f.truncate(size)
        for at, data in pieces.items():
            f.seek(at)
            f.write(data)
    return path


def data_chunk_bytes(size, pieces):
    """What the client must send: the 4 MiB chunks the pieces touch."""
    chunks = set()
    for at, data in pieces.items():
        for c in range(at // CHUNK, (at + len(data) - 1) // CHUNK + 1):
            chunks.add(c)
    return sum(min(CHUNK, size - c * CHUNK) for c in chunks)


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MIB), b""):
            h.update(block)
    return h.hexdigest()


def client_env(token=TOKEN):
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("OS_"):
            del env[k]
    env["RBDVOL_CONFIG"] = os.path.join(WORK, "no-such-rbdvol.conf")  # --url needs none
    env.pop("RBDVOL_DRIVER", None)
    env.pop("SSL_CERT_FILE", None)
    if token is not None:
        env["OS_AUTH_TOKEN"] = token
    return env


def upload_args(path, name, url, *extra):
    return [base.RBDVOL, "--json", "--driver", "/nonexistent/librbdvol_rbd.so", "image", "upload",
            path, "--name", name, "--url", url] + list(extra)


def run_upload(path, name, url, *extra, env=None, timeout=300):
    r = subprocess.run(upload_args(path, name, url, *extra), capture_output=True, text=True,
                       timeout=timeout, env=env or client_env())
    base.ANSWERS.append(r.stdout + r.stderr)
    return r


class Proxy:
    """A TCP proxy to rbdvold's image API on a free port: the client's bytes
    go through at `rate` bytes per second per connection (None: at once); the
    first connection that has carried `cut_after` bytes from the client is
    reset."""

    def __init__(self, upstream_port, rate=None, cut_after=None):
        self.upstream_port = upstream_port
        self.rate = rate
        self.cut_after = cut_after
        self.cut_at = None  # bytes of the cut connection the client had sent
        self.connections = 0
        self.lock = threading.Lock()
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.closed = False
        threading.Thread(target=self.accept, daemon=True).start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                client.close()
                continue
            with self.lock:
                self.connections += 1
            threading.Thread(target=self.upward, args=(client, server), daemon=True).start()
            threading.Thread(target=self.downward, args=(server, client), daemon=True).start()

    @staticmethod
    def reset(*socks):
        for s in socks:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
            except OSError:
                pass

    def upward(self, client, server):
        carried = 0
        start = time.time()
        try:
            while True:
                data = client.recv(64 * 1024)
                if not data:
                    break
                with self.lock:
                    cut = (self.cut_after is not None and self.cut_at is None
                           and carried + len(data) >= self.cut_after)
                    if cut:
                        self.cut_at = self.cut_after
                if cut:
                    # rbdvold gets what came up to the cut, then the end of
                    # the stream; the client, a reset.
                    server.sendall(data[:self.cut_after - carried])
                    server.shutdown(socket.SHUT_WR)
                    self.reset(client)
                    return
                server.sendall(data)
                carried += len(data)
                if self.rate:
                    ahead = carried / self.rate - (time.time() - start)
                    if ahead > 0:
                        time.sleep(ahead)
        except OSError:
            pass
        self.reset(client, server)

    def downward(self, server, client):
        try:
            while True:
                data = server.recv(64 * 1024)
                if not data:
                    break
                client.sendall(data)
        except OSError:
            pass
        self.reset(client, server)

    def close(self):
        self.closed = True
        self.listener.close()


class RangedUploadTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        tokens = os.path.join(WORK, "ranged-upload-tokens")
        with open(tokens, "w") as f:
            f.write("# the tests' token\n%s\n" % TOKEN)
        os.chmod(tokens, 0o600)
        cls.d = ImageDaemon("auth_strategy = token\ntoken_file = %s\n" % tokens)
        cls.url = cls.d.image_url

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def api(self, method, path, body=None, timeout=60):
        return request(self.d.image_port, method, path, body, headers=AUTH, timeout=timeout)

    def name(self, what):
        return "urlclient-%s-%s" % (what, uuid.uuid4().hex[:8])

    def images_named(self, name):
        status, _, doc, text = self.api("GET", "/v2/images?name=" + name)
        self.assertEqual(status, 200, text)
        return doc["images"]

    def delete_named(self, name):
        for image in self.images_named(name):
            self.api("DELETE", "/v2/images/" + image["id"])

    def transfer(self, image_id):
        status, _, doc, text = self.api("GET", "/v2/images/%s/transfer" % image_id)
        self.assertEqual(status, 200, text)
        return doc

    def download(self, image_id):
        conn = http.client.HTTPConnection("127.0.0.1", self.d.image_port, timeout=120)
        conn.request("GET", "/v2/images/%s/file" % image_id, headers=AUTH)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        self.assertEqual(r.status, 200)
        return data

    def check_image(self, answer, path, name):
        """The image the client printed is active, holds the file byte for byte
        and its os_hash_value is the file's sha256."""
        self.assertEqual(answer["name"], name)
        self.assertEqual(answer["status"], "active")
        self.assertEqual(answer["os_hash_algo"], "sha256")
        self.assertEqual(answer["os_hash_value"], sha256_of(path))
        self.assertEqual(answer["size"], os.path.getsize(path))
        status, _, doc, text = self.api("GET", "/v2/images/" + answer["id"])
        self.assertEqual(status, 200, text)
        self.assertEqual(doc["status"], "active")
        self.assertEqual(doc["os_hash_value"], sha256_of(path))
        data = self.download(answer["id"])
        with open(path, "rb") as f:
            self.assertTrue(data == f.read(), "the downloaded image differs from the file")
        self.assertEqual(hashlib.sha256(data).hexdigest(), answer["os_hash_value"])

    def test_a_sparse_file_over_four_connections(self):
        size = 64 * MIB + 12345  # a short last chunk
        pieces = {0: os.urandom(100 * 1024), 10 * MIB: os.urandom(MIB),
                  33 * MIB + 5: b"abc", size - 1000: os.urandom(1000)}
        path = make_sparse("sparse.raw", size, pieces)
        name = self.name("sparse")
        self.addCleanup(self.delete_named, name)
        r = run_upload(path, name, self.url + "/v2/", "--connections", "4")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(TOKEN, r.stdout + r.stderr)
        answer = json.loads(r.stdout)
        self.check_image(answer, path, name)
        u = answer["upload"]
        self.assertEqual(u["connections"], 4)
        self.assertEqual(u["chunk_size"], CHUNK)
        self.assertEqual(u["store"], "fast")
        # Only the chunks holding data were sent; the rest was declared holes.
        self.assertEqual(u["bytes_sent"], data_chunk_bytes(size, pieces))
        self.assertEqual(u["bytes_sent"], 3 * CHUNK + 12345)
        self.assertEqual(u["bytes_zeroed"], size - u["bytes_sent"])
        self.assertEqual(u["bytes_confirmed_before"], 0)
        self.assertEqual(u["retries"], 0)
        self.assertIn("fast", answer["stores"])
        # And without --json, as people read it.
        name2 = self.name("sparse-text")
        self.addCleanup(self.delete_named, name2)
        r = subprocess.run([a for a in upload_args(path, name2, self.url) if a != "--json"],
                           capture_output=True, text=True, timeout=300, env=client_env())
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertRegex(lines[0], r"^uploaded image [0-9a-f-]{36} \(%s, 64\.0 MiB\) to store fast "
                                   r"via http://127\.0\.0\.1:\d+$" % name2)
        self.assertEqual(lines[1], "sha256 " + sha256_of(path))

    def test_memory_stays_bounded_whatever_the_file_size(self):
        if "ASAN_OPTIONS" in os.environ:
            # scripts/sanitize sets it for the ASan build, whose shadow memory
            # and freed-memory quarantine say nothing of the plain build's RSS.
            self.skipTest("peak RSS is not measured under AddressSanitizer")
        path = os.path.join(WORK, "dense.raw")
        with open(path, "wb") as f:
            for i in range(256):
                f.write(hashlib.sha256(b"%d" % i).digest() * (MIB // 32))
        name = self.name("dense")
        self.addCleanup(self.delete_named, name)
        out_path, err_path = os.path.join(WORK, "dense.out"), os.path.join(WORK, "dense.err")
        with open(out_path, "w") as out, open(err_path, "w") as err:
            proc = subprocess.Popen(upload_args(path, name, self.url, "--connections", "4"),
                                    stdout=out, stderr=err, env=client_env())
        # The client's peak RSS, from its own VmHWM while it runs: a child's
        # ru_maxrss would count this test's memory too (kept across fork and
        # exec).
        peak_kib = 0
        while proc.poll() is None:
            try:
                with open("/proc/%d/status" % proc.pid) as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            peak_kib = max(peak_kib, int(line.split()[1]))
            except OSError:
                pass
            time.sleep(0.01)
        with open(out_path) as f:
            out = f.read()
        with open(err_path) as f:
            err = f.read()
        self.assertEqual(proc.returncode, 0, err)
        answer = json.loads(out)
        self.assertEqual(answer["upload"]["bytes_sent"], 256 * MIB)
        self.check_image(answer, path, name)
        # Pieces of 16 MiB over 4 connections: loading them whole would take 64 MiB.
        self.assertGreater(peak_kib, 0)
        self.assertLess(peak_kib, 48 * 1024, "the client's peak RSS, KiB")

    def test_a_killed_client_resumed_sends_only_what_is_missing(self):
        size = 48 * MIB
        pieces = {i * MIB: os.urandom(MIB) for i in range(0, 40)}  # chunks 0-9 data, 10-11 holes
        path = make_sparse("resume.raw", size, pieces)
        data_bytes = data_chunk_bytes(size, pieces)
        self.assertEqual(data_bytes, 40 * MIB)
        name = self.name("resume")
        self.addCleanup(self.delete_named, name)
        # 4 MiB/s a connection: the upload takes about 5 s; killed once some
        # data is confirmed.
        proxy = Proxy(self.d.image_port, rate=4 * MIB)
        self.addCleanup(proxy.close)
        proc = subprocess.Popen(upload_args(path, name, proxy.url, "--connections", "2"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=client_env())
        image_id, t = None, None
        deadline = time.time() + 60
        while time.time() < deadline:
            images = [i for i in self.images_named(name) if i["status"] == "saving"]
            if images:
                image_id = images[0]["id"]
                status, _, t, _ = self.api("GET", "/v2/images/%s/transfer" % image_id)
                if status == 200 and 0 < t["missing_bytes"] < data_bytes:
                    break  # 409 while the transfer is being begun
            self.assertIsNone(proc.poll(), "the upload ended before it was cut")
            time.sleep(0.05)
        self.assertIsNotNone(image_id)
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        # What the server still writes of the ranges in flight settles.
        deadline = time.time() + 60
        while time.time() < deadline:
            t = self.transfer(image_id)
            if not t["writing"]:
                break
            time.sleep(0.2)
        self.assertFalse(t["writing"])
        missing = t["missing_bytes"]
        self.assertGreater(missing, 0)
        self.assertLess(missing, size)
        # The same command with --resume: only the missing ranges are sent.
        r = run_upload(path, name, self.url, "--connections", "4", "--resume")
        self.assertEqual(r.returncode, 0, r.stderr)
        answer = json.loads(r.stdout)
        self.assertEqual(answer["id"], image_id)
        u = answer["upload"]
        self.assertEqual(u["bytes_confirmed_before"], size - missing)
        self.assertEqual(u["bytes_sent"] + u["bytes_zeroed"], missing)
        self.assertLess(u["bytes_sent"], data_bytes)
        self.assertEqual(u["retries"], 0)
        self.check_image(answer, path, name)
        # Nothing is left to resume.
        r = run_upload(path, name, self.url, "--resume")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("nothing to resume", r.stderr)

    def test_a_cut_connection_sends_again_only_the_rest_of_its_piece(self):
        size = 32 * MIB
        pieces = {0: os.urandom(32 * MIB)}
        path = make_sparse("cut.raw", size, pieces)
        name = self.name("cut")
        self.addCleanup(self.delete_named, name)
        # Pieces of 8 MiB over one connection (the image and the transfer
        # are made on another one). The connection is cut after 14 MiB: the
        # first piece, and 6 MiB of the second, whose first chunk rbdvold
        # records.
        proxy = Proxy(self.d.image_port, cut_after=14 * MIB)
        self.addCleanup(proxy.close)
        r = run_upload(path, name, proxy.url, "--connections", "1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIsNotNone(proxy.cut_at)
        answer = json.loads(r.stdout)
        u = answer["upload"]
        self.assertGreaterEqual(u["retries"], 1)
        self.assertGreater(proxy.connections, 1)
        # Sent twice: what the cut piece had sent before the cut beyond its
        # recorded chunk (2 to 4 MiB: the client may have written up to 2 MiB
        # more than the proxy carried); the whole piece again would be 6 MiB
        # or more.
        self.assertGreater(u["bytes_sent"], size)
        self.assertLess(u["bytes_sent"] - size, 5 * MIB)
        self.check_image(answer, path, name)

    def test_refused_before_anything_is_sent(self):
        name = self.name("refused")
        qcow = os.path.join(WORK, "image.qcow2")
        subprocess.run(["qemu-img", "create", "-f", "qcow2", qcow, "16M"], check=True,
                       capture_output=True, timeout=60)
        r = run_upload(qcow, name, self.url)
        self.assertEqual(r.returncode, 5, r.stderr)
        self.assertIn("qcow2", r.stderr)
        self.assertIn("without --url", r.stderr)
        self.assertEqual(self.images_named(name), [])
        empty = make_sparse("empty.raw", 0, {})
        r = run_upload(empty, name, self.url)
        self.assertEqual(r.returncode, 5, r.stderr)
        self.assertIn("empty", r.stderr)
        self.assertEqual(self.images_named(name), [])
        raw = make_sparse("small.raw", MIB, {0: b"x" * 4096})
        # a wrong token: 401, the token not shown
        r = run_upload(raw, name, self.url, env=client_env("not-the-token-123"))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("401", r.stderr)
        self.assertNotIn("not-the-token-123", r.stdout + r.stderr)
        # the token from a file
        token_file = os.path.join(WORK, "client-token")
        with open(token_file, "w") as f:
            f.write("\n# mine\n  %s  \n" % TOKEN)
        self.addCleanup(self.delete_named, name)
        r = run_upload(raw, name, self.url, "--token-file", token_file, env=client_env(None))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["upload"]["bytes_sent"], MIB)
        # nothing saving to resume, an unknown store, no server, bad options
        r = run_upload(raw, self.name("none"), self.url, "--resume")
        self.assertEqual(r.returncode, 3, r.stderr)
        other = self.name("nostore")
        r = run_upload(raw, other, self.url, "--backend", "no-such-store")
        self.assertEqual(r.returncode, 5, r.stderr)
        self.assertEqual(self.images_named(other), [], "the image made for it is deleted")
        r = run_upload(raw, other, "http://127.0.0.1:%d" % base.free_port())
        self.assertEqual(r.returncode, 6, r.stderr)
        for bad in (["--connections", "0"], ["--connections", "33"]):
            r = run_upload(raw, other, self.url, *bad)
            self.assertEqual(r.returncode, 2, r.stderr)
        r = run_upload(raw, other, "ftp://127.0.0.1/")
        self.assertEqual(r.returncode, 5, r.stderr)
        r = subprocess.run([base.RBDVOL, "image", "upload", raw, "--name", other, "--connections",
                            "2"], capture_output=True, text=True, timeout=60, env=client_env())
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("needs --url", r.stderr)


class TlsTest(unittest.TestCase):
    def test_https_checks_the_certificate(self):
        cert, key = os.path.join(WORK, "ru-cert.pem"), os.path.join(WORK, "ru-key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", cert], check=True, capture_output=True, timeout=60)
        d = ImageDaemon("tls_cert = %s\ntls_key = %s\n" % (cert, key))
        names = []

        def cleanup():
            context = ssl.create_default_context(cafile=cert)
            for name in names:
                conn = http.client.HTTPSConnection("127.0.0.1", d.image_port, context=context,
                                                   timeout=60)
                conn.request("GET", "/v2/images?name=" + name)
                for image in json.loads(conn.getresponse().read())["images"]:
                    conn.request("DELETE", "/v2/images/" + image["id"])
                    conn.getresponse().read()
                conn.close()
        try:
            url = "https://127.0.0.1:%d" % d.image_port
            raw = make_sparse("tls.raw", 8 * MIB, {5 * MIB: os.urandom(MIB)})
            # the system's CAs do not know it: refused
            name = "urlclient-tls-%s" % uuid.uuid4().hex[:8]
            names.append(name)
            r = run_upload(raw, name, url)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("certificate", r.stderr)
            # trusted through SSL_CERT_FILE
            env = client_env()
            env["SSL_CERT_FILE"] = cert
            r = run_upload(raw, name, url, env=env)
            self.assertEqual(r.returncode, 0, r.stderr)
            answer = json.loads(r.stdout)
            self.assertEqual(answer["os_hash_value"], sha256_of(raw))
            self.assertEqual(answer["upload"]["bytes_sent"], CHUNK)
            # --insecure skips the check
            name2 = "urlclient-tls-%s" % uuid.uuid4().hex[:8]
            names.append(name2)
            r = run_upload(raw, name2, url, "--insecure")
            self.assertEqual(r.returncode, 0, r.stderr)
        finally:
            try:
                cleanup()
            finally:
                self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    base.run_tests()
