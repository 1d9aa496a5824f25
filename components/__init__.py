"""One ComponentResource per platform capability; all share `PlatformContext` (see context.py)."""
