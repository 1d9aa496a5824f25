"""A fake Azure at the wire: scripted HTTP answers, and the requests that reached them.

Two front-ends serve the same `Wire`, so everything above the socket is the real SDK (azure-core, azure-mgmt-core,
azure-identity, requests, urllib3):
- `WireTransport`: azure-core's own RequestsTransport over a requests session whose adapter answers from the wire
  instead of a socket; back-off and poll delays are recorded, not slept. Pass it as `transport=`.
- `LocalHttps`: the wire served over TLS on 127.0.0.1 with a throw-away certificate, for code that builds its own
  transport and takes its endpoints from the environment (trust the certificate through REQUESTS_CA_BUNDLE).
"""

from __future__ import annotations

import datetime
import io
import ipaddress
import json
import ssl
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
import urllib3
from azure.core.pipeline.transport import RequestsTransport


@dataclass(frozen=True)
class Reply:
    """One scripted answer; `body` is sent as JSON unless it is bytes."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def content(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        return b"" if self.body is None else json.dumps(self.body).encode()


@dataclass(frozen=True)
class Seen:
    """One request as it reached the wire (header names lower-cased)."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def query(self) -> dict[str, str]:
        return {key: values[-1] for key, values in parse_qs(urlsplit(self.url).query).items()}

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {key: values[-1] for key, values in parse_qs(self.body.decode()).items()}


class Wire:
    """Answers by (method, URL path), each used once and in order; a request nothing answers gets a 418 that
    says so (not retried, so a test fails at once). `seen` lists every request."""

    def __init__(self) -> None:
        self._answers: dict[tuple[str, str], deque[Reply]] = defaultdict(deque)
        self._lock = threading.Lock()
        self.seen: list[Seen] = []

    def on(self, method: str, path: str, *replies: Reply) -> Wire:
        self._answers[(method, path)].extend(replies)
        return self

    def answer(self, method: str, url: str, headers: dict[str, str], body: bytes) -> Reply:
        seen = Seen(method, url, {name.lower(): value for name, value in headers.items()}, body)
        with self._lock:
            self.seen.append(seen)
            answers = self._answers.get((method, seen.path))
            if answers:
                return answers.popleft()
        message = f"no scripted answer for {method} {url}"
        return Reply(418, {"error": {"code": "Unscripted", "message": message}})

    def to(self, host: str) -> list[Seen]:
        return [seen for seen in self.seen if seen.host == host]


class _WireAdapter(requests.adapters.HTTPAdapter):
    def __init__(self, wire: Wire) -> None:
        super().__init__()
        self._wire = wire

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):  # noqa: ARG002
        body = request.body.encode() if isinstance(request.body, str) else (request.body or b"")
        reply = self._wire.answer(request.method, request.url, dict(request.headers), body)
        content = reply.content()
        headers = {"Content-Type": "application/json", **reply.headers, "Content-Length": str(len(content))}
        raw = urllib3.HTTPResponse(
            body=io.BytesIO(content),
            headers=headers,
            status=reply.status,
            reason=HTTPStatus(reply.status).phrase,
            preload_content=False,
            decode_content=False,
        )
        return self.build_response(request, raw)


class WireTransport(RequestsTransport):
    """azure-core's RequestsTransport with the wire where the sockets would be; `sleeps` are the delays asked for."""

    def __init__(self, wire: Wire) -> None:
        session = requests.Session()
        adapter = _WireAdapter(wire)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        super().__init__(session=session, session_owner=False)
        self.sleeps: list[float] = []

    def sleep(self, duration: float) -> None:
        self.sleeps.append(duration)


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that is its own CA (certificate file, key file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    identifier = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, False, False, False), critical=True
        )  # digital signature, certificate signing
        .add_extension(identifier, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(identifier), critical=False)
        .sign(key, hashes.SHA256())
    )
    certificate_file, key_file = directory / "wire.crt", directory / "wire.key"
    certificate_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return certificate_file, key_file


class _WireHandler(BaseHTTPRequestHandler):
    wire: Wire
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        reply = self.wire.answer(self.command, f"https://{self.headers['Host']}{self.path}", dict(self.headers), body)
        content = reply.content()
        self.send_response(reply.status)
        for name, value in {"Content-Type": "application/json", **reply.headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  quiet
        pass


class LocalHttps:
    """The wire over TLS on 127.0.0.1 (an ephemeral port) while in a `with` block; `url` is its base URL."""

    def __init__(self, wire: Wire, certificate: tuple[Path, Path]) -> None:
        handler = type("Handler", (_WireHandler,), {"wire": wire})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*certificate)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> LocalHttps:
        self._thread.start()
        return self

    def __exit__(self, *_exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
