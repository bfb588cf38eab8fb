#!/usr/bin/env python3
"""Integration tests of rbdvold's transfer resource (docs/rest-api.md,
"Parallel ranged uploads") against the sandbox, over raw HTTP: ranges sent
in parallel, holes declared, a connection cut and the upload resumed, kill -9
of rbdvold in the middle of a range, and hostile ranges and headers.

Usage: image_transfer_test.py RBDVOLD RBDVOL [unittest args]
Needs $RBDVOL_CONFIG (scripts/sandbox env). Every test deletes the images it
made.
"""
import hashlib
import http.client
import os
import signal
import socket
import sys
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rbdvold_test as base  # noqa: E402
from glance_test import ImageDaemon, create_record, delete_image, image_doc, rbd_has  # noqa: E402
from rbdvold_test import request  # noqa: E402

MIB = 1 << 20
CHUNK = MIB  # the tests' transfers use 1 MiB chunks


def block_of(seed, mib):
    return hashlib.sha256(seed).digest() * (MIB // 32) * mib


def whole(size, pieces):
    data = bytearray(size)
    for at, block in pieces.items():
        data[at:at + len(block)] = block
    return bytes(data)


def begin(port, image_id, size, **extra):
    body = {"size": size, "chunk_size": CHUNK}
    body.update(extra)
    return request(port, "POST", "/v2/images/%s/transfer" % image_id, body)


def put_range(port, image_id, first, data, size, headers=None, timeout=60):
    h = {"Content-Type": "application/octet-stream",
         "Content-Range": "bytes %d-%d/%d" % (first, first + len(data) - 1, size)}
    h.update(headers or {})
    return request(port, "PUT", "/v2/images/%s/transfer" % image_id, raw_body=data, headers=h,
                   timeout=timeout)


def transfer(port, image_id):
    status, _, doc, text = request(port, "GET", "/v2/images/%s/transfer" % image_id)
    if status != 200:
        raise AssertionError("GET transfer: %d %s" % (status, text))
    return doc


def missing(doc):
    """The ranges [first, end) of the transfer that are not confirmed."""
    out, at = [], 0
    for off, length in doc["confirmed"]:
        if off > at:
            out.append((at, off))
        at = off + length
    if at < doc["size"]:
        out.append((at, doc["size"]))
    return out


def finish(port, image_id, timeout=90):
    """POST .../finish, retried while a writer that died still counts as
    writing (its watch lingers until the OSDs time it out, 30 s)."""
    deadline = time.time() + timeout
    while True:
        status, _, doc, text = request(port, "POST", "/v2/images/%s/transfer/finish" % image_id)
        if status != 409 or time.time() > deadline or "still being written" not in text:
            return status, doc, text
        time.sleep(2)


def download(port, image_id):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/v2/images/%s/file" % image_id)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, data


class TransferTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = ImageDaemon()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def new_image(self, name):
        image_id = create_record(self.d, "tt-%s-%s" % (name, uuid.uuid4().hex[:6]))
        self.addCleanup(delete_image, self.d, image_id)
        return image_id

    def send_missing(self, image_id, doc, content):
        """PUTs every range `doc` (a transfer) does not show confirmed."""
        for first, end in missing(doc):
            status, _, _, text = put_range(self.d.image_port, image_id, first,
                                           content[first:end], len(content))
            self.assertEqual(status, 200, text)

    def check_active(self, image_id, content, store="fast"):
        doc = image_doc(self.d, image_id)
        self.assertEqual(doc["status"], "active")
        self.assertEqual(doc["size"], len(content))
        self.assertEqual(doc["stores"], store)
        self.assertEqual(doc["os_hash_algo"], "sha256")
        self.assertEqual(doc["os_hash_value"], hashlib.sha256(content).hexdigest())
        status, data = download(self.d.image_port, image_id)
        self.assertEqual(status, 200)
        self.assertTrue(data == content, "the downloaded image differs from what was sent")
        self.assertTrue(rbd_has(store, image_id))

    def test_parallel_ranges_and_holes(self):
        port, size = self.d.image_port, 40 * MIB + 12345  # a short last chunk
        image_id = self.new_image("par")
        # data in a few places, zeros elsewhere; the last piece ends at the
        # image's end, inside a chunk
        tail_at = 38 * MIB
        pieces = {0: block_of(b"a", 2), 5 * MIB: block_of(b"b", 1), 6 * MIB: block_of(b"c", 1),
                  tail_at: block_of(b"d", 2) + b"t" * (size - 40 * MIB)}
        content = whole(size, pieces)
        status, _, doc, text = begin(port, image_id, size, store="capacity")
        self.assertEqual(status, 201, text)
        self.assertEqual((doc["size"], doc["chunk_size"], doc["confirmed"], doc["missing_bytes"]),
                         (size, CHUNK, [], size))
        self.assertEqual(image_doc(self.d, image_id)["status"], "saving")
        # a second begin with the same size answers the same transfer (resume)
        status, _, again, _ = begin(port, image_id, size)
        self.assertEqual((status, again["store"]), (200, "capacity"))
        results = {}

        def send(at, block):
            results[at] = put_range(port, image_id, at, block, size)[0]

        threads = [threading.Thread(target=send, args=(at, b)) for at, b in pieces.items()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(set(results.values()), {200}, results)
        holes = missing(transfer(port, image_id))
        self.assertTrue(holes)
        for first, end in holes:
            status, _, doc, text = request(port, "POST", "/v2/images/%s/transfer/zero" % image_id,
                                           {"offset": first, "length": end - first})
            self.assertEqual(status, 200, text)
        doc = transfer(port, image_id)
        self.assertEqual((doc["confirmed"], doc["missing_bytes"]), ([[0, size]], 0))
        status, doc, text = finish(port, image_id)
        self.assertEqual(status, 200, text)
        self.check_active(image_id, content, store="capacity")
        # finishing again answers the image; the transfer is gone
        self.assertEqual(finish(port, image_id)[0], 200)
        self.assertEqual(request(port, "GET", "/v2/images/%s/transfer" % image_id)[0], 404)

    def test_cut_connection_then_resume(self):
        port, size = self.d.image_port, 16 * MIB
        image_id = self.new_image("cut")
        content = block_of(b"cut", 16)
        self.assertEqual(begin(port, image_id, size)[0], 201)
        # 5.5 MiB of a 16 MiB range, then the connection is cut
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(("PUT /v2/images/%s/transfer HTTP/1.1\r\nHost: x\r\n"
                   "Content-Range: bytes 0-%d/%d\r\nContent-Length: %d\r\n\r\n"
                   % (image_id, size - 1, size, size)).encode())
        s.sendall(content[:5 * MIB + MIB // 2])
        deadline = time.time() + 30
        while time.time() < deadline and transfer(port, image_id)["missing_bytes"] > size - 4 * MIB:
            time.sleep(0.1)
        s.close()
        deadline = time.time() + 30
        while time.time() < deadline and transfer(port, image_id)["writing"]:
            time.sleep(0.2)
        doc = transfer(port, image_id)
        confirmed = sum(length for _, length in doc["confirmed"])
        # what was recorded stays; the chunk cut in half is not
        self.assertGreaterEqual(confirmed, 4 * MIB, doc)
        self.assertLessEqual(confirmed, 5 * MIB, doc)
        self.assertEqual(doc["confirmed"][0][0], 0)
        # the missing part only, in two ranges
        gaps = missing(doc)
        self.assertEqual(len(gaps), 1)
        first, end = gaps[0]
        mid = first + ((end - first) // 2 // CHUNK) * CHUNK
        status, _, _, text = put_range(port, image_id, first, content[first:mid], size)
        self.assertEqual(status, 200, text)
        self.send_missing(image_id, transfer(port, image_id), content)
        status, _, text = finish(port, image_id)
        self.assertEqual(status, 200, text)
        self.check_active(image_id, content)

    def test_kill_during_a_range_then_resume_through_another_instance(self):
        size = 24 * MIB
        content = block_of(b"kill", 24)
        d = ImageDaemon(fault="image.write:kill-after-chunk=3")
        image_id = create_record(d, "tt-kill-%s" % uuid.uuid4().hex[:6])
        self.addCleanup(delete_image, self.d, image_id)
        self.assertEqual(begin(d.image_port, image_id, size)[0], 201)
        try:
            put_range(d.image_port, image_id, 0, content, size, timeout=30)
        except Exception:
            pass  # the daemon died under it
        d.proc.wait(30)
        self.assertEqual(d.proc.returncode, -signal.SIGKILL, d.log_text())
        d.stop()
        killed_at = time.time()
        port = self.d.image_port
        doc = transfer(port, image_id)
        self.assertGreaterEqual(doc["size"] - doc["missing_bytes"], 3 * MIB, doc)
        self.send_missing(image_id, doc, content)
        # The dead writer's watch lingers until the OSDs time it out (30 s);
        # by then housekeeping has settled every job of the dead instance
        # (kOrphanSeconds, 20 s), but a transfer is no job: it stays saving.
        deadline = time.time() + 90
        while time.time() < deadline and transfer(port, image_id)["writing"]:
            time.sleep(1)
        self.assertGreater(time.time() - killed_at, 25)
        self.assertEqual(image_doc(self.d, image_id)["status"], "saving")
        status, _, text = finish(port, image_id)
        self.assertEqual(status, 200, text)
        self.check_active(image_id, content)

    def test_hostile_ranges_and_headers(self):
        port, size = self.d.image_port, 8 * MIB
        image_id = self.new_image("hostile")
        block = block_of(b"h", 1)
        path = "/v2/images/%s/transfer" % image_id
        # a transfer before one begins; a begin without a size, or a bad one
        self.assertEqual(put_range(port, image_id, 0, block, size)[0], 404)
        for body in ({}, {"size": -1}, {"size": "8"}, {"size": 0}, {"size": 8, "what": 1},
                     {"size": size, "chunk_size": 1000}, {"size": size, "store": "nowhere"}):
            status, _, _, text = request(port, "POST", path, body)
            self.assertEqual(status, 400, "%s: %s" % (body, text))
        status, _, _, text = request(port, "POST", path, {"size": 1 << 62})
        self.assertEqual(status, 413, text)
        self.assertEqual(image_doc(self.d, image_id)["status"], "queued")
        self.assertEqual(begin(port, image_id, size)[0], 201)
        # another size for the running transfer
        self.assertEqual(begin(port, image_id, size + CHUNK)[0], 409)
        h = {"Content-Type": "application/octet-stream"}
        cases = [
            ({}, 400),                                                # no Content-Range
            ({"Content-Range": "bytes */8388608"}, 400),
            ({"Content-Range": "bytes -1-1048574/8388608"}, 400),     # negative
            ({"Content-Range": "bytes 1048576-0/8388608"}, 400),      # reversed
            ({"Content-Range": "bytes 0-1048575/9999999"}, 416),      # not the transfer's size
            ({"Content-Range": "bytes 8388608-9437183/8388608"}, 416),  # past the end
            ({"Content-Range": "bytes 4096-1052671/8388608"}, 400),   # not aligned
            ({"Content-Range": "items 0-1048575/8388608"}, 400),
            ({"Content-Range": "bytes 0-99999999999999999999/8388608"}, 400),
        ]
        for headers, want in cases:
            hh = dict(h)
            hh.update(headers)
            status, answer_headers, _, text = request(port, "PUT", path, raw_body=block, headers=hh)
            self.assertEqual(status, want, "%s: %s" % (headers, text))
            if want == 416:
                self.assertEqual(answer_headers.get("content-range"), "bytes */%d" % size)
        # a Content-Length that is not the range's
        status, _, _, text = put_range(port, image_id, 0, block[:-1], size,
                                       headers={"Content-Range": "bytes 0-1048575/%d" % size})
        self.assertEqual(status, 400, text)
        # a chunked body
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("PUT", path, body=iter([block]), encode_chunked=True,
                     headers={"Content-Range": "bytes 0-1048575/%d" % size,
                              "Transfer-Encoding": "chunked"})
        r = conn.getresponse()
        self.assertEqual(r.status, 400, r.read())
        conn.close()
        # a truncated body: fewer bytes than Content-Length, then the end of the stream
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.sendall(("PUT %s HTTP/1.1\r\nHost: x\r\nContent-Range: bytes 0-%d/%d\r\n"
                   "Content-Length: %d\r\n\r\n" % (path, 2 * MIB - 1, size, 2 * MIB)).encode())
        s.sendall(block[:1000])
        s.shutdown(socket.SHUT_WR)
        s.recv(65536)
        s.close()
        nothing = transfer(port, image_id)
        self.assertEqual(nothing["confirmed"], [], nothing)
        # overlapping ranges: one confirmed, then the same bytes again
        self.assertEqual(put_range(port, image_id, 0, block * 2, size)[0], 200)
        status, _, _, text = put_range(port, image_id, MIB, block * 2, size)
        self.assertEqual(status, 409, text)
        self.assertIn("confirmed already", text)
        # a range overlapping one another connection is writing
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.sendall(("PUT %s HTTP/1.1\r\nHost: x\r\nContent-Range: bytes %d-%d/%d\r\n"
                   "Content-Length: %d\r\n\r\n" % (path, 2 * MIB, 4 * MIB - 1, size,
                                                   2 * MIB)).encode())
        s.sendall(block[:4096])
        deadline = time.time() + 30
        while time.time() < deadline and not transfer(port, image_id)["writing"]:
            time.sleep(0.05)
        status, _, _, text = put_range(port, image_id, 3 * MIB, block * 2, size)
        self.assertEqual(status, 409, text)
        self.assertIn("another connection is writing", text)
        s.sendall(block[4096:] + block)
        s.settimeout(30)
        self.assertIn(b"200 OK", s.recv(65536))
        s.close()
        # a hole past the end; finishing with bytes missing names them
        status, _, _, text = request(port, "POST", path + "/zero", {"offset": 4 * MIB,
                                                                    "length": size})
        self.assertEqual(status, 416, text)
        status, _, text = finish(port, image_id)
        self.assertEqual(status, 409, text)
        self.assertIn("[4194304, 8388608)", text)
        # abandoned: back to queued, the partial data gone
        self.assertEqual(request(port, "DELETE", path)[0], 204)
        self.assertEqual(image_doc(self.d, image_id)["status"], "queued")
        self.assertFalse(rbd_has("fast", image_id))
        self.assertEqual(request(port, "GET", path)[0], 404)

    def test_only_raw_and_only_queued(self):
        port = self.d.image_port
        qcow = create_record(self.d, "tt-qcow-%s" % uuid.uuid4().hex[:6], disk_format="qcow2")
        self.addCleanup(delete_image, self.d, qcow)
        status, _, _, text = begin(port, qcow, 8 * MIB)
        self.assertEqual(status, 400, text)
        self.assertIn("raw", text)
        image_id = self.new_image("active")
        status, _, _, text = request(port, "PUT", "/v2/images/%s/file" % image_id,
                                     raw_body=b"a" * MIB,
                                     headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(status, 204, text)
        self.assertEqual(begin(port, image_id, MIB)[0], 409)
        self.assertEqual(request(port, "GET", "/v2/images/not-an-id/transfer")[0], 404)


if __name__ == "__main__":
    base.run_tests()
