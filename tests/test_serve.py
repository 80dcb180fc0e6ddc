"""Tests for serve.py, the local static server: MIME types, isolation headers,
and that nothing outside the root is ever served. Stdlib + pytest only."""

from __future__ import annotations

import inspect
import os
import socket
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import serve

SECRET = b"TOP-SECRET-do-not-serve"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A temp dir with a secret outside the root and a small site inside it."""
    base = tmp_path_factory.mktemp("serve")
    (base / "secret").write_bytes(SECRET)
    root = base / "root"
    root.mkdir()
    (root / "index.html").write_text("<h1>home</h1>")
    (root / "a.wasm").write_bytes(b"\0asm\1\0\0\0")
    (root / "a.mjs").write_text("export default 1;")
    (root / "a.js").write_text("var a = 1;")
    (root / "a.json").write_text("{}")
    (root / "m.onnx").write_bytes(b"\x08\x07")
    (root / "a.py").write_text("print('hi')")
    (root / "sub").mkdir()
    (root / "sub" / "index.html").write_text("<h1>sub</h1>")
    (root / "noindex").mkdir()
    (root / "noindex" / "file.txt").write_text("listed?")
    symlinked = False
    try:
        os.symlink(base / "secret", root / "leak")
        os.symlink(base, root / "leakdir")
        symlinked = True
    except (OSError, NotImplementedError):
        pass
    return {"root": root, "symlinked": symlinked}


@pytest.fixture(scope="module")
def server(site):
    srv = serve.make_server(site["root"], "127.0.0.1", 0, quiet=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)


def get(server, path, method="GET"):
    """(status, headers, body) via urllib; HTTP errors are returned, not raised."""
    host, port = server.server_address[:2]
    req = urllib.request.Request(f"http://{host}:{port}{path}", method=method)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=10) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.headers, err.read()


def raw(server, data: bytes) -> tuple[int | None, bytes]:
    """Send raw bytes, read until close; (status or None if closed silently, response)."""
    with socket.create_connection(server.server_address[:2], timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    response = b"".join(chunks)
    if not response:
        return None, response
    status_line = response.split(b"\r\n", 1)[0].split()
    return int(status_line[1]), response


@pytest.mark.parametrize(
    "path, expected",
    [
        ("/a.wasm", "application/wasm"),
        ("/a.mjs", "text/javascript"),
        ("/a.js", "text/javascript"),
        ("/a.json", "application/json"),
        ("/m.onnx", "application/octet-stream"),
        ("/a.py", "text/plain"),
        ("/index.html", "text/html"),
    ],
)
def test_mime_types(server, path, expected):
    status, headers, _ = get(server, path)
    assert status == 200
    assert headers["Content-Type"].split(";")[0].strip() == expected


def test_content_type_helper_without_server():
    assert serve.content_type(Path("x.WASM")) == "application/wasm"
    assert serve.content_type(Path("x.unknownext")) == "application/octet-stream"


@pytest.mark.parametrize("path", ["/", "/a.wasm", "/does-not-exist", "/../secret"])
def test_isolation_headers_on_every_response(server, path):
    _status, headers, _ = get(server, path)
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert headers["Cross-Origin-Embedder-Policy"] == "require-corp"
    assert headers["Cross-Origin-Resource-Policy"] == "same-origin"
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_index_served_for_root_and_subdir(server):
    assert get(server, "/")[2] == b"<h1>home</h1>"
    assert get(server, "/sub/")[2] == b"<h1>sub</h1>"
    status, headers, _ = get(server, "/sub")
    assert status == 301 and headers["Location"] == "/sub/"


def test_redirect_is_never_protocol_relative(server):
    status, resp = raw(server, b"GET //sub HTTP/1.0\r\n\r\n")
    assert status == 301
    assert b"\r\nLocation: /sub/\r\n" in resp


def test_no_directory_listing(server):
    status, _, body = get(server, "/noindex/")
    assert status == 404
    assert b"file.txt" not in body
    assert get(server, "/noindex/file.txt")[0] == 200


def test_unchanged_files_are_revalidated_with_a_304(server, site):
    status, headers, _body = get(server, "/a.json")
    assert status == 200 and headers["ETag"] and headers["Cache-Control"] == "no-cache"
    host, port = server.server_address[:2]
    req = urllib.request.Request(f"http://{host}:{port}/a.json", headers={"If-None-Match": headers["ETag"]})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    assert err.value.code == 304 and err.value.read() == b""
    assert err.value.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
    req = urllib.request.Request(f"http://{host}:{port}/a.json", headers={"If-None-Match": '"other"'})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200 and resp.read()


def test_head_has_no_body(server):
    status, headers, body = get(server, "/a.json", method="HEAD")
    assert status == 200 and body == b""
    assert headers["Content-Length"] == "2"


@pytest.mark.parametrize(
    "request_line",
    [
        b"GET /../secret HTTP/1.1",
        b"GET /sub/../../secret HTTP/1.1",
        b"GET /%2e%2e/secret HTTP/1.1",
        b"GET /%2E%2E/secret HTTP/1.1",
        b"GET /..%2fsecret HTTP/1.1",
        b"GET /..%2Fsecret HTTP/1.1",
        b"GET /%2e%2e%2fsecret HTTP/1.1",
        b"GET /..\\secret HTTP/1.1",
        b"GET /..%5csecret HTTP/1.1",
        b"GET /a.json%00.html HTTP/1.1",
        b"GET http://127.0.0.1/../secret HTTP/1.1",
        b"GET ../secret HTTP/1.1",
        b"GET secret HTTP/1.1",
        b"GET /%ff%fe HTTP/1.1",
    ],
)
def test_traversal_is_rejected(server, request_line):
    status, resp = raw(server, request_line + b"\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    assert SECRET not in resp
    assert status is not None and 400 <= status < 500


def test_absolute_filesystem_path_is_not_served(server, site):
    secret = site["root"].parent / "secret"
    status, _, body = get(server, urllib.request.pathname2url(str(secret)))
    assert SECRET not in body
    assert 400 <= status < 500


def test_symlinks_out_of_root_are_rejected(server, site):
    if not site["symlinked"]:
        pytest.skip("cannot create symlinks here")
    for path in ("/leak", "/leakdir/secret", "/leakdir/"):
        status, _, body = get(server, path)
        assert SECRET not in body
        assert 400 <= status < 500


@pytest.mark.parametrize(
    "data",
    [
        b"GARBAGE\r\n\r\n",
        b"GET\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET / HTTP/1.1 extra words\r\n\r\n",
        b"\x00\x01\x02\xff\r\n\r\n",
        b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
        b"GET /" + b"a/" * 3000 + b" HTTP/1.1\r\n\r\n",
        b"GET /" + b"b" * 5000 + b" HTTP/1.1\r\n\r\n",
    ],
)
def test_malformed_requests_do_not_kill_server(server, data):
    status, resp = raw(server, data)
    # 505 is the correct answer to "HTTP/9.9"; everything else is a 4xx or a close.
    assert status is None or 400 <= status < 500 or (status == 505 and b"9.9" in data)
    assert b"Traceback" not in resp
    assert get(server, "/a.json")[0] == 200  # still answering


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_refused(server, method):
    status, _, _ = get(server, "/index.html", method=method)
    assert status in (405, 501)


def test_binds_to_loopback_by_default():
    assert inspect.signature(serve.make_server).parameters["host"].default == "127.0.0.1"
    args = serve.build_parser().parse_args([])
    assert (args.host, args.port, args.root) == ("127.0.0.1", 8000, str(Path(serve.__file__).resolve().parent / "web"))


def test_make_server_rejects_missing_root(tmp_path):
    with pytest.raises(NotADirectoryError):
        serve.make_server(tmp_path / "missing", port=0)


def test_a_client_that_hangs_up_is_not_an_error(server, capsys):
    import struct
    import time
    client = socket.create_connection(server.server_address[:2])
    client.sendall(b"GET /index.html HTTP/1.1\r\nHost: x\r\n")  # headers not finished
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()  # a reset, as a closed tab sends
    time.sleep(0.5)
    assert "Traceback" not in capsys.readouterr().err
    assert get(server, "/index.html")[0] == 200  # and the server still serves


def test_the_content_security_policy_is_on_every_response(server):
    for path in ("/", "/index.html", "/no-such-file"):
        policy = get(server, path)[1]["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy, path
