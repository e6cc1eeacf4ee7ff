#!/usr/bin/env python3
"""Serve the GlitchScope web page for development and the end-to-end tests.

Three roots, mapped by URL prefix (anything else is a 404):
  /models/...  -> <repo>/models/               (model cards and their weights)
  /samples/... -> <repo>/../shared/data/real/  (real Gravity Spy images, only when that folder exists)
  /...         -> <repo>/www/                  (the page, the worker, the wasm package in www/pkg)

Only the Python standard library is used, so it runs on a fresh machine. It binds 127.0.0.1 by default, sends
`Cache-Control: no-cache` (a rebuilt wasm is picked up on reload), sends the pages' Content-Security-Policy as a
header too (so that it also covers the worker), sends the right MIME types (browsers refuse to stream-compile wasm
served as anything but application/wasm), lists no directories and refuses path traversal.

Usage: serve.py [--port N] [--host H] [--repo DIR]. Port 0 picks a free port; the first line on stdout is always
`Serving GlitchScope on http://HOST:PORT/`, which the e2e tests read to learn the port.
"""

import argparse
import http.server
import os
import sys
import urllib.parse
from pathlib import Path

MIME_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".wasm": "application/wasm",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".csv": "text/csv; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
    ".ts": "text/plain; charset=utf-8",  # wasm-pack's .d.ts files, for reading only
    # Weights: burnpack, safetensors or raw fp16 blobs are opaque bytes to the browser.
    ".bpk": "application/octet-stream",
    ".mpk": "application/octet-stream",
    ".bin": "application/octet-stream",
    ".safetensors": "application/octet-stream",
}


# The same policy as the <meta http-equiv="Content-Security-Policy"> of every page in www/. A meta policy does not
# reach Web Workers (a worker takes its policy from its own script's response), so the server sends it as a header
# too: then the worker that runs the wasm is held to `connect-src 'self'` like the page.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self'; "
    "img-src 'self' blob:; style-src 'self'; object-src 'none'; base-uri 'self'; form-action 'none'"
)


def make_roots(repo: Path) -> list[tuple[str, Path]]:
    """URL prefix -> folder, longest prefix first. /samples/ is left out when the shared data is absent."""
    roots = [("/models/", repo / "models")]
    samples = repo.parent / "shared" / "data" / "real"
    if samples.is_dir():
        roots.append(("/samples/", samples))
    roots.append(("/", repo / "www"))
    return [(prefix, folder.resolve()) for prefix, folder in roots]


class Handler(http.server.SimpleHTTPRequestHandler):
    # Set by main(): the (prefix, folder) list from make_roots.
    roots: list[tuple[str, Path]] = []
    extensions_map = {"": "application/octet-stream", **MIME_TYPES}

    def translate_path(self, path: str) -> str:
        """Map a URL path to a file under one of the roots; return "" (a 404) for anything outside them."""
        url_path = urllib.parse.unquote(urllib.parse.urlsplit(path).path, errors="strict")
        if "\x00" in url_path or "\\" in url_path:
            return ""
        # Refuse any '..' segment outright instead of normalising it away: a request that tries is not honest.
        segments = url_path.split("/")
        if any(seg == ".." for seg in segments):
            return ""
        kept = [seg for seg in segments if seg not in ("", ".")]
        url_path = "/" + "/".join(kept) + ("/" if kept and url_path.endswith("/") else "")
        for prefix, folder in self.roots:
            if url_path == prefix.rstrip("/") or url_path.startswith(prefix):
                rest = url_path[len(prefix):] if url_path.startswith(prefix) else ""
                candidate = (folder / rest).resolve()
                # resolve() follows symlinks: the final file must still lie inside its root.
                if candidate != folder and folder not in candidate.parents:
                    return ""
                return str(candidate)
        return ""

    def send_head(self):
        path = self.translate_path(self.path)
        if not path:
            self.send_error(404, "Not found")
            return None
        if os.path.isdir(path):
            index = os.path.join(path, "index.html")
            if not os.path.isfile(index):
                # No directory listings: they would expose the layout of the shared data.
                self.send_error(404, "Not found")
                return None
            if not urllib.parse.urlsplit(self.path).path.endswith("/"):
                self.send_response(301)
                self.send_header("Location", urllib.parse.urlsplit(self.path).path + "/")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
        return super().send_head()

    def list_directory(self, path):
        self.send_error(404, "Not found")
        return None

    def end_headers(self):
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        super().end_headers()

    def log_message(self, format, *args):
        # One line per request on stderr, as http.server does, unless asked to be quiet.
        if not self.server.quiet:
            super().log_message(format, *args)


def main() -> int:
    default_repo = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description="Serve the GlitchScope web page (www/, models/, samples).")
    parser.add_argument("--port", type=int, default=8000, help="TCP port, 0 for any free port (default 8000)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--repo", type=Path, default=default_repo, help="repository root (default: this checkout)")
    parser.add_argument("--quiet", action="store_true", help="do not log every request")
    args = parser.parse_args()

    repo = args.repo.resolve()
    if not (repo / "www").is_dir():
        print(f"error: {repo / 'www'} does not exist; --repo must be the GlitchScope repository root", file=sys.stderr)
        return 2
    Handler.roots = make_roots(repo)
    try:
        server = http.server.ThreadingHTTPServer((args.host, args.port), Handler)
    except OSError as err:
        print(f"error: cannot listen on {args.host}:{args.port}: {err.strerror}", file=sys.stderr)
        return 1
    server.quiet = args.quiet
    host, port = server.server_address[:2]
    print(f"Serving GlitchScope on http://{host}:{port}/", flush=True)
    for prefix, folder in Handler.roots:
        print(f"  {prefix:<10} -> {folder}", flush=True)
    if not any(prefix == "/samples/" for prefix, _ in Handler.roots):
        print("  /samples/  -> (absent: ../shared/data/real not found; host-example.html will say so)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
