#!/usr/bin/env python3
"""A stand-in for the Hugging Face hub on loopback, for the Swift hub client's tests.

Standard library only. Serves the endpoints and headers huggingface_hub relies on:

  GET  /api/models/{owner}/{name}/revision/{rev}   -> {"id", "sha", "siblings": [{"rfilename"}]}
  HEAD/GET /{owner}/{name}/resolve/{rev}/{file}    -> small files: 200 with ETag = git blob sha1;
       LFS files (>= --lfs-threshold bytes): 302 to the CDN with X-Linked-Etag = sha256 and
       X-Linked-Size; always X-Repo-Commit.
  GET  /cdn/{sha256}                               -> the bytes; honours Range (206).

The CDN lives on "localhost" while the hub answers on 127.0.0.1 (same socket): to clients they
are two hosts, as huggingface.co and its CDN are, so a redirect to the CDN leaves the hub's
origin (and must lose the Authorization header).

Usage: mock_hub.py --repo owner/name=DIR [--repo ...] [--log FILE] [--gated owner/name:TOKEN]
                   [--cut-once FILE] [--wrong-sha FILE] [--lfs-threshold N]
Prints the port on the first line of stdout, then serves until killed or stdin closes.
"""

import argparse
import hashlib
import json
import os
import signal
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Repo:
    def __init__(self, repo_id, folder):
        self.repo_id = repo_id
        self.files = {}
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    self.files[name] = f.read()
        digest = hashlib.sha1(repo_id.encode())
        for name, data in self.files.items():
            digest.update(name.encode() + hashlib.sha256(data).digest())
        self.commit = digest.hexdigest()


def git_blob_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Hub:
    def __init__(self, options):
        self.repos = {}
        for spec in options.repo:
            repo_id, folder = spec.split("=", 1)
            self.repos[repo_id] = Repo(repo_id, folder)
        self.gated = dict(spec.split(":", 1) for spec in options.gated)
        self.cut_once = set(options.cut_once)
        self.wrong_sha = set(options.wrong_sha)
        self.lfs_threshold = options.lfs_threshold
        self.log_path = options.log
        self.lock = threading.Lock()
        self.blobs = {}  # sha256 -> (bytes, file name)
        for repo in self.repos.values():
            for name, data in repo.files.items():
                self.blobs[hashlib.sha256(data).hexdigest()] = (data, name)

    def log(self, entry):
        if self.log_path:
            with self.lock, open(self.log_path, "a") as f:
                f.write(json.dumps(entry) + "\n")

    def take_cut(self, name):
        with self.lock:
            if name in self.cut_once:
                self.cut_once.discard(name)
                return True
            return False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    hub = None

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self.route(head=True)

    def do_GET(self):
        self.route(head=False)

    def reply(self, status, headers=None, body=b"", head=False, cut=False):
        # Logged before any byte goes out: a client that has its answer finds the request in
        # the log (logging after the headers raced with tests reading the log at once).
        self.hub.log({"method": self.command, "path": self.path, "status": status,
                      "host": self.headers.get("Host"), "range": self.headers.get("Range"),
                      "authorization": self.headers.get("Authorization"),
                      "accept_encoding": self.headers.get("Accept-Encoding"), "cut": cut})
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if head:
            return
        if cut:
            # Send half the body, then drop the connection: an interrupted transfer.
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(body)

    def error(self, status, code, message, head):
        body = json.dumps({"error": message}).encode()
        self.reply(status, {"Content-Type": "application/json", "X-Error-Code": code}, body, head)

    def route(self, head):
        path = urllib.parse.urlparse(self.path).path
        parts = [urllib.parse.unquote(p) for p in path.split("/")[1:]]
        if len(parts) >= 6 and parts[0] == "api" and parts[1] == "models" and parts[4] == "revision":
            return self.revision_info("/".join(parts[2:4]), "/".join(parts[5:]), head)
        if len(parts) >= 5 and parts[2] == "resolve":
            return self.resolve("/".join(parts[0:2]), parts[3], "/".join(parts[4:]), head)
        if len(parts) == 2 and parts[0] == "cdn":
            return self.cdn(parts[1], head)
        self.error(404, "EntryNotFound", "no such endpoint", head)

    def find(self, repo_id, revision, head):
        repo = self.hub.repos.get(repo_id)
        if repo is None:
            self.error(404, "RepoNotFound", "Repository not found", head)
            return None
        if revision not in ("main", repo.commit):
            self.error(404, "RevisionNotFound", "Invalid rev id: " + revision, head)
            return None
        return repo

    def authorized(self, repo_id, head):
        token = self.hub.gated.get(repo_id)
        if token is None:
            return True
        sent = self.headers.get("Authorization")
        if sent is None:
            self.error(401, "GatedRepo", "Access to model %s is restricted. You must have access to it "
                       "and be authenticated to access it. Please log in." % repo_id, head)
            return False
        if sent != "Bearer " + token:
            self.error(403, "GatedRepo", "Access to model %s is restricted and you are not in the "
                       "authorized list." % repo_id, head)
            return False
        return True

    def revision_info(self, repo_id, revision, head):
        repo = self.find(repo_id, revision, head)
        if repo is None:
            return
        body = json.dumps({"id": repo_id, "modelId": repo_id, "sha": repo.commit, "private": False,
                           "gated": "auto" if repo_id in self.hub.gated else False,
                           "siblings": [{"rfilename": name} for name in repo.files]}).encode()
        self.reply(200, {"Content-Type": "application/json"}, body, head)

    def resolve(self, repo_id, revision, file_name, head):
        repo = self.find(repo_id, revision, head)
        if repo is None or not self.authorized(repo_id, head):
            return
        data = repo.files.get(file_name)
        if data is None:
            self.error(404, "EntryNotFound", "Entry not found", head)
            return
        headers = {"X-Repo-Commit": repo.commit, "Accept-Ranges": "bytes"}
        if len(data) >= self.hub.lfs_threshold:
            sha = hashlib.sha256(data).hexdigest()
            announced = hashlib.sha256(b"not the content").hexdigest() if file_name in self.hub.wrong_sha else sha
            port = self.server.server_address[1]
            headers.update({"X-Linked-Etag": '"%s"' % announced, "X-Linked-Size": str(len(data)),
                            "ETag": '"%s"' % git_blob_sha1(b"version https://git-lfs.github.com/spec/v1\n"),
                            "Location": "http://localhost:%d/cdn/%s?filename=%s" % (port, sha, urllib.parse.quote(file_name))})
            self.reply(302, headers, b"", head)
            return
        headers.update({"ETag": '"%s"' % git_blob_sha1(data), "Content-Type": "application/octet-stream"})
        self.reply(200, headers, data, head, cut=not head and self.hub.take_cut(file_name))

    def cdn(self, sha, head):
        entry = self.hub.blobs.get(sha)
        if entry is None:
            self.reply(404, {}, b"NoSuchKey", head)
            return
        data, file_name = entry
        headers = {"ETag": '"%s"' % sha, "Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
        status = 200
        requested = self.headers.get("Range")
        if requested and requested.startswith("bytes="):
            start_text, _, end_text = requested[len("bytes="):].partition("-")
            start = int(start_text)
            end = int(end_text) if end_text else len(data) - 1
            if start >= len(data):
                self.reply(416, {"Content-Range": "bytes */%d" % len(data)}, b"", head)
                return
            headers["Content-Range"] = "bytes %d-%d/%d" % (start, end, len(data))
            data = data[start:end + 1]
            status = 206
        self.reply(status, headers, data, head, cut=not head and self.hub.take_cut(file_name))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", action="append", default=[])
    parser.add_argument("--log")
    parser.add_argument("--gated", action="append", default=[])
    parser.add_argument("--cut-once", action="append", default=[])
    parser.add_argument("--wrong-sha", action="append", default=[])
    parser.add_argument("--lfs-threshold", type=int, default=10_000)
    options = parser.parse_args()

    # A parent that spawned us from a thread with signals blocked passes that mask on: unblock
    # SIGTERM/SIGINT so that being told to stop works.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    signal.signal(signal.SIGTERM, signal.SIG_DFL)

    Handler.hub = Hub(options)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)

    # Exit when the test process goes away (its end of our stdin closes), even if it never kills us.
    def watch_stdin():
        sys.stdin.buffer.read()
        os._exit(0)

    threading.Thread(target=watch_stdin, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
