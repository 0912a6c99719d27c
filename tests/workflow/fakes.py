"""Fake connectors for the workflow tests: a PSA and an e-signature vendor.

Their "vendor" is a JSON file (:class:`World`), so a side effect made by a process that
is then killed is still visible to the test that resumes the run, and every side
effect is counted. ``World.crash`` makes the next matching operation raise
:class:`Crash` (or kill the process) just before or just after its side effect.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from hub.sdk import (
    CheckResult,
    Connector,
    ConnectorSettings,
    NotFoundError,
    Page,
    Stream,
    WriteResult,
    action,
    hookimpl,
    parse_timestamp,
)


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so nothing in the hub catches it."""


class World:
    """The fake vendors' data, in a JSON file shared across processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.exists():
            self.save(
                {"companies": {}, "tickets": {}, "envelopes": {}, "counts": {}, "next_id": 100, "crash": None}
            )

    def load(self) -> dict[str, Any]:
        return json.loads(self.path.read_text())

    def save(self, data: dict[str, Any]) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(self.path)

    def crash(self, op: str, when: str = "after", how: str = "raise") -> None:
        data = self.load()
        data["crash"] = {"op": op, "when": when, "how": how}
        self.save(data)

    def maybe_crash(self, op: str, when: str) -> None:
        data = self.load()
        plan = data.get("crash")
        if plan and plan["op"] == op and plan["when"] == when:
            data["crash"] = None
            self.save(data)
            if plan["how"] == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise Crash(f"crash {when} {op}")

    def count(self, op: str) -> int:
        return int(self.load()["counts"].get(op, 0))

    def table(self, name: str) -> dict[str, dict[str, Any]]:
        return self.load()[name]

    def side_effect(
        self,
        op: str,
        table: str,
        record: dict[str, Any] | None,
        record_id: str | None = None,
        prefix: str = "",
    ) -> str:
        """Apply one vendor change and count it, with the crash points around it."""
        self.maybe_crash(op, "before")
        data = self.load()
        if record_id is None:
            data["next_id"] += 1
            record_id = f"{prefix}{data['next_id']}"
        if record is None:
            data[table].pop(record_id, None)
        else:
            data[table][record_id] = {**data[table].get(record_id, {}), **record, "id": record_id}
            if table == "envelopes":
                data[table][record_id]["envelopeId"] = record_id
        data["counts"][op] = data["counts"].get(op, 0) + 1
        self.save(data)
        self.maybe_crash(op, "after")
        return record_id


class _FakeStream(Stream):
    table: ClassVar[str]
    cursor_field = "lastModified"

    def read(self, since: datetime | None = None, resume: dict[str, Any] | None = None) -> Iterator[Page]:
        world: World = self.connector.world  # type: ignore[attr-defined]
        records = [
            r
            for r in world.table(self.table).values()
            if since is None or (parse_timestamp(r.get("lastModified")) or since) >= since
        ]
        yield Page(records, None)


class CompaniesStream(_FakeStream):
    name = "companies"
    kind = "organization"
    entity = "Companies"
    table = "companies"


class EnvelopesStream(_FakeStream):
    name = "envelopes"
    kind = "signature_request"
    table = "envelopes"


class FakePsa(Connector):
    """An Autotask-like PSA: companies (with a stream) and tickets (without one)."""

    name = "fakepsa"
    writable: ClassVar[dict[str, str]] = {"Companies": "organization", "Tickets": "ticket"}
    stream_classes: ClassVar[list[type[Stream]]] = [CompaniesStream]
    settings_model = ConnectorSettings
    world: ClassVar[World]
    PICKLIST: ClassVar[dict[str, int]] = {"Customer": 1, "Prospect": 3}

    def check(self) -> CheckResult:
        return CheckResult(True)

    def _table(self, entity: str) -> str:
        return {"Companies": "companies", "Tickets": "tickets"}[entity]

    def create(self, entity: str, payload: dict[str, Any], *, key: str | None = None) -> WriteResult:
        stamp = {"lastModified": self.context.clock.now().isoformat()}
        record_id = self.world.side_effect(f"create:{entity}", self._table(entity), {**payload, **stamp})
        return WriteResult(record_id, self.world.table(self._table(entity))[record_id])

    def update(self, entity: str, id: str, changes: dict[str, Any], *, key: str | None = None) -> WriteResult:
        if id not in self.world.table(self._table(entity)):
            raise NotFoundError(f"no {entity} {id}", connector=self.name, status=404)
        stamp = {"lastModified": self.context.clock.now().isoformat()}
        self.world.side_effect(f"update:{entity}", self._table(entity), {**changes, **stamp}, id)
        return WriteResult(id, self.world.table(self._table(entity))[id])

    def deactivate(self, entity: str, id: str, *, key: str | None = None) -> WriteResult:
        return self.update(entity, id, {"isActive": False})

    def get(self, entity: str, id: str) -> dict[str, Any]:
        try:
            return self.world.table(self._table(entity))[id]
        except KeyError:
            raise NotFoundError(f"no {entity} {id}", connector=self.name, status=404) from None

    def picklist_value(self, entity: str, field: str, label: str | None) -> Any:
        if field == "companyType" and label is not None:
            return self.PICKLIST[label]
        return label


class SendTerms(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str
    name: str


class Download(BaseModel):
    model_config = ConfigDict(extra="forbid")

    envelope_id: str
    folder: str


class FakeSign(Connector):
    """A DocuSign-like vendor: send terms (idempotent by key), envelopes stream, download."""

    name = "fakesign"
    has_webhooks = True
    stream_classes: ClassVar[list[type[Stream]]] = [EnvelopesStream]
    settings_model = ConnectorSettings
    world: ClassVar[World]

    def check(self) -> CheckResult:
        return CheckResult(True)

    @action("send_terms", params=SendTerms)
    def send_terms(self, params: SendTerms, ctx: Any) -> dict[str, Any]:
        """Send the terms; an envelope already sent under this idempotency key is returned instead."""
        for envelope in self.world.table("envelopes").values():
            if envelope.get("key") == ctx.idempotency_key:
                return {"envelope_id": envelope["id"], "status": envelope["status"]}
        stamp = self.context.clock.now().isoformat()
        record = {"key": ctx.idempotency_key, "email": params.email, "status": "sent", "lastModified": stamp}
        envelope_id = self.world.side_effect("send_terms", "envelopes", record, prefix="env-")
        return {"envelope_id": envelope_id, "status": "sent"}

    @action("download", params=Download)
    def download(self, params: Download, ctx: Any) -> dict[str, Any]:
        """Write the signed PDF into the client folder (overwriting is harmless on retry)."""
        folder = ctx.documents_root / params.folder
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"terms-{params.envelope_id}.pdf"
        if path.is_file():  # the earlier attempt's file: nothing to do again
            return {"path": str(path)}
        self.world.maybe_crash("download", "before")
        path.write_bytes(b"%PDF-1.4 signed")
        data = self.world.load()
        data["counts"]["download"] = data["counts"].get("download", 0) + 1
        self.world.save(data)
        self.world.maybe_crash("download", "after")
        return {"path": str(path)}

    def get(self, entity: str, id: str) -> dict[str, Any]:
        try:
            return self.world.table("envelopes")[id]
        except KeyError:
            raise NotFoundError(f"no envelope {id}", connector=self.name, status=404) from None

    def sign(self, envelope_id: str, status: str = "completed") -> None:
        """What the signer does in the vendor (for poll tests)."""
        data = self.world.load()
        data["envelopes"][envelope_id].update(
            status=status, lastModified=self.context.clock.now().isoformat()
        )
        self.world.save(data)


class FakePlugin:
    """Registers the fake connectors, and optionally a folder of shipped workflows."""

    def __init__(self, workflow_dirs: list[Path] | None = None) -> None:
        self.workflow_dirs = workflow_dirs or []

    @hookimpl
    def hub_register_connectors(self, registry: Any) -> None:
        registry.add(FakePsa)
        registry.add(FakeSign)

    @hookimpl
    def hub_workflow_dirs(self) -> list[Path]:
        return self.workflow_dirs


MAPPING = """\
connector: fakepsa
entities:
  Companies:
    kind: organization
    fields:
      name: {vendor: companyName}
      account_type: {vendor: companyType, picklist: true, values: {Prospect: prospect, Customer: customer}}
      classification: {vendor: classification}
      udfs.Help Desk: {vendor: "userDefinedFields[name=Help Desk].value"}
  Tickets:
    kind: ticket
    fields:
      title: {vendor: title}
      status: {vendor: status}
      organization: {vendor: companyID, ref: organization}
"""
