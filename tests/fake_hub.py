"""A Hugging Face hub served from memory on localhost, so that huggingface_hub itself fills a real hub cache.

Only what ``hf_hub_download`` and ``snapshot_download`` ask for is served: file metadata and content
(``/{repo}/resolve/{rev}/{file}``), repository info and its file tree (``/api/models/...``).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse


@contextmanager
def fake_hub(repos: dict[str, dict[str, bytes]], commit: str = "c0ffee" * 6 + "c0ff") -> Iterator[str]:
    """Serve ``repos`` (repo id -> file name -> bytes) at one commit; yields the endpoint URL."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep test output quiet
            pass

        def _send(self, status: int, body: bytes, headers: dict[str, str], head: bool = False) -> None:
            self.send_response(status)
            for key, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(key, value)
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def _route(self, head: bool) -> None:
            path = unquote(urlparse(self.path).path).strip("/")
            for repo, files in repos.items():
                api = f"api/models/{repo}/"
                if path.startswith(api + "revision/"):
                    info = {"id": repo, "sha": commit, "siblings": [{"rfilename": f} for f in sorted(files)]}
                    return self._send(200, json.dumps(info).encode(), {"Content-Type": "application/json"}, head)
                if path.startswith(api + "tree/"):
                    tree = [{"type": "file", "path": f, "size": len(b), "oid": hashlib.sha1(b).hexdigest()}
                            for f, b in sorted(files.items())]
                    return self._send(200, json.dumps(tree).encode(), {"Content-Type": "application/json"}, head)
                prefix = f"{repo}/resolve/"
                if path.startswith(prefix):
                    _, _, name = path[len(prefix):].partition("/")
                    if name in files:
                        body = files[name]
                        etag = f'"{hashlib.sha256(body).hexdigest()}"'
                        return self._send(200, body, {"X-Repo-Commit": commit, "ETag": etag}, head)
            self._send(404, b"not found", {"X-Error-Code": "EntryNotFound"}, head)

        def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
            self._route(head=True)

        def do_GET(self) -> None:  # noqa: N802
            self._route(head=False)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
