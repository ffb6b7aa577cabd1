"""Control-plane operations on namespaces (docs/namespaces.md): create, list, drop, snapshot,
restore. They exist on the server's own control plane only, not under a namespace's prefix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wxpay_local.store.namespaced import Unavailable
from wxpay_local.web.control_base import Call, ControlError, Op, Param, integer, not_found, text
from wxpay_local.web.namespaces import LABEL, NAME, Namespaces

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp

_NAME = text(32, 1, NAME.pattern)
NAME_PATH = Param("name", _NAME, "path", description="the namespace")
LABEL_PATH = Param("label", text(32, 1, LABEL.pattern), "path", description="the snapshot")

_VIEW = {
    "type": "object",
    "properties": {"name": _NAME, "base_url": {"type": "string"}},
    "required": ["name", "base_url"],
}


def _registry(app: AsgiApp) -> Namespaces:
    if app.namespaces is None:
        raise not_found("namespaces are made on the server's own control plane, not in one")
    return app.namespaces


def _view(registry: Namespaces, name: str) -> dict[str, Any]:
    return {"name": name, "base_url": registry.base_url(name)}


async def create_namespace(app: AsgiApp, call: Call) -> Any:
    registry = _registry(app)
    name = call.body["name"]
    try:
        made = await registry.create(name, call.body.get("seed"))
    except Unavailable as exc:
        raise ControlError(409, "NO_NAMESPACES", str(exc)) from None
    if made is None:
        raise ControlError(409, "NAMESPACE_EXISTS", f"there is a namespace {name!r} already")
    return _view(registry, name)


async def list_namespaces(app: AsgiApp, call: Call) -> Any:
    registry = _registry(app)
    names = await app.store.run(registry.names, write=False)
    return {"namespaces": [_view(registry, name) for name in names]}


async def drop(app: AsgiApp, call: Call) -> Any:
    name = call.text("name")
    try:
        dropped = await _registry(app).drop(name)
    except Unavailable:
        dropped = False
    if not dropped:
        raise not_found(f"no namespace {name!r}")
    return {"dropped": name}


async def snapshot(app: AsgiApp, call: Call) -> Any:
    name, label = call.text("name"), call.text("label")
    if not await _registry(app).snapshot(name, label):
        raise not_found(f"no namespace {name!r}")
    return {"namespace": name, "snapshot": label}


async def restore(app: AsgiApp, call: Call) -> Any:
    name, label = call.text("name"), call.text("label")
    try:
        found = await _registry(app).restore(name, label)
    except LookupError:
        raise not_found(f"namespace {name!r} has no snapshot {label!r}") from None
    if not found:
        raise not_found(f"no namespace {name!r}")
    return {"namespace": name, "restored": label}


_SNAP = {
    "type": "object",
    "properties": {"namespace": _NAME, "snapshot": {"type": "string"}},
    "required": ["namespace", "snapshot"],
}

NAMESPACE_OPS: tuple[Op, ...] = (
    Op(
        "POST",
        "/_local/namespaces",
        "Create a namespace: an isolated platform (data, clock, notifications, journal) under "
        "base_url (seed: repeatable ids)",
        create_namespace,
        {"name": _NAME, "seed": integer()},
        ("name",),
        response=_VIEW,
        errors=(404, 409),
    ),
    Op(
        "GET",
        "/_local/namespaces",
        "The namespaces of this server",
        list_namespaces,
        response={
            "type": "object",
            "properties": {"namespaces": {"type": "array", "items": _VIEW}},
            "required": ["namespaces"],
        },
        errors=(404,),
    ),
    Op(
        "DELETE",
        "/_local/namespaces/{name}",
        "Drop a namespace and its snapshots",
        drop,
        params=(NAME_PATH,),
        response={
            "type": "object",
            "properties": {"dropped": {"type": "string"}},
            "required": ["dropped"],
        },
    ),
    Op(
        "POST",
        "/_local/namespaces/{name}/snapshots/{label}",
        "Save the namespace's whole state (its clock too) as the snapshot label (replacing it)",
        snapshot,
        params=(NAME_PATH, LABEL_PATH),
        response=_SNAP,
    ),
    Op(
        "POST",
        "/_local/namespaces/{name}/snapshots/{label}/restore",
        "Put the namespace back to the snapshot label (its clock too)",
        restore,
        params=(NAME_PATH, LABEL_PATH),
        response={
            "type": "object",
            "properties": {"namespace": _NAME, "restored": {"type": "string"}},
            "required": ["namespace", "restored"],
        },
    ),
)
