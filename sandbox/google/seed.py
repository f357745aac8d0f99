"""Placeholder: being built (issue 2)."""

from sandbox.core import Sandbox


def seed(sb: Sandbox) -> None:
    return None
