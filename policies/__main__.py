"""Entry point of the policy pack: builds the pack from the rule modules and serves it (never returns).

The engine runs this file with `policies/` as working directory, so the rules are imported as the
top-level package `rules`; from the repository root (tests, catalogue) the same package is `policies.rules`.
The rule modules only use relative imports, which is what makes both work.
"""

from rules import build_pack

build_pack()
