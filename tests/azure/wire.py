"""Azure at the wire: the real SDKs (azure-identity, azure-ai-ml, azure-storage-blob, mlflow) run unchanged down
to `requests`, where `responses` answers with recorded ARM / data-plane / Entra ID responses and keeps every
request for the test to assert (method, path, api-version, body, bearer token).

Nothing of ours is replaced: a wrong URL, a missing api-version or an import error fails the test.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import responses

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

Reply = tuple[int, Any] | tuple[int, Any, dict[str, str]]
Handler = Callable[["Call"], Reply]


@dataclass
class Call:
    """One HTTP request the SDK made."""

    method: str
    url: str
    headers: dict[str, str]
    body: Any

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def query(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.url).query).items()}

    @property
    def api_version(self) -> str | None:
        return self.query.get("api-version")

    @property
    def bearer(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        return auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None

    def json(self) -> Any:
        return self.body if isinstance(self.body, (dict, list)) else None


@dataclass
class AzureWire:
    """Routes (method, host+path regex) to handlers; unrouted requests answer 404 and are kept in `unrouted`."""

    routes: list[tuple[str, re.Pattern[str], Handler]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    unrouted: list[Call] = field(default_factory=list)

    def route(self, method: str, pattern: str, handler: Handler | Any, status: int = 200) -> None:
        """`handler` is a function of the Call returning (status, body), or a body to answer as is."""
        answer = handler if callable(handler) else (lambda call, body=handler: (status, body))
        self.routes.insert(0, (method, re.compile(pattern), answer))  # later routes win

    def requests_to(self, host: str) -> list[Call]:
        return [c for c in self.calls if c.host == host]

    def __enter__(self) -> AzureWire:
        self._mock = responses.RequestsMock(assert_all_requests_are_fired=False)
        self._mock.__enter__()
        for method in ("GET", "PUT", "POST", "PATCH", "DELETE", "HEAD"):
            self._mock.add_callback(method, re.compile(r"https?://.*"), callback=self._answer)
        return self

    def __exit__(self, *exc: object) -> None:
        self._mock.__exit__(*exc)

    def _answer(self, request) -> tuple[int, dict[str, str], bytes | str]:
        body: Any = request.body
        if isinstance(body, bytes):
            try:
                body = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                pass
        elif isinstance(body, str):
            try:
                body = json.loads(body)
            except ValueError:
                pass
        call = Call(request.method, request.url, dict(request.headers), body)
        self.calls.append(call)
        target = call.host + call.path
        for method, pattern, handler in self.routes:
            if method == call.method and pattern.fullmatch(target):
                status, payload, *extra = handler(call)
                headers = {"Content-Type": "application/json", "x-ms-request-id": "offline", **(extra[0] if extra else {})}
                text = payload if isinstance(payload, (str, bytes)) or payload is None else json.dumps(payload)
                return status, headers, text or ""
        self.unrouted.append(call)
        error = {"error": {"code": "ResourceNotFound", "message": f"no recorded response for {call.method} {target}"}}
        return 404, {"Content-Type": "application/json", "x-ms-error-code": "ResourceNotFound"}, json.dumps(error)


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
