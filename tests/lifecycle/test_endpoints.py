from __future__ import annotations

import pytest
from sklearn.linear_model import LogisticRegression

from modelport.core.workspace import Workspace
from modelport.errors import ConflictError, InvalidInputError, NotFoundError
from modelport.lifecycle.endpoints import (
    Policy,
    Route,
    create_endpoint,
    delete_endpoint,
    get_endpoint,
    list_endpoints,
    revisions,
    set_policy,
)
from modelport.lifecycle.registry import register_model, set_alias


@pytest.fixture
def versions(ws: Workspace, iris) -> Workspace:  # type: ignore[no-untyped-def]
    X, y = iris.frame.drop(columns="target"), iris.frame["target"]
    for c in (0.1, 1.0):
        register_model("iris", LogisticRegression(C=c, max_iter=300).fit(X, y), X=X, ws=ws)
    set_alias("iris", "champion", 1, ws=ws)
    return ws


def test_endpoint_lifecycle(versions: Workspace) -> None:
    ws = versions
    ep = create_endpoint("api", "iris@champion", ws=ws)
    assert ep.policy == Policy.single("iris:1") and ep.revision == 1
    with pytest.raises(ConflictError, match="already exists"):
        create_endpoint("api", "iris", ws=ws)
    moved = set_policy("api", Policy([Route("iris:1", 90), Route("iris:2", 10)],
                                     sticky_header="X-User"), ws=ws)
    assert moved.revision == 2 and moved.policy.versions() == ["iris:1", "iris:2"]
    assert get_endpoint("api", ws=ws).policy.sticky_header == "X-User"
    assert revisions(ws=ws) == {"api": (ep.created, 2)}
    assert [e.name for e in list_endpoints(ws=ws)] == ["api"]
    delete_endpoint("api", ws=ws)
    with pytest.raises(NotFoundError, match="endpoints create api"):
        get_endpoint("api", ws=ws)


@pytest.mark.parametrize("policy, message", [
    (Policy([]), "at least one route"),
    (Policy([Route("iris:1", 0)]), "more than 0"),
    (Policy([Route("iris:1", -5), Route("iris:2", 10)]), "≥ 0"),
    (Policy([Route("iris@champion", 100)]), "fixed versions"),
    (Policy([Route("iris:1", 100)], shadow="iris:2", shadow_percent=150), "between 0 and 100"),
])
def test_bad_policies(versions: Workspace, policy: Policy, message: str) -> None:
    create_endpoint("api", "iris:1", ws=versions)
    with pytest.raises(InvalidInputError, match=message):
        set_policy("api", policy, ws=versions)


def test_endpoint_needs_an_existing_model(versions: Workspace) -> None:
    with pytest.raises(NotFoundError, match="no version 9"):
        create_endpoint("api", "iris:9", ws=versions)
    with pytest.raises(InvalidInputError, match="invalid model name"):
        create_endpoint("bad name", "iris:1", ws=versions)
