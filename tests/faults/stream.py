"""A steady stream of realistic submissions over HTTP, as a district's phones send them.

The submissions are the demo data set's (server/demo/dataset.py: every question of the shipped
forms, plausible answers), each sent under a fresh instanceID; poison ones are the same with
one answer spoilt. A ticker thread paces them; a few sender threads, each a phone with its own
connection, deliver them, retrying what the server asks to have sent again later.
"""

from __future__ import annotations

import queue
import re
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from server.demo.dataset import FormShape, generate
from server.demo.load import demo_districts
from server.models import Form, FormVersion
from tests.faults.collect import CollectClient, Delivery
from tests.faults.stack import PASSWORD, USERNAME, Stack

# The forms an enumerator fills in the field, at a sub-county or a facility.
FIELD_FORMS = ("dmip_school", "dmip_health_facility", "dmip_ovc_community")
INSTANCE_ID = re.compile(rb"<instanceID>[^<]*</instanceID>")


@dataclass(frozen=True)
class Template:
    form_id: str
    xml: bytes

    def with_id(self, instance_id: str) -> bytes:
        return INSTANCE_ID.sub(f"<instanceID>{instance_id}</instanceID>".encode(), self.xml)

    def spoilt(self, field: str, value: str) -> Template:
        """The same submission with one answer replaced (the question must be in it)."""
        pattern = re.compile(rf"<{field}>[^<]*</{field}>|<{field}/>".encode())
        xml, n = pattern.subn(f"<{field}>{value}</{field}>".encode(), self.xml)
        if n != 1:
            raise ValueError(f"{self.form_id} has no question {field}")
        return Template(self.form_id, xml)


def templates(stack: Stack, forms: Iterable[str] = FIELD_FORMS, seed: int = 7) -> list[Template]:
    """The demo data set's instances of `forms` for the stack's districts and cycle."""
    engine = create_engine(stack.postgres.url)
    try:
        with Session(engine) as session:
            rows = session.execute(
                select(Form.xml_form_id, FormVersion.version, FormVersion.schema).join(
                    FormVersion, FormVersion.id == Form.current_version_id
                )
            ).all()
            shapes = {f: FormShape(f, v, list(schema or [])) for f, v, schema in rows}
            districts = demo_districts(session, stack.districts)
        wanted = set(forms)
        return [
            Template(i.form_id, i.xml)
            for i in generate(districts, shapes, seed=seed, cycle=stack.cycle)
            if i.form_id in wanted
        ]
    finally:
        engine.dispose()


@dataclass
class _Job:
    template: Template
    kind: str
    files: dict[str, bytes] | None = None


class SubmissionStream:
    """Sends `rate` submissions a second until stopped; `deliveries` records every one."""

    def __init__(
        self, stack: Stack, pool: list[Template], rate: float = 12, phones: int = 4
    ) -> None:
        self.stack = stack
        self.pool = pool
        self.rate = rate
        self.phones = phones
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._ticking = threading.Event()
        self._threads: list[threading.Thread] = []
        self._give_up_at = float("inf")
        self._sent = 0

    # --- control ------------------------------------------------------------------------------

    def start(self) -> SubmissionStream:
        if self._threads:
            return self  # already running
        self._ticking.set()
        ticker = threading.Thread(target=self._tick, name="stream-ticker", daemon=True)
        self._threads = [ticker] + [
            threading.Thread(target=self._phone, name=f"phone-{n}", daemon=True)
            for n in range(self.phones)
        ]
        for thread in self._threads:
            thread.start()
        return self

    def send(self, template: Template, kind: str, files: dict[str, bytes] | None = None) -> None:
        """One more submission, in turn with the stream's own."""
        self._jobs.put(_Job(template, kind, files))

    def stop(self, drain_seconds: float = 120) -> None:
        """Stop making new submissions; let the phones finish (retry) what they hold, for at
        most `drain_seconds`."""
        self._ticking.clear()
        self._give_up_at = time.monotonic() + drain_seconds
        self._threads[0].join()
        for _ in range(self.phones):
            self._jobs.put(None)
        for thread in self._threads[1:]:
            thread.join(drain_seconds + 60)

    def __enter__(self) -> SubmissionStream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self._ticking.is_set():
            self.stop()

    # --- what happened ------------------------------------------------------------------------

    def accepted(self, kind: str | None = None) -> list[str]:
        with self._lock:
            return [
                d.instance_id
                for d in self.deliveries
                if d.accepted and (kind is None or d.kind == kind)
            ]

    def statuses(self) -> dict[int | str, int]:
        counts: dict[int | str, int] = {}
        with self._lock:
            for d in self.deliveries:
                for attempt in d.attempts:
                    counts[attempt.status] = counts.get(attempt.status, 0) + 1
        return counts

    def server_errors(self, allowed: frozenset[int] = frozenset({503})) -> dict[int, int]:
        """5xx answers other than `allowed` (503 with Retry-After is the outage's answer)."""
        return {
            s: n
            for s, n in self.statuses().items()
            if isinstance(s, int) and s >= 500 and s not in allowed
        }

    def unaccepted(self) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if not d.accepted]

    # --- threads ------------------------------------------------------------------------------

    def _tick(self) -> None:
        interval = 1.0 / self.rate
        next_at = time.monotonic()
        while self._ticking.is_set():
            template = self.pool[self._sent % len(self.pool)]
            self._sent += 1
            self._jobs.put(_Job(template, "good"))
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))

    def _phone(self) -> None:
        client = CollectClient(self.stack.web_port, USERNAME, PASSWORD)
        try:
            while (job := self._jobs.get()) is not None:
                instance_id = f"uuid:{uuid.uuid4()}"
                delivery = Delivery(instance_id, job.kind)
                with self._lock:
                    self.deliveries.append(delivery)
                client.deliver(
                    delivery,
                    job.template.with_id(instance_id),
                    job.files,
                    give_up_at=lambda: self._give_up_at,
                )
        finally:
            client.close()
