"""What a rule is: metadata beside one check, turned into a pulumi-policy Policy.

Every rule is a module-level `ResourceRule` or `StackRule`. Its metadata (name, synopsis, why, severity, WAF
pillar, remediation, references, config properties with defaults) is the one source of the pack's
GetAnalyzerInfo, of the README catalogue and of the rule's page in policies/docs/. A check returns problems as short sentences;
the rule appends its remediation, so every message says what is wrong and how to fix it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pulumi_policy import (
    PolicyComplianceFramework,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from .references import References, psrule_url
from .values import MISSING, WRONG_TYPE, as_bool, as_number, as_text, get, items, same, shown

DEPLOY_PREFIX = "deploy-"
SECURITY = "Security"
RELIABILITY = "Reliability"
OPERATIONS = "Operational Excellence"
COST = "Cost Optimization"

Settings = Mapping[str, Any]
Check = Callable[[Mapping[str, Any], Settings], list[str]]


class NotApplicable(list):
    """What a check returns when the rule does not apply to the resource at all (a Flex app for an FTP rule, a
    private app for an inbound-restriction rule): no problem, like a pass, but distinguishable from one, so tests can
    insist that every conditional rule has a not-applicable case (tests/policies/test_resource_rules.py)."""

    def __repr__(self) -> str:
        return "NOT_APPLICABLE"


NOT_APPLICABLE = NotApplicable()


def conditional(check: Check) -> Check:
    """Mark a check that can answer NOT_APPLICABLE (the gate combinators below mark theirs)."""
    check.conditional = True  # type: ignore[attr-defined]
    return check
StackCheck = Callable[[list[PolicyResource], Settings], Iterable[tuple[str, str]]]


@dataclass(frozen=True, kw_only=True)
class Rule:
    """Metadata shared by resource and stack rules."""

    name: str
    description: str
    severity: Severity
    pillar: str
    remediation: str
    why: str = ""  # what goes wrong without it (the rule's page); tests/policies/test_references.py requires one
    references: References = References()  # noqa: RUF009 (frozen, shared on purpose); PSRule and Checkov ARM ids, the documents it enforces (references.py)
    config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # JSON-schema properties with "default"

    kind: ClassVar[str]  # "resource" | "stack", for the catalogue

    @property
    def conditional(self) -> bool:
        """Whether the rule's check can pass over resources of its types because of their own properties (a Flex app
        for an FTP rule, a namespace closed to public networks): it answers NOT_APPLICABLE there (see `conditional`)."""
        return getattr(getattr(self, "check", None), "conditional", False)

    @property
    def deploy_check(self) -> bool:
        """A `deploy-*` rule: what Azure itself rejects at deploy time (or what makes a deploy fail)."""
        return self.name.startswith(DEPLOY_PREFIX)

    def settings(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The rule's config: what Configure sent, else each property's default."""
        return {key: config.get(key, schema["default"]) for key, schema in self.config.items()}

    def message(self, problem: str) -> str:
        return f"{problem}. Fix: {self.remediation}"

    @staticmethod
    def unreadable(exc: Exception) -> str:
        """The problem reported when a check raised: the input has a shape the rule cannot read."""
        return f"the rule could not read these inputs ({type(exc).__name__}: {str(exc)[:200]}); they do not have the shape Azure expects"

    def framework(self) -> PolicyComplianceFramework | None:
        """The published rule set this rule matches (PolicyInfo.framework holds one): PSRule for Azure, else Checkov."""
        refs = self.references
        if refs.psrule:
            return PolicyComplianceFramework(name="PSRule for Azure", reference=refs.psrule[0], specification=psrule_url(refs.psrule[0]))
        if refs.checkov:
            return PolicyComplianceFramework(name="Checkov (ARM)", reference=refs.checkov[0])
        return None

    def _policy_args(self) -> dict[str, Any]:
        refs = self.references
        tags = [f"pillar:{self.pillar}", *(f"psrule:{name}" for name in refs.psrule), *(f"checkov:{id_}" for id_ in refs.checkov)]
        schema = PolicyConfigSchema(properties={k: dict(v) for k, v in self.config.items()}) if self.config else None
        return {
            "name": self.name,
            "description": self.description,
            "severity": self.severity,
            "tags": tags,
            "remediation_steps": self.remediation,
            "config_schema": schema,
            "url": refs.url,
            "framework": self.framework(),
        }


@dataclass(frozen=True, kw_only=True)
class ResourceRule(Rule):
    """A check of one resource's inputs, for the listed resource types."""

    types: tuple[str, ...]
    check: Check

    kind = "resource"

    def validate(self, args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type not in self.types:
            return  # most calls: return before reading any property (the throughput floor)
        try:
            problems = list(self.check(args.props, self.settings(args.get_config())))
        except UnknownValueError:
            raise
        except Exception as exc:
            problems = [self.unreadable(exc)]
        for problem in problems:
            report(self.message(problem), None)

    def policy(self) -> ResourceValidationPolicy:
        return ResourceValidationPolicy(validate=self.validate, **self._policy_args())


@dataclass(frozen=True, kw_only=True)
class StackRule(Rule):
    """A check across the whole stack; each problem names the resource it is about."""

    check: StackCheck

    kind = "stack"

    def validate(self, args: StackValidationArgs, report: ReportViolation) -> None:
        found: list[tuple[str | None, str]] = []
        try:
            found.extend(self.check(args.resources, self.settings(args.get_config())))
        except UnknownValueError:
            raise
        except Exception as exc:
            found.append((None, self.unreadable(exc)))
        for urn, problem in found:
            report(self.message(problem), urn)

    def policy(self) -> StackValidationPolicy:
        return StackValidationPolicy(validate=self.validate, **self._policy_args())


# --- check builders ----------------------------------------------------------------------------------------------


def _convert(sample: Any) -> Callable[[Any], Any]:
    if isinstance(sample, bool):
        return as_bool
    if isinstance(sample, (int, float)):
        return as_number
    return as_text


def _one_of(allowed: tuple[Any, ...]) -> str:
    return " or ".join(shown(a) for a in allowed)


def expect(path: str, *allowed: Any, default: Any = MISSING) -> Check:
    """The value at `path` must be one of `allowed`. When absent Azure uses `default` (MISSING: no default)."""
    convert = _convert(allowed[0])
    expected = _one_of(allowed)

    def check(props: Mapping[str, Any], _settings: Settings) -> list[str]:
        value = convert(get(props, path))
        if value is WRONG_TYPE:
            return []
        if value is MISSING:
            if default is MISSING:
                return [f"{path} is not set; it must be {expected}"]
            if any(same(default, a) for a in allowed):
                return []
            return [f"{path} is not set, so Azure uses {shown(default)}; it must be {expected}"]
        if any(same(value, a) for a in allowed):
            return []
        return [f"{path} is {shown(value)}; it must be {expected}"]

    return check


def at_least(path: str, setting: str, *, default: Any = MISSING) -> Check:
    """The number at `path` must be at least the rule setting `setting`; absent means Azure's `default`."""

    def check(props: Mapping[str, Any], settings: Settings) -> list[str]:
        minimum = as_number(settings[setting])
        value = as_number(get(props, path))
        if value is MISSING and default is not MISSING:
            value, source = default, " (Azure's default, not set)"
        else:
            source = ""
        if value is WRONG_TYPE or minimum is WRONG_TYPE:
            return []
        if value is MISSING:
            return [f"{path} is not set; it must be at least {shown(minimum)}"]
        if value < minimum:
            return [f"{path} is {shown(value)}{source}; it must be at least {shown(minimum)}"]
        return []

    return check


def all_of(*checks: Check) -> Check:
    """Checks in order; the first one with problems decides (one message per violation)."""

    def check(props: Mapping[str, Any], settings: Settings) -> list[str]:
        for each in checks:
            problems = each(props, settings)
            if problems or problems is NOT_APPLICABLE:
                return problems
        return []

    return conditional(check) if any(getattr(each, "conditional", False) for each in checks) else check


def only_if(path: str, *values: Any, then: Check) -> Check:
    """Apply `then` only to resources whose `path` is one of `values` (e.g. a SKU or compute type)."""

    def check(props: Mapping[str, Any], settings: Settings) -> list[str]:
        value = get(props, path)
        return then(props, settings) if any(same(value, v) for v in values) else NOT_APPLICABLE

    return conditional(check)


def unless_present(path: str, then: Check) -> Check:
    """Apply `then` only to resources without a value at `path` (e.g. a Flex Consumption app's functionAppConfig)."""

    def check(props: Mapping[str, Any], settings: Settings) -> list[str]:
        return then(props, settings) if get(props, path) is MISSING else NOT_APPLICABLE

    return conditional(check)


def if_setting(setting: str, then: Check) -> Check:
    """Apply `then` only when the boolean rule setting is on (an environment opts out through policy config)."""

    def check(props: Mapping[str, Any], settings: Settings) -> list[str]:
        return then(props, settings) if as_bool(settings[setting]) is True else NOT_APPLICABLE

    return conditional(check)


REQUIRED_SETTING = {
    "required": {
        "type": "boolean",
        "default": True,
        "description": "Whether this environment requires it (false in environments that opt out).",
    }
}


def string_list(description: str, default: tuple[str, ...] = ()) -> dict[str, Any]:
    """The JSON schema of a list-of-strings rule setting (allowed hosts, service tags, subnet names)."""
    return {"type": "array", "items": {"type": "string"}, "default": list(default), "description": description}


def expect_setting(path: str, setting: str) -> Check:
    """The value at `path` must be one of the strings in the list-valued rule setting `setting`."""

    def check(props: Mapping[str, Any], settings: Settings) -> list[str]:
        allowed = tuple(value for value in items(settings[setting]) if isinstance(value, str))
        return expect(path, *allowed)(props, settings) if allowed else []

    return check
