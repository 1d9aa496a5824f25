"""Azure at the wire: the real SDKs (azure-identity, azure-ai-ml, azure-storage-blob, azure-monitor, mlflow,
azure-mgmt-core) run unchanged down to `requests`, where one `AzureWire` answers with recorded ARM / data-plane /
Entra ID responses and keeps every request for the test to assert (method, path, api-version, body, bearer token).

Three front-ends serve the same wire, so everything above the socket is real:
- `with AzureWire() as wire:` intercepts `requests` everywhere (the `responses` library), for code that builds its
  own clients (the CLI, the retrain function);
- `WireTransport(wire)`: azure-core's own RequestsTransport over a session whose adapter answers from the wire;
  back-off and poll delays are recorded, not slept. Pass it as `transport=`;
- `LocalHttps(wire, certificate)`: the wire over TLS on 127.0.0.1, for code that takes its endpoints from the
  environment (trust the certificate through REQUESTS_CA_BUNDLE).

Nothing of ours is replaced: a wrong URL, a missing api-version or an import error fails the test.
"""

from __future__ import annotations

import base64
import datetime
import io
import ipaddress
import json
import re
import ssl
import threading
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
import responses
import urllib3
from azure.core.pipeline.transport import RequestsTransport
from requests.structures import CaseInsensitiveDict

TENANT_ID = "11111111-1111-1111-1111-111111111111"
CLIENT_ID = "33333333-3333-3333-3333-333333333333"
OBJECT_ID = "44444444-4444-4444-4444-444444444444"


def _jwt(claims: dict[str, Any]) -> str:
    """An unsigned JWT: azure-ai-ml reads claims (oid, tid) from the access token; nothing verifies it offline."""
    part = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
    signature = base64.urlsafe_b64encode(b"offline").rstrip(b"=").decode()
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.{signature}"


def token_for(audience: str) -> str:
    """The access token Entra ID issues for a resource (`https://management.azure.com`, `https://ml.azure.com`)."""
    return _jwt({"aud": audience, "oid": OBJECT_ID, "tid": TENANT_ID, "appid": CLIENT_ID, "exp": 4102444800})


def _issue_token(call: Call) -> tuple[int, dict[str, Any]]:
    """Client-credentials grant: one token per requested scope (`<resource>/.default`)."""
    scope = parse_qs(call.body if isinstance(call.body, str) else call.body.decode())["scope"][0]
    audience = scope.split()[0].removesuffix("/.default")
    return 200, {"access_token": token_for(audience), "token_type": "Bearer", "expires_in": 3600}
LOGIN = "https://login.microsoftonline.com"
ARM = "https://management.azure.com"


@dataclass(frozen=True)
class Reply:
    """One scripted answer; `body` is sent as JSON unless it is bytes or text."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Answer = tuple[int, Any] | tuple[int, Any, dict[str, str]] | Reply
Handler = Callable[["Call"], Answer | None]  # None: not this handler's request


@dataclass
class Call:
    """One HTTP request the SDK made; `body` is parsed JSON when it is JSON, else text or bytes as sent."""

    method: str
    url: str
    headers: CaseInsensitiveDict
    body: Any

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def query(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(urlsplit(self.url).query).items()}

    @property
    def api_version(self) -> str | None:
        return self.query.get("api-version")

    @property
    def bearer(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        return auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None

    def json(self) -> Any:
        return self.body if isinstance(self.body, (dict, list)) else None

    def form(self) -> dict[str, str]:
        text = self.body.decode() if isinstance(self.body, bytes) else str(self.body)
        return {k: v[-1] for k, v in parse_qs(text).items()}


def _parsed(body: bytes | str | None) -> Any:
    if not body:
        return body
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body


@dataclass
class AzureWire:
    """Routes (method, host+path regex) to handlers, and scripted replies per exact path (`on`); a request nothing
    answers gets a 404 naming it and is kept in `unrouted`."""

    routes: list[tuple[str, re.Pattern[str], Handler]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    unrouted: list[Call] = field(default_factory=list)
    _scripted: dict[tuple[str, str], deque[Reply]] = field(default_factory=lambda: defaultdict(deque))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def route(self, method: str, pattern: str, handler: Handler | Any, status: int = 200) -> None:
        """`handler` is a function of the Call returning (status, body[, headers]), or a body to answer as is.
        Later routes win."""
        answer = handler if callable(handler) else (lambda call, body=handler: (status, body))
        self.routes.insert(0, (method, re.compile(pattern), answer))

    def on(self, method: str, path: str, *replies: Reply) -> AzureWire:
        """Answer `method path` (any host) with `replies`, one per request, in order."""
        self._scripted[(method, path)].extend(replies)
        return self

    def requests_to(self, host: str) -> list[Call]:
        return [c for c in self.calls if c.host == host]

    def answer(self, method: str, url: str, headers: dict[str, str], body: bytes | str | None) -> tuple[int, dict[str, str], bytes]:
        """The one place a request is recorded and answered: (status, headers, body)."""
        call = Call(method, url, CaseInsensitiveDict(headers), _parsed(body))
        with self._lock:
            self.calls.append(call)
            scripted = self._scripted.get((method, call.path))
            answer: Answer | None = scripted.popleft() if scripted else None
        target = call.host + call.path
        if answer is None:
            for route_method, pattern, handler in self.routes:  # the first route that matches and answers
                if route_method == method and pattern.fullmatch(target):
                    answer = handler(call)
                    if answer is not None:
                        break
        if answer is None:
            self.unrouted.append(call)
            error = {"error": {"code": "ResourceNotFound", "message": f"no recorded response for {method} {target}"}}
            answer = Reply(404, error, {"x-ms-error-code": "ResourceNotFound"})
        if not isinstance(answer, Reply):
            answer = Reply(answer[0], answer[1], answer[2] if len(answer) > 2 else {})
        if isinstance(answer.body, bytes):
            content = answer.body
        elif answer.body is None or isinstance(answer.body, str):
            content = (answer.body or "").encode()
        else:
            content = json.dumps(answer.body).encode()
        return answer.status, {"Content-Type": "application/json", "x-ms-request-id": "offline", **answer.headers}, content

    # the `responses` front-end: every `requests` call in the process while in the `with` block
    def __enter__(self) -> AzureWire:
        self._mock = responses.RequestsMock(assert_all_requests_are_fired=False)
        self._mock.__enter__()
        for method in ("GET", "PUT", "POST", "PATCH", "DELETE", "HEAD"):
            self._mock.add_callback(method, re.compile(r"https?://.*"), callback=self._intercepted)
        return self

    def __exit__(self, *exc: object) -> None:
        self._mock.__exit__(*exc)

    def _intercepted(self, request) -> tuple[int, dict[str, str], bytes]:
        return self.answer(request.method, request.url, dict(request.headers), request.body)


class _WireAdapter(requests.adapters.HTTPAdapter):
    def __init__(self, wire: AzureWire) -> None:
        super().__init__()
        self._wire = wire

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        status, headers, content = self._wire.answer(request.method, request.url, dict(request.headers), request.body)
        raw = urllib3.HTTPResponse(
            body=io.BytesIO(content),
            headers={**headers, "Content-Length": str(len(content))},
            status=status,
            reason=HTTPStatus(status).phrase,
            preload_content=False,
            decode_content=False,
        )
        return self.build_response(request, raw)


class WireTransport(RequestsTransport):
    """azure-core's RequestsTransport with the wire where the sockets would be; `sleeps` are the delays asked for."""

    def __init__(self, wire: AzureWire) -> None:
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
    now = datetime.datetime.now(datetime.UTC)
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
    wire: AzureWire
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        url = f"https://{self.headers['Host']}{self.path}"
        status, headers, content = self.wire.answer(self.command, url, dict(self.headers), body)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


class LocalHttps:
    """The wire over TLS on 127.0.0.1 (an ephemeral port) while in a `with` block; `url` is its base URL."""

    def __init__(self, wire: AzureWire, certificate: tuple[Path, Path]) -> None:
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


def sign_in(wire: AzureWire, monkeypatch) -> None:
    """DefaultAzureCredential signs in as a service principal (EnvironmentCredential) against recorded Entra ID."""
    for name in ("AZURE_FEDERATED_TOKEN_FILE", "AZURE_USERNAME", "IDENTITY_ENDPOINT", "MSI_ENDPOINT", "AZURE_CLIENT_CERTIFICATE_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_TENANT_ID", TENANT_ID)
    monkeypatch.setenv("AZURE_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "offline-secret")
    authority = f"{LOGIN}/{TENANT_ID}"
    wire.route(
        "GET",
        rf"login\.microsoftonline\.com/{TENANT_ID}/v2\.0/\.well-known/openid-configuration",
        {
            "token_endpoint": f"{authority}/oauth2/v2.0/token",
            "authorization_endpoint": f"{authority}/oauth2/v2.0/authorize",
            "issuer": f"{authority}/v2.0",
        },
    )
    wire.route(
        "POST",
        rf"login\.microsoftonline\.com/{TENANT_ID}/oauth2/v2\.0/token",
        _issue_token,
    )
