"""Tiny static file server for trying ViT Lens locally (`vit-lens serve`, `python serve.py`).

Why not ``python -m http.server``: the site needs cross-origin isolation
(COOP/COEP) for threaded WebAssembly (SharedArrayBuffer), correct MIME types
for .wasm/.mjs on every OS, and it should never list directories or serve
files outside its root. Standard library only.

    vit-lens serve [--root DIR] [--host 127.0.0.1] [--port 8000] [--quiet]
"""

from __future__ import annotations

import argparse
import mimetypes
import os
import shutil
import socket
import sys
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .paths import WEB

# Explicit so results don't depend on the OS mime database (Windows registry, /etc/mime.types).
MIME_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".wasm": "application/wasm",
    ".onnx": "application/octet-stream",
    ".data": "application/octet-stream",
    ".zip": "application/zip",
    ".whl": "application/zip",
    ".py": "text/plain; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".toml": "application/toml",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".ico": "image/x-icon",
}

# The page's Content-Security-Policy (web/index.html carries it too, as a meta element, for static
# hosts): nothing from another origin, no inline script; eval only because Pyodide's loader needs it
# (the JavaScript compiled into its WebAssembly); framing refused.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self' 'unsafe-eval' 'wasm-unsafe-eval'; worker-src 'self' blob:; connect-src 'self'; "
    "img-src 'self' blob: data:; style-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'none'; object-src 'none'; frame-ancestors 'none'")

# Sent on every response (errors too): cross-origin isolation, the CSP, no MIME sniffing.
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def content_type(path: Path) -> str:
    """MIME type for a file name; unknown types are opaque bytes, never guessed as HTML."""
    ext = path.suffix.lower()
    return MIME_TYPES.get(ext) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


class StaticHandler(BaseHTTPRequestHandler):
    """GET/HEAD only; other methods get 501 from BaseHTTPRequestHandler."""

    server_version = "ViTLensServe/1.0"
    timeout = 30  # a stalled client must not pin a thread forever
    # Reply to garbage with a real status line + headers, not a bare HTTP/0.9 body.
    default_request_version = "HTTP/1.0"
    # HTTP/1.1: browsers revalidate a cached file (If-None-Match) only with a 1.1 server, and keep-alive
    # spares a connection per file.
    protocol_version = "HTTP/1.1"

    def end_headers(self) -> None:
        for name, value in self.server.security_headers.items():
            self.send_header(name, value)
        super().end_headers()

    def log_message(self, format: str, *args) -> None:
        if not getattr(self.server, "quiet", False):
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._serve(send_body=True)

    def do_HEAD(self) -> None:
        self._serve(send_body=False)

    def _resolve(self) -> tuple[HTTPStatus, Path | None]:
        """Map the request path to a file under the root, or an error status."""
        root: Path = self.server.root
        raw = self.path.split("?", 1)[0].split("#", 1)[0]
        if not raw.startswith("/"):  # absolute-form or garbage
            return HTTPStatus.BAD_REQUEST, None
        try:
            decoded = urllib.parse.unquote(raw, errors="strict")
        except UnicodeDecodeError:
            return HTTPStatus.BAD_REQUEST, None
        if "\x00" in decoded or "\\" in decoded:
            return HTTPStatus.BAD_REQUEST, None
        parts = [p for p in decoded.split("/") if p not in ("", ".")]
        if ".." in parts:
            return HTTPStatus.FORBIDDEN, None
        try:
            # resolve() follows symlinks, so the containment check also covers them.
            target = root.joinpath(*parts).resolve()
            if not target.is_relative_to(root):
                return HTTPStatus.FORBIDDEN, None
            if target.is_dir():
                if not raw.endswith("/"):
                    return HTTPStatus.MOVED_PERMANENTLY, None
                target = target / "index.html"
            if not target.is_file():
                return HTTPStatus.NOT_FOUND, None
        except (OSError, RuntimeError, ValueError):  # too long, symlink loop, ...
            return HTTPStatus.NOT_FOUND, None
        return HTTPStatus.OK, target

    def _serve(self, send_body: bool) -> None:
        status, target = self._resolve()
        if status is HTTPStatus.MOVED_PERMANENTLY:
            # Relative URLs in index.html need the trailing slash. lstrip stops
            # "//evil.example" from becoming a protocol-relative redirect.
            path, _, query = self.path.partition("?")
            location = "/" + path.lstrip("/") + "/" + ("?" + query if query else "")
            self.send_response(status)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if target is None:
            self.send_error(status)
            return
        try:
            f = target.open("rb")
        except OSError:
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        with f:
            stat = os.fstat(f.fileno())
            size = stat.st_size
            # A validator, so that a browser revalidating ("no-cache") gets a 304 instead of the bytes.
            etag = f'"{stat.st_mtime_ns:x}-{size:x}"'
            if etag in {t.strip() for t in self.headers.get("If-None-Match", "").split(",")}:
                self.send_response(HTTPStatus.NOT_MODIFIED)
                self.send_header("ETag", etag)  # no Content-Length: a 304 has no body (RFC 9110, 8.6)
                self.end_headers()
                return
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", content_type(target))
            self.send_header("Content-Length", str(size))
            self.send_header("ETag", etag)
            self.end_headers()
            if send_body:
                try:
                    shutil.copyfileobj(f, self.wfile)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # client went away; nothing to report


class Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        """A client that hangs up (a closed tab, a cancelled load) is normal; anything else is reported."""
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


def make_server(root: str | Path, host: str = "127.0.0.1", port: int = 8000,
                quiet: bool = False, frame_ancestors: str = "'none'") -> ThreadingHTTPServer:
    """Build (not start) the server; port 0 picks a free port, handy for tests. frame_ancestors
    relaxes the CSP's framing rule for a page meant to be shown in a frame (a notebook's output)."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise NotADirectoryError(f"root is not a directory: {root}")
    server_class = Server
    if ":" in host:  # IPv6 literal such as ::1
        server_class = type("ServerV6", (Server,), {"address_family": socket.AF_INET6})
    server = server_class((host, port), StaticHandler)
    server.root = root
    server.quiet = quiet
    server.security_headers = {**SECURITY_HEADERS, "Content-Security-Policy": CONTENT_SECURITY_POLICY.replace(
        "frame-ancestors 'none'", f"frame-ancestors {frame_ancestors}")}
    return server


DESCRIPTION = """Serve the ViT Lens page (or a folder written by `vit-lens site`) on this machine.

Unlike `python -m http.server` it sends the cross-origin isolation headers (COOP/COEP) that
threaded WebAssembly needs, explicit MIME types for .wasm and .mjs, and never lists a folder or
serves a file outside its root."""
EXAMPLES = """examples:
  vit-lens serve                          # this checkout's web/ at http://127.0.0.1:8000/
  vit-lens serve --root site --port 9000  # a folder written by vit-lens site
  vit-lens serve --host 0.0.0.0           # reachable from other machines on the network"""


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--root", default=str(WEB), help="folder to serve (default: this checkout's web/)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default: 127.0.0.1, local only)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    parser.add_argument("--quiet", action="store_true", help="don't log each request")
    return parser


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    return add_arguments(argparse.ArgumentParser(prog=prog, description=DESCRIPTION, epilog=EXAMPLES,
                                                 formatter_class=argparse.RawDescriptionHelpFormatter))


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    return run(build_parser(prog).parse_args(argv))


def run(args: argparse.Namespace) -> int:
    try:
        server = make_server(args.root, args.host, args.port, args.quiet)
    except (OSError, NotADirectoryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    host, port = server.server_address[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"Serving {server.root} at http://{shown}:{port}/  (Ctrl+C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0

