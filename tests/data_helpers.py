"""Helpers for the data tests: a loopback HTTP server with Range support and fault injection, and
builders of malicious archives."""

from __future__ import annotations

import contextlib
import io
import re
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class ServerState:
    files: dict[str, bytes]
    honour_range: bool = True
    cut_after: int | None = None  # bytes of body sent before dropping the connection
    cuts_left: int = 0
    corrupt_at: int | None = None  # flip this byte offset of the file in every response
    redirects: dict[str, str] = field(default_factory=dict)  # path -> Location of a 302
    range_start: int | None = None  # answer every Range request with a 206 from this offset instead
    range_faults: int = 1_000_000  # how many Range requests get the wrong range_start
    requests: list[dict[str, str]] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        st: ServerState = self.server.state  # type: ignore[attr-defined]
        st.requests.append({"path": self.path, "range": self.headers.get("Range", "")})
        if self.path in st.redirects:
            self.send_response(302)
            self.send_header("Location", st.redirects[self.path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = st.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        if st.corrupt_at is not None:
            b = bytearray(data)
            b[st.corrupt_at] ^= 0xFF
            data = bytes(b)
        start = 0
        rng = self.headers.get("Range")
        if rng and st.honour_range:
            m = re.fullmatch(r"bytes=(\d+)-", rng.strip())
            start = int(m.group(1)) if m else 0
            if st.range_start is not None and st.range_faults > 0:  # a server that gets ranges wrong
                st.range_faults -= 1
                start = st.range_start
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes" if st.honour_range else "none")
        self.end_headers()
        if st.cut_after is not None and st.cuts_left > 0:
            st.cuts_left -= 1
            self.wfile.write(body[: st.cut_after])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def http_server(state: ServerState) -> Iterator[str]:
    """Serve ``state.files`` on 127.0.0.1 (a free port); yields the base URL."""
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.state = state  # type: ignore[attr-defined]
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(timeout=5)


_TAR_TYPES = {b"l": tarfile.SYMTYPE, b"h": tarfile.LNKTYPE, b"c": tarfile.CHRTYPE, b"p": tarfile.FIFOTYPE,
              b"d": tarfile.DIRTYPE}


def tar_with(members: list[tuple[str, bytes, bytes]], compresslevel: int = 9) -> bytes:
    """A tar.gz with (name, type, data) members; type b'f' file, b'l' symlink / b'h' hard link to data,
    b'c' character device, b'p' fifo, b'd' folder."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=compresslevel) as tf:
        for name, kind, data in members:
            ti = tarfile.TarInfo(name)
            if kind in _TAR_TYPES:
                ti.type, ti.linkname = _TAR_TYPES[kind], data.decode()
                tf.addfile(ti)
            else:
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def zip_with(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members:
            zf.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return buf.getvalue()
