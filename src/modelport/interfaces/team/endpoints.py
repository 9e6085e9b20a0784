"""``/api/v1/endpoints`` and ``/api/v1/rollouts``: one route per method of
``EndpointsRepository``.

A rollout's transition arrives whole (the rollout as the controller read it,
the moved one, the policy, the event) and is applied in one store transaction,
guarded by the rollout's revision: two controllers on two machines never both
act, as on one database. The endpoint in the path must be the rollout's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Router, delete, get, post, put
from litestar.exceptions import ValidationException
from litestar.params import FromPath, JSONBody

from modelport.control.rollout import KINDS
from modelport.core.store.endpoints import STATES, EndpointRecord, Event, Rollout
from modelport.errors import InvalidInputError, NotFoundError
from modelport.interfaces.team.access import ProjectStore, needs
from modelport.interfaces.team.inputs import storable, storable_request
from modelport.lifecycle.endpoints import Policy, checked
from modelport.lifecycle.refs import check_name, parse_ref


@dataclass
class NewEndpoint:
    name: str
    policy: dict[str, Any]
    now: float


@dataclass
class NewPolicy:
    policy: dict[str, Any]
    now: float


@dataclass
class Start:
    rollout: Rollout
    policy: dict[str, Any]
    event: Event


@dataclass
class Transition:
    rollout: Rollout
    moved: Rollout
    policy: dict[str, Any] | None
    event: Event


@dataclass
class History:
    rollout: Rollout
    events: list[Event]


def _own(name: str, *rollouts: Rollout) -> None:
    """Each rollout is ``name``'s and one the control layer could have made: a known kind
    and state between fixed versions (what reads it later must never trip on it)."""
    for rollout in rollouts:
        if rollout.endpoint != name:
            raise InvalidInputError(f"rollout {rollout.id!r} belongs to endpoint "
                                    f"{rollout.endpoint!r}, not {name!r}")
        if rollout.kind not in KINDS or rollout.state not in STATES:
            raise InvalidInputError(f"a rollout's kind is one of {', '.join(KINDS)} and its "
                                    f"state one of {', '.join(STATES)}")
        for ref in (rollout.stable, rollout.candidate):
            if parse_ref(ref).version is None:
                raise InvalidInputError(f"a rollout moves between fixed versions "
                                        f"(NAME:VERSION), not {ref}")


def _sound(policy: dict[str, Any], field: str) -> dict[str, Any]:
    """``policy`` if it reads as a ``Policy`` the serving side can follow, else a 422
    naming ``field``: the store keeps JSON, the readers of it expect a policy."""
    try:
        checked(Policy.from_dict(policy))
    except (KeyError, TypeError, ValueError, AttributeError, InvalidInputError) as exc:
        why = exc.message if isinstance(exc, InvalidInputError) else repr(exc)
        raise ValidationException(f"invalid field {field}", extra=[{
            "source": "body", "key": field, "message": f"not a traffic policy: {why}"}]
        ) from None
    return policy


@post("/", guards=[needs("deploy")], status_code=201, sync_to_thread=True)
def create_endpoint(store: ProjectStore, data: JSONBody[NewEndpoint]) -> EndpointRecord:
    storable(data)
    check_name(data.name)
    return store.endpoints.create_endpoint(  # type: ignore[no-any-return]
        data.name, _sound(data.policy, "policy"), data.now)


@get("/", guards=[needs("read")], sync_to_thread=True)
def list_endpoints(store: ProjectStore) -> list[EndpointRecord]:
    return store.endpoints.list_endpoints()  # type: ignore[no-any-return]


@dataclass
class Revision:
    created: float
    revision: int


@get("/revisions", guards=[needs("read")], sync_to_thread=True)
def endpoint_revisions(store: ProjectStore) -> dict[str, Revision]:
    return {name: Revision(*pair) for name, pair
            in store.endpoints.endpoint_revisions().items()}


@get("/{name:str}", guards=[needs("read")], sync_to_thread=True)
def get_endpoint(store: ProjectStore, name: FromPath[str]) -> EndpointRecord:
    found = store.endpoints.get_endpoint(name)
    if found is None:
        raise NotFoundError(f"endpoint {name!r} not found — list them with: "
                            "modelport endpoints list")
    return found  # type: ignore[no-any-return]


@put("/{name:str}/policy", guards=[needs("deploy")], sync_to_thread=True)
def set_policy(store: ProjectStore, name: FromPath[str], data: JSONBody[NewPolicy]
               ) -> EndpointRecord:
    storable(data)
    return store.endpoints.set_policy(  # type: ignore[no-any-return]
        name, _sound(data.policy, "policy"), data.now)


@delete("/{name:str}", guards=[needs("deploy")], status_code=204, sync_to_thread=True)
def delete_endpoint(store: ProjectStore, name: FromPath[str]) -> None:
    store.endpoints.delete_endpoint(name)


@post("/{name:str}/rollouts", guards=[needs("deploy")], status_code=201, sync_to_thread=True)
def start_rollout(store: ProjectStore, name: FromPath[str], data: JSONBody[Start]) -> None:
    storable(data)
    _own(name, data.rollout)
    store.endpoints.start_rollout(data.rollout, _sound(data.policy, "policy"), data.event)


@post("/{name:str}/rollouts/{rollout_id:str}/transitions", guards=[needs("deploy")],
      status_code=204, sync_to_thread=True)
def transition(store: ProjectStore, name: FromPath[str], rollout_id: FromPath[str],
               data: JSONBody[Transition]) -> None:
    storable(data)
    _own(name, data.rollout, data.moved)
    if rollout_id != data.rollout.id or data.moved.id != rollout_id:
        raise InvalidInputError(f"the transition is not one of rollout {rollout_id!r}")
    policy = None if data.policy is None else _sound(data.policy, "policy")
    store.endpoints.transition(data.rollout, data.moved, policy, data.event)


@get("/{name:str}/rollouts/active", guards=[needs("read")], sync_to_thread=True)
def active_rollout(store: ProjectStore, name: FromPath[str]) -> Rollout | None:
    return store.endpoints.active_rollout(name)  # type: ignore[no-any-return]


@get("/{name:str}/rollouts/latest", guards=[needs("read")], sync_to_thread=True)
def latest_rollout(store: ProjectStore, name: FromPath[str]) -> Rollout | None:
    return store.endpoints.latest_rollout(name)  # type: ignore[no-any-return]


@get("/{name:str}/rollouts", guards=[needs("read")], sync_to_thread=True)
def rollout_history(store: ProjectStore, name: FromPath[str]) -> list[History]:
    return [History(r, events) for r, events in store.endpoints.rollout_history(name)]


@get("/active", guards=[needs("read")], sync_to_thread=True)
def active_rollouts(store: ProjectStore) -> list[Rollout]:
    return store.endpoints.active_rollouts()  # type: ignore[no-any-return]


router = Router("/api/v1/endpoints", route_handlers=[
    create_endpoint, list_endpoints, endpoint_revisions, get_endpoint, set_policy,
    delete_endpoint, start_rollout, transition, active_rollout, latest_rollout,
    rollout_history],
    tags=["endpoints"], before_request=storable_request)
rollouts = Router("/api/v1/rollouts", route_handlers=[active_rollouts],
    tags=["endpoints"], before_request=storable_request)
