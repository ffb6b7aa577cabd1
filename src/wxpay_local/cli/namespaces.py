"""``namespace create | list | drop | snapshot | restore`` (docs/namespaces.md).

Every other command works inside a namespace as it is: give it the namespace's URL,
``--url http://127.0.0.1:8000/ns/<name>``.
"""

from __future__ import annotations

from typing import Any

import click

from wxpay_local.cli.remote import Remote, remote_command

NAME = click.argument("name")


@click.group(help="Isolated platforms on one server (each under <url>/ns/<name>).")
def namespace() -> None:
    pass


@namespace.command(help="Create a namespace and print its base URL.")
@remote_command
@NAME
@click.option("--seed", type=click.IntRange(min=0), help="Repeatable ids in it.")
def create(remote: Remote, name: str, seed: int | None) -> None:
    body: dict[str, Any] = {"name": name}
    if seed is not None:
        body["seed"] = seed
    made = remote.call("POST", "/_local/namespaces", body)
    if remote.out.as_json:
        remote.out.json(made)
    else:
        remote.out.line(made["base_url"])


@namespace.command("list", help="The namespaces of the server.")
@remote_command
def listing(remote: Remote) -> None:
    found = remote.call("GET", "/_local/namespaces")
    if remote.out.as_json:
        remote.out.json(found)
        return
    remote.out.table(
        ("name", "base url"),
        ((n["name"], n["base_url"]) for n in found["namespaces"]),
        empty="no namespaces",
    )


@namespace.command(help="Drop a namespace: its data and its snapshots.")
@remote_command
@NAME
def drop(remote: Remote, name: str) -> None:
    _done(remote, remote.call("DELETE", f"/_local/namespaces/{name}"), f"dropped {name}")


@namespace.command(help="Save the namespace's whole state (its clock too) as LABEL.")
@remote_command
@NAME
@click.argument("label")
def snapshot(remote: Remote, name: str, label: str) -> None:
    answer = remote.call("POST", f"/_local/namespaces/{name}/snapshots/{label}")
    _done(remote, answer, f"{name}: snapshot {label} saved")


@namespace.command(help="Put the namespace back to the snapshot LABEL.")
@remote_command
@NAME
@click.argument("label")
def restore(remote: Remote, name: str, label: str) -> None:
    answer = remote.call("POST", f"/_local/namespaces/{name}/snapshots/{label}/restore")
    _done(remote, answer, f"{name}: back to snapshot {label}")


def _done(remote: Remote, answer: dict[str, Any], text: str) -> None:
    if remote.out.as_json:
        remote.out.json(answer)
    else:
        remote.out.line(text)
