"""The policy pack (see PulumiPolicy.yaml). Importable from the repository root as `policies` for tests and
the catalogue generator; the engine runs `__main__.py` from inside this folder instead."""
