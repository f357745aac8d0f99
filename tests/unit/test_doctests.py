"""Every example in the domain's docstrings runs: a docstring that lies fails here."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import engagement
from testkit.factories import opportunity

MODULES = [info.name for info in pkgutil.iter_modules(engagement.__path__, "engagement.")]


@pytest.mark.parametrize("name", MODULES)
def test_the_examples_of_each_domain_module_run(name: str) -> None:
    # `acme`: the opportunity the examples that need one name
    result = doctest.testmod(importlib.import_module(name), extraglobs={"acme": opportunity()})
    assert result.failed == 0, name
