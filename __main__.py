"""The Pulumi program: build the platform for the selected stack (config in stacks/Pulumi.<stack>.yaml)."""

from stacks.platform import build_platform

build_platform()
