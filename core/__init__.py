"""The neutral leaf package every layer may import: errors, paths, naming rules, Azure's facts, the typed stack
config models, the stack-outputs contract and the names the infrastructure and the jobs agree on.

No Pulumi and no other project package here (tests/test_layers.py checks it): the Pulumi program (stacks/,
components/), the pipeline steps, the retrain function and the CLI (mlops/) all stand on it.
"""
