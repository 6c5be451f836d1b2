"""A local stand-in for the Hugging Face Hub, enough for the real `huggingface_hub` client to
download a model: `HF_ENDPOINT` points the client here.

Built from the Hub's published API description (huggingface.co/docs/hub/api, "Hub API
Endpoints", and huggingface.co/docs/huggingface_hub/guides/download, read 2026-12-03):
- `GET /api/models/{repo_id}` and `/api/models/{repo_id}/revision/{revision}`: the model's
  `id`, `sha` (its commit), `gated` and `siblings` [{rfilename, size, blobId}] (sizes with
  `?blobs=true`);
- `GET /api/models/{repo_id}/tree/{revision}`: the files, [{type: "file", oid, size, path}];
- `HEAD`/`GET /{repo_id}/resolve/{revision}/{filename}`: the file, with `X-Repo-Commit`,
  `ETag` and `Content-Length` (a `Range` request gets `206` and the rest: a resumed download);
- errors carry `X-Error-Code`: `RepoNotFound` (404) and `GatedRepo` (401 without the token a
  gated model needs).
Files are served over plain HTTP (no Xet headers), which the client accepts as it does for any
file the Hub has not moved to Xet storage.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlparse


class FakeHub:
    def __init__(self) -> None:
        self.repos: dict[str, dict[str, bytes]] = {}
        self.gated: dict[str, str] = {}  # repo → the token it needs
        self.requests: list[tuple[str, str]] = []  # (method, path)
        self.fail_file: dict[str, int] = {}  # file → how many GETs break off half way
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def do_HEAD(self) -> None:
                hub._serve(self, head=True)

            def do_GET(self) -> None:
                hub._serve(self, head=False)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def add(self, repo: str, files: dict[str, bytes], *, token: str = "") -> None:
        self.repos[repo] = dict(files)
        if token:
            self.gated[repo] = token

    def sha(self, repo: str) -> str:
        digest = hashlib.sha1()
        for name, data in sorted(self.repos[repo].items()):
            digest.update(name.encode() + hashlib.sha1(data).digest())
        return digest.hexdigest()

    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ---- serving -------------------------------------------------------------------------

    def _serve(self, handler: BaseHTTPRequestHandler, *, head: bool) -> None:
        url = urlparse(handler.path)
        path = unquote(url.path)
        self.requests.append(("HEAD" if head else "GET", path))
        if path.startswith("/api/models/"):
            self._api(handler, path.removeprefix("/api/models/"), url.query)
        elif "/resolve/" in path:
            repo, rest = path.lstrip("/").split("/resolve/", 1)
            revision, _, filename = rest.partition("/")
            self._file(handler, repo, revision, filename, head=head)
        else:
            self._error(handler, 404, "EntryNotFound", "No such page.")

    def _repo(self, handler: BaseHTTPRequestHandler, repo: str) -> bool:
        if repo not in self.repos:
            self._error(handler, 404, "RepoNotFound", f"Repository Not Found for url: {repo}")
            return False
        needed = self.gated.get(repo)
        if needed and handler.headers.get("Authorization") != f"Bearer {needed}":
            self._error(handler, 401, "GatedRepo", f"Access to model {repo} is restricted.")
            return False
        return True

    def _api(self, handler: BaseHTTPRequestHandler, rest: str, query: str) -> None:
        parts = rest.split("/")
        repo = "/".join(parts[:2])
        if not self._repo(handler, repo):
            return
        files = self.repos[repo]
        if len(parts) > 3 and parts[2] == "tree":
            body: Any = [
                {"type": "file", "oid": hashlib.sha1(d).hexdigest(), "size": len(d), "path": n}
                for n, d in sorted(files.items())
            ]
        else:  # the model, at its main revision or at the one asked
            body = {
                "id": repo,
                "modelId": repo,
                "sha": self.sha(repo),
                "private": False,
                "gated": "manual" if repo in self.gated else False,
                "siblings": [
                    {"rfilename": n, "size": len(d), "blobId": hashlib.sha1(d).hexdigest()}
                    for n, d in sorted(files.items())
                ],
            }
        data = json.dumps(body).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _file(
        self, handler: BaseHTTPRequestHandler, repo: str, revision: str, name: str, *, head: bool
    ) -> None:
        if not self._repo(handler, repo):
            return
        data = self.repos[repo].get(name)
        if data is None or revision not in ("main", self.sha(repo)):
            self._error(handler, 404, "EntryNotFound", f"{name} not found")
            return
        start = 0
        ranged = handler.headers.get("Range", "")
        if ranged.startswith("bytes=") and not head:
            start = int(ranged.removeprefix("bytes=").split("-")[0] or 0)
        handler.send_response(206 if start else 200)
        handler.send_header("X-Repo-Commit", self.sha(repo))
        handler.send_header("ETag", f'"{hashlib.sha1(data).hexdigest()}"')
        handler.send_header("Content-Length", str(len(data) - start))
        if start:
            handler.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        handler.end_headers()
        if head:
            return
        if self.fail_file.get(name, 0) > 0:  # the connection drops half way through
            self.fail_file[name] -= 1
            handler.wfile.write(data[start : start + (len(data) - start) // 2])
            handler.wfile.flush()
            handler.close_connection = True
            return
        handler.wfile.write(data[start:])

    @staticmethod
    def _error(handler: BaseHTTPRequestHandler, status: int, code: str, message: str) -> None:
        data = json.dumps({"error": message}).encode()
        handler.send_response(status)
        handler.send_header("X-Error-Code", code)
        handler.send_header("X-Error-Message", message)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
