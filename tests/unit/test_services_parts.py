"""`Services` takes any part it builds by that part's name (the tests' in-memory stores):
the given part is the graph's, `replace` keeps it, and a name it builds nothing under is
refused rather than ignored."""
import pytest

from chalicelib.services import Services
from tests.memory_graph import MemoryGraph, NoAws, NotInMemory


def test_a_given_part_is_used_and_kept_by_replace():
    graph = MemoryGraph()
    svc = Services(graph.settings, session=NoAws(), **graph.parts())
    assert svc.meta is graph.meta and svc.secrets is graph.secrets
    assert svc.replace(clock=lambda: 0.0).blobs is graph.blobs
    with pytest.raises(NotInMemory):
        _ = svc.webhooks  # not given: built, on a session that has no AWS


def test_a_name_services_builds_nothing_under_is_refused():
    with pytest.raises(TypeError, match="metta"):
        Services(MemoryGraph().settings, metta=object())
    with pytest.raises(TypeError, match="aws_session"):
        Services(MemoryGraph().settings, aws_session=object())  # a property, not a part it builds
