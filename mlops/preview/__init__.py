"""The offline preview: desired state under mocks, policy verdicts over the Analyzer protocol, diff, report."""
