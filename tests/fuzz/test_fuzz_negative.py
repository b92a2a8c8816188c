"""The schema-driven fuzz run of test_fuzz.py with invalid requests (schemathesis's
negative mode): the same fixtures and checks, in a file of its own so that `make e2e`
(two workers, a file at a time) runs the two halves side by side."""
from __future__ import annotations

import pytest
from schemathesis.generation.modes import GenerationMode

from tests.fuzz.test_fuzz import fuzz, fuzz_schema, loopback_only, seeded  # noqa: F401 (fixtures)


@pytest.mark.parametrize("mode", [GenerationMode.NEGATIVE], ids=["negative"])
def test_no_server_errors_and_answers_match_the_document(fuzz_schema, mode, checked_replies):  # noqa: F811
    fuzz(fuzz_schema, mode, checked_replies)
