"""The connector contract: one executable definition of what a connector must do.

A connector author gets the whole suite with a few lines::

    from hub.testing import ConnectorContract
    from my_connector import MyConnector

    class TestMyConnector(ConnectorContract):
        connector = MyConnector
        create_samples = {"widgets": {"name": "Contract test widget"}}
        update_samples = {"widgets": {"name": "Renamed by the contract suite"}}

The suite runs against the connector's sandbox (``Connector.sandbox()``): its simulator
served on loopback, or a respx router answering in-process. Every check says what to
fix when it fails. A check that cannot apply to a connector is skipped with the reason
in ``skips`` (documented skip), never silently.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
import pytest
from pydantic import SecretStr

from hub.clock import Clock, FakeClock, SystemClock
from hub.connector import Connector, ConnectorContext, Event, MemoryKeyValueStore, Stream, parse_timestamp
from hub.errors import AuthenticationError, HubError, TransientError, WebhookRejected
from hub.http import RetryPolicy, secret_values
from hub.logging import configure_logging, is_secret_key
from hub.mapping import load_mapping
from hub.plugins import HubPlugins
from hub.sandbox import Sandbox, ServedApp
from hub.settings import load_connector_settings

__all__ = ["ConnectorContract", "ContractHarness"]

FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)
#: attempts of the suite's HTTP clients (fault checks queue exactly this many failures)
RETRY_ATTEMPTS = 4
Sample = dict[str, Any] | Callable[[Connector, Any], dict[str, Any]]


class ContractHarness:
    """A running sandbox and a factory of connectors pointed at it."""

    def __init__(self, cls: type[Connector], sandbox: Sandbox) -> None:
        self.cls = cls
        self.sandbox = sandbox
        self.control = sandbox.control
        self._served: ServedApp | None = None
        if sandbox.router is None:
            if sandbox.app is None:
                raise AssertionError(f"{cls.__name__}.sandbox() returned neither an app nor a respx router")
            self._served = ServedApp(sandbox.app).start()
            self.base_url = self._served.url
        else:
            self.base_url = "https://sandbox.contract.test"
        self.overrides = sandbox.settings(self.base_url)
        # one state store for every connector of the harness, as a hub has (a rotated
        # refresh token saved by one connector is the one the next must use)
        self.state = MemoryKeyValueStore()

    def transport(self) -> httpx.BaseTransport | None:
        if self.sandbox.router is None:
            return None
        return httpx.MockTransport(self.sandbox.router.handler)

    def settings(self, **changes: Any) -> Any:
        return load_connector_settings(self.cls.settings_model, self.cls.name, **{**self.overrides, **changes})

    def connector(self, clock: Clock | None = None, *, own_state: bool = False, **changes: Any) -> Connector:
        """A connector on the sandbox; the fault checks pass a FakeClock so that no wait is real.

        ``own_state`` gives it a state store of its own (other credentials must not touch
        the tokens the sandbox's connectors keep).
        """
        context = ConnectorContext(
            state=MemoryKeyValueStore() if own_state else self.state,
            clock=clock or SystemClock(),
            transport=self.transport(),
            retry=RetryPolicy(attempts=RETRY_ATTEMPTS, base=0.5, cap=4.0, jitter=0.0),
        )
        return self.cls(self.settings(**changes), context)

    def secrets(self) -> list[str]:
        """Secret values to look for: every SecretStr, and any field whose name says secret."""
        settings = self.settings()
        found = secret_values(settings)
        found += [
            value
            for name in type(settings).model_fields
            if is_secret_key(name) and isinstance(value := getattr(settings, name), str)
        ]
        return [s for s in found if len(s) >= 4]

    def close(self) -> None:
        if self._served is not None:
            self._served.stop()


def _read_all(stream: Stream, since: datetime | None = None) -> list[list[dict[str, Any]]]:
    pages = []
    for page in stream.read(since=since):
        pages.append(page.records)
        if len(pages) > 10_000:
            raise AssertionError(f"stream {stream.name!r}: more than 10,000 pages; is the paginator looping?")
    return pages


def _ids(stream: Stream, records: list[dict[str, Any]]) -> list[str]:
    return [stream.record_id(r) for r in records]


def _leaves(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts flattened to dotted paths (JSON:API ``attributes``, labels): lists stay whole."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_leaves(value, path + "."))
        else:
            out[path] = value
    return out


def _same(read: Any, sent: Any) -> bool:
    """Equal, allowing a vendor to echo a timestamp in another ISO 8601 spelling."""
    if read == sent:
        return True
    if isinstance(read, str) and isinstance(sent, str):
        try:
            return parse_timestamp(read) == parse_timestamp(sent)
        except ValueError:
            return False
    return False


def _digest(record: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()


class ConnectorContract:
    """Subclass as ``TestSomething(ConnectorContract)`` and set :attr:`connector`."""

    #: the connector class under test
    connector: ClassVar[type[Connector]]
    #: options passed to ``connector.sandbox()``
    sandbox_options: ClassVar[dict[str, Any]] = {}
    #: settings on top of the sandbox's (e.g. a small page size, so reads span pages)
    settings_overrides: ClassVar[dict[str, Any]] = {}
    #: vendor payloads to create, per writable entity (or callables ``(connector, control) -> payload``)
    create_samples: ClassVar[dict[str, Sample]] = {}
    #: vendor changes to apply to a created record, per writable entity
    update_samples: ClassVar[dict[str, Sample]] = {}
    #: vendor fields that legitimately change on every write (timestamps, sync tokens)
    volatile_fields: ClassVar[set[str]] = set()
    #: check name -> reason, for checks that cannot apply to this connector (documented skip)
    skips: ClassVar[dict[str, str]] = {}
    #: writable entity -> reason, for entities whose records cannot be updated in place
    #: (e.g. the value is the record's identity); reported as a warning
    update_skips: ClassVar[dict[str, str]] = {}
    #: a stream to use for the fault checks (default: the first stream)
    fault_stream: ClassVar[str | None] = None

    # -- fixtures ---------------------------------------------------------------------

    @pytest.fixture(scope="class")
    @classmethod
    def harness(cls) -> Iterator[ContractHarness]:
        sandbox = cls.connector.sandbox(**cls.sandbox_options)
        if sandbox is None:
            pytest.fail(
                f"{cls.connector.__name__}.sandbox() returned None: a connector under the contract suite "
                "must provide a simulator or a respx router (see docs/connector-guide.md)"
            )
        harness = ContractHarness(cls.connector, sandbox)
        harness.overrides.update(cls.settings_overrides)
        yield harness
        harness.close()
        router = sandbox.router
        if router is not None:
            dead = [repr(route.pattern) for route in router.routes if not route.called]
            assert not dead, "mocked routes never called (dead fixtures; remove or use them): " + ", ".join(dead)

    @pytest.fixture(autouse=True)
    def _skip_documented(self, request: pytest.FixtureRequest) -> None:
        name = request.node.originalname or request.node.name
        reason = self.skips.get(name)
        if reason:
            pytest.skip(f"documented skip: {reason}")

    @pytest.fixture(autouse=True)
    def _secret_guard(self, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture) -> Iterator[None]:
        """Every check runs with DEBUG logs captured; no secret value may appear in them."""
        if "harness" not in request.fixturenames:
            yield
            return
        harness: ContractHarness = request.getfixturevalue("harness")
        buffer = io.StringIO()
        configure_logging(json=True, level="DEBUG", stream=buffer)
        caplog.set_level(logging.DEBUG)
        yield
        configure_logging(json=False, level="WARNING")
        text = buffer.getvalue() + caplog.text
        for secret in harness.secrets():
            assert secret not in text, (
                "a secret setting's value appeared in the logs; log only redacted URLs and never log "
                "headers or settings (use HttpClient, which redacts)"
            )

    # -- helpers ----------------------------------------------------------------------

    def _streams(self, harness: ContractHarness) -> list[Stream]:
        streams = harness.connector().streams()
        assert streams, f"{self.connector.__name__} declares no streams (stream_classes is empty)"
        return streams

    def _control(self, harness: ContractHarness, method: str) -> Callable[..., Any]:
        fn = getattr(harness.control, method, None)
        if fn is None:
            pytest.fail(f"the sandbox control of {self.connector.name} has no {method}() (see SimulatorControl)")
        return fn  # type: ignore[no-any-return]

    def _sample(self, samples: dict[str, Sample], entity: str, harness: ContractHarness, c: Connector) -> Any:
        sample = samples.get(entity)
        if sample is None:
            return None
        return sample(c, harness.control) if callable(sample) else dict(sample)

    def _assert_clean(self, harness: ContractHarness, exc: BaseException) -> None:
        for secret in harness.secrets():
            assert secret not in str(exc), (
                f"a secret value appears in {type(exc).__name__}: never put secrets in errors"
            )

    # -- settings and check -----------------------------------------------------------

    def test_settings_mark_every_secret(self, harness: ContractHarness) -> None:
        model = self.connector.settings_model
        plain = [
            name
            for name, field in model.model_fields.items()
            if is_secret_key(name)
            and field.annotation is not None
            and "SecretStr" not in str(field.annotation)
        ]
        assert not plain, f"settings {plain} look secret but are not SecretStr: declare them as pydantic.SecretStr"
        harness.settings()

    def test_every_setting_is_described(self, harness: ContractHarness) -> None:
        undocumented = [
            name for name, field in self.connector.settings_model.model_fields.items() if not field.description
        ]
        assert not undocumented, (
            f"settings {undocumented} have no description: use Field(description=...) so `hub config reference` "
            "and the README can list them"
        )

    def test_check_succeeds_with_good_credentials(self, harness: ContractHarness) -> None:
        result = harness.connector().check()
        assert result.ok, f"check() returned not ok with the sandbox's credentials: {result.details}"
        for secret in harness.secrets():
            assert secret not in json.dumps(result.details), "check() details must never show secret values"

    def test_check_fails_clearly_with_bad_credentials(self, harness: ContractHarness) -> None:
        wrong: dict[str, Any] = {
            name: SecretStr(f"wrong-{name}-value")
            for name in harness.cls.settings_model.model_fields
            if isinstance(getattr(harness.settings(), name), SecretStr)
        }
        if not wrong:
            pytest.skip("the connector has no secret settings to get wrong")
        with pytest.raises(AuthenticationError) as info:
            harness.connector(own_state=True, **wrong).check()
        self._assert_clean(harness, info.value)
        assert "HUB_" in str(info.value), (
            "an authentication error should name the settings to check (set Connector.auth_settings)"
        )

    # -- streams ----------------------------------------------------------------------

    def test_records_map_to_valid_core_records(self, harness: ContractHarness) -> None:
        c = harness.connector()
        mapping = load_mapping(c.name, HubPlugins().mapping_dirs())
        for stream in self._streams(harness):
            entity = mapping.entity(stream.mapping_entity)
            assert entity.kind == stream.kind, (
                f"stream {stream.name!r} yields kind {stream.kind!r} but mappings/{c.name}.yaml maps "
                f"{stream.mapping_entity!r} to {entity.kind!r}"
            )
            pages = _read_all(stream)
            records = [r for page in pages for r in page][:200]
            assert records, f"stream {stream.name!r} returned no records from a seeded sandbox"
            for raw in records:
                core = entity.to_core(raw, c)
                assert core.ref_id(c.name) == stream.record_id(raw), (
                    f"stream {stream.name!r}: the mapping's id_field does not give the record id"
                )

    def test_pagination_runs_to_the_end(self, harness: ContractHarness) -> None:
        count = self._control(harness, "count")
        for stream in self._streams(harness):
            pages = _read_all(stream)
            ids = _ids(stream, [r for page in pages for r in page])
            assert len(ids) == len(set(ids)), f"stream {stream.name!r}: a full read returned duplicate ids"
            expected = count(stream.name)
            assert len(ids) == expected, (
                f"stream {stream.name!r}: a full read returned {len(ids)} records in {len(pages)} pages but the "
                f"sandbox holds {expected}; pagination stops early or skips pages (check paginator()/next_token())"
            )

    def test_two_sequential_incremental_reads(self, harness: ContractHarness) -> None:
        touch = self._control(harness, "touch")
        incremental = [s for s in self._streams(harness) if s.cursor_field]
        if not incremental:
            pytest.skip("no stream has a cursor field")
        for stream in incremental:
            first = [r for page in _read_all(stream) for r in page]
            cursors = [stream.cursor_value(r) for r in first]
            assert all(cursors), f"stream {stream.name!r}: records without a {stream.cursor_field!r} value"
            high = max(c for c in cursors if c)
            touched = str(touch(stream.name))
            second = [r for page in _read_all(stream, since=high) for r in page]
            ids = _ids(stream, second)
            assert touched in ids, (
                f"stream {stream.name!r}: a record changed after the first read ({touched}) was not returned "
                f"by read(since=...); the cursor filter must be 'changed at or after since'"
            )
            stale = [stream.record_id(r) for r in second if (stream.cursor_value(r) or FAR_FUTURE) < high]
            assert not stale, f"stream {stream.name!r}: read(since) returned records changed before since: {stale[:5]}"
            assert len(second) < len(first) or len(first) <= 1, (
                f"stream {stream.name!r}: the incremental read returned everything; is `since` ignored?"
            )

    def test_resume_from_every_checkpoint(self, harness: ContractHarness) -> None:
        for stream in self._streams(harness):
            pages = list(stream.read())
            all_ids = [stream.record_id(r) for p in pages for r in p.records]
            for i, page in enumerate(pages[:-1]):
                assert page.resume is not None, (
                    f"stream {stream.name!r}: page {i + 1} of {len(pages)} has no resume token; "
                    "every page but the last must say how to continue after it"
                )
                resumed = [stream.record_id(r) for p in stream.read(resume=page.resume) for r in p.records]
                done = [stream.record_id(r) for p in pages[: i + 1] for r in p.records]
                assert done + resumed == all_ids, (
                    f"stream {stream.name!r}: resuming after page {i + 1} did not give the remaining records "
                    f"exactly once ({len(resumed)} read, {len(all_ids) - len(done)} expected)"
                )
            assert pages[-1].resume is None, f"stream {stream.name!r}: the last page must have resume=None"

    def test_far_future_cursor_returns_nothing(self, harness: ContractHarness) -> None:
        incremental = [s for s in self._streams(harness) if s.cursor_field]
        if not incremental:
            pytest.skip("no stream has a cursor field")
        for stream in incremental:
            records = [r for page in _read_all(stream, since=FAR_FUTURE) for r in page]
            assert records == [], f"stream {stream.name!r}: read(since=2100-01-01) returned {len(records)} records"

    def test_full_refresh_twice_gives_the_same_records(self, harness: ContractHarness) -> None:
        for stream in self._streams(harness):
            one = {stream.record_id(r): _digest(r) for p in _read_all(stream) for r in p}
            two = {stream.record_id(r): _digest(r) for p in _read_all(stream) for r in p}
            assert one == two, f"stream {stream.name!r}: two full reads without changes differ"

    # -- writes -----------------------------------------------------------------------

    def test_create_then_read_back(self, harness: ContractHarness) -> None:
        c = harness.connector()
        if not c.writable:
            pytest.skip("the connector writes nothing")
        missing = [e for e in c.writable if e not in self.create_samples]
        assert not missing, f"no create_samples for writable entities {missing}: add a payload for each"
        for entity in c.writable:
            payload = self._sample(self.create_samples, entity, harness, c)
            result = c.create(entity, payload)
            assert result.id, f"create({entity!r}) returned no id"
            back = _leaves(c.get(entity, result.id))
            wrong = {
                k: (v, back.get(k))
                for k, v in _leaves(payload).items()
                if not isinstance(v, list) and k in back and not _same(back.get(k), v)
            }
            assert not wrong, f"{entity}: created record reads back different values (sent, read): {wrong}"

    def test_update_changes_only_the_given_fields(self, harness: ContractHarness) -> None:
        c = harness.connector()
        if not c.writable:
            pytest.skip("the connector writes nothing")
        for entity in c.writable:
            if entity in self.update_skips:
                warnings.warn(f"{entity}: update check skipped: {self.update_skips[entity]}", stacklevel=1)
                continue
            changes = self._sample(self.update_samples, entity, harness, c)
            assert changes, f"no update_samples for writable entity {entity!r}: add the changes to apply"
            created = c.create(entity, self._sample(self.create_samples, entity, harness, c))
            before = _leaves(c.get(entity, created.id))
            c.update(entity, created.id, changes)
            after = _leaves(c.get(entity, created.id))
            changes = _leaves(changes)
            for key, value in changes.items():
                if not isinstance(value, list):
                    read = after.get(key)
                    assert _same(read, value), (
                        f"{entity}: {key!r} reads back {read!r} after the update, expected {value!r}"
                    )
            untouched = {
                k
                for k in before
                if k not in changes
                and k not in self.volatile_fields
                and k.rsplit(".", 1)[-1] not in self.volatile_fields
                and before.get(k) != after.get(k)
            }
            assert not untouched, (
                f"{entity}: update changed fields it was not given: {sorted(untouched)} "
                "(send only the given fields; list server-maintained fields in volatile_fields)"
            )

    # -- faults -----------------------------------------------------------------------

    def _fault_stream(self, c: Connector) -> Stream:
        return c.stream(self.fault_stream) if self.fault_stream else c.streams()[0]

    def test_429_with_retry_after_is_waited_out(self, harness: ContractHarness) -> None:
        clock = FakeClock(datetime.now(UTC))
        c = harness.connector(clock=clock)
        stream = self._fault_stream(c)
        self._control(harness, "fail_next")(429, count=1, retry_after=3)
        page = next(iter(stream.read()))
        assert page is not None
        assert any(abs(s - 3.0) < 0.01 for s in clock.sleeps), (
            f"a 429 with Retry-After: 3 was not waited out for 3 s (slept {clock.sleeps}); let HttpClient retry"
        )

    def test_5xx_is_retried_then_surfaced_as_a_typed_error(self, harness: ContractHarness) -> None:
        c = harness.connector(clock=FakeClock(datetime.now(UTC)))
        stream = self._fault_stream(c)
        fail_next = self._control(harness, "fail_next")
        fail_next(503, count=1)
        assert next(iter(stream.read())) is not None
        fail_next(503, count=RETRY_ATTEMPTS)  # exactly as many as the client tries
        with pytest.raises(TransientError) as info:
            next(iter(stream.read()))
        self._assert_clean(harness, info.value)

    def test_401_is_an_authentication_error(self, harness: ContractHarness) -> None:
        c = harness.connector()
        stream = self._fault_stream(c)
        self._control(harness, "fail_next")(401, count=1)
        with pytest.raises(AuthenticationError) as info:
            next(iter(stream.read()))
        self._assert_clean(harness, info.value)

    # -- webhooks ---------------------------------------------------------------------

    def test_webhook_verification(self, harness: ContractHarness) -> None:
        if not self.connector.has_webhooks:
            pytest.skip("the connector receives no webhooks")
        c = harness.connector()
        headers, body = self._control(harness, "sample_webhook")()
        c.verify_webhook(headers, body)
        events = c.parse_webhook(headers, body)
        assert events and all(isinstance(e, Event) for e in events), "a valid webhook must parse into events"

        forged = bytearray(body)
        forged[len(forged) // 2] ^= 0x01
        with pytest.raises(WebhookRejected, match=r".+"):
            c.verify_webhook(headers, bytes(forged))
        with pytest.raises(WebhookRejected):
            c.verify_webhook(headers, body[: max(1, len(body) // 2)])
        unsigned = {k: v for k, v in headers.items() if "sign" not in k.lower() and "hook" not in k.lower()}
        with pytest.raises(WebhookRejected):
            c.verify_webhook(unsigned, body)

        # A replay carries the same event ids, which the hub's event store deduplicates.
        again = c.parse_webhook(headers, body)
        assert [e.id for e in again] == [e.id for e in events], (
            "parsing the same payload twice must give the same event ids (the vendor's id or a hash of the body), "
            "or replays cannot be rejected"
        )
        seen: set[tuple[str, str]] = set()
        for event in events:
            seen.add((event.connector, event.id))
        replayed = [e for e in again if (e.connector, e.id) not in seen]
        assert replayed == [], "a replayed payload produced new events"

    def test_errors_are_typed(self, harness: ContractHarness) -> None:
        c = harness.connector()
        self._control(harness, "fail_next")(400, count=1)
        with pytest.raises(HubError) as info:
            next(iter(self._fault_stream(c).read()))
        assert str(info.value), "errors must carry a message for the user"
        self._assert_clean(harness, info.value)

