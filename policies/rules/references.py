"""What a rule is based on, as data: the published rules it matches and the documents it enforces.

- `psrule`: PSRule for Azure rule names (`Azure.Storage.SecureTransfer`); each has a page at `psrule_url(name)`.
- `checkov`: Checkov check ids **for ARM** (`checkov/arm/checks/`) only. Many Checkov ids exist only for
  Terraform (`checkov/terraform/checks/`); citing one of those for an ARM resource points at nothing, so leave
  them out and say why in `note`.
- `docs`: the Microsoft (or Pulumi) documents whose requirement the rule enforces, as URLs.
- `evidence`: issues and other records of Azure's behaviour that a document does not state (deploy-* facts).
- `note`: one sentence about the references themselves (why none of a kind applies).

tests/policies/test_references.py checks every id and URL against lists kept in tests/policies/data/, each taken
from a named source at a named version. A new rule therefore needs only data: its references here, the ids in
those lists if they are new, and `python -m policies.catalogue --write README.md` for its page.
"""

from __future__ import annotations

from dataclasses import dataclass

PSRULE_DOCS = "https://azure.github.io/PSRule.Rules.Azure/en/rules/"


def psrule_url(name: str) -> str:
    return f"{PSRULE_DOCS}{name}/"


def _tuple(value: str | tuple[str, ...]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


@dataclass(frozen=True)
class References:
    psrule: tuple[str, ...] = ()
    checkov: tuple[str, ...] = ()
    docs: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()
    note: str = ""

    def __post_init__(self) -> None:  # a single id or URL may be written without a tuple
        for name in ("psrule", "checkov", "docs", "evidence"):
            object.__setattr__(self, name, _tuple(getattr(self, name)))

    @property
    def url(self) -> str | None:
        """The one link a policy carries (PolicyInfo.url): the document it enforces, else its PSRule page."""
        if self.docs:
            return self.docs[0]
        return psrule_url(self.psrule[0]) if self.psrule else None

    def links(self) -> list[tuple[str, str]]:
        """(label, URL) of every reference that has a page, in the order the catalogue shows them."""
        found = [(name, psrule_url(name)) for name in self.psrule]
        found += [(_label(url), url) for url in (*self.docs, *self.evidence)]
        return found


def _label(url: str) -> str:
    """A short link text: the site and the document's last path segment."""
    site = url.split("://", 1)[-1].split("/", 1)[0].removeprefix("www.")
    path = url.split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    anchor = f"#{url.split('#', 1)[1]}" if "#" in url else ""
    return f"{site}: {path}{anchor}"
