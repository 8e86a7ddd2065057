"""The command's protocol output: a record written by orjson must be byte for byte the CDK's line,
and everything printed or logged meanwhile must come out whole and in order."""

from __future__ import annotations

import datetime
import decimal
import io
import json
import math
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.models import (
    AirbyteLogMessage,
    AirbyteMessage,
    AirbyteRecordMessage,
    AirbyteRecordMessageFileReference,
    AirbyteStateMessage,
    AirbyteStateType,
    AirbyteStreamState,
    Level,
    StreamDescriptor,
    Type,
)

from source_sentry.packaged.output import ProtocolOutput, message_line

CDK = AirbyteEntrypoint.airbyte_message_to_string

EVENT = {
    "id": "8c1a2f3e4d5b6a7980f1e2d3c4b5a697",
    "eventID": "8c1a2f3e4d5b6a7980f1e2d3c4b5a697",
    "groupID": "5012",
    "projectID": "17",
    "dateCreated": "2026-11-04T16:56:02.984572Z",
    "dateReceived": "2026-11-04T16:56:03.509Z",
    "message": "ZeroDivisionError: division by zero — «naïve» 日本語 😀",
    "tags": [{"key": "environment", "value": "production"}, {"key": "level", "value": "error"}],
    "entries": [
        {
            "type": "exception",
            "data": {
                "values": [
                    {
                        "type": "ZeroDivisionError",
                        "stacktrace": {
                            "frames": [{"lineNo": 42, "colNo": None, "inApp": True, "vars": {"x": 0.1}}]
                        },
                    }
                ]
            },
        }
    ],
    "contexts": {"runtime": {"name": "CPython", "version": "3.11.9"}, "trace": {"sample_rate": 1e-05}},
    "user": None,
    "size": 3113,
    "_meta": {"entries": {}, "tags": {}},
    "line\u2028separator": 'quote " backslash \\ tab \t nul \x00',
}

ODD_VALUES = {
    "datetime": datetime.datetime(2026, 1, 2, 3, 4, 5, 6),
    "aware": datetime.datetime(2026, 1, 2, tzinfo=datetime.UTC),
    "date": datetime.date(2026, 1, 2),
    "uuid": uuid.UUID(int=5),
    "nan": math.nan,
    "infinity": -math.inf,
    "lowest int64": -(2**63),
    "tuple": (1, "two"),
    "bool": False,
    "empty": {},
    "null": None,
    "nested nulls": {"a": None, "b": [None, {"c": None}]},
    "lone surrogate": "\ud800",
}
# orjson refuses these; the CDK then writes them with the standard library's json (and a warning),
# or, a Decimal, fails the sync.
REFUSED_BY_ORJSON = {
    "beyond 64 bits": 2**70,
    "decimal": decimal.Decimal("1.5"),
    "int key": {1: "x"},
}


def record(data: dict, **fields: object) -> AirbyteMessage:
    values: dict = {"stream": "events", "data": data, "emitted_at": 1764700000123, **fields}
    return AirbyteMessage(type=Type.RECORD, record=AirbyteRecordMessage(**values))


def cdk_line(message: AirbyteMessage) -> bytes:
    return (CDK(message) + "\n").encode("utf-8", "surrogateescape")


@pytest.mark.parametrize(
    "message",
    [
        record(EVENT),
        record({}),
        record(EVENT, stream="événements"),
        *(record({name: value}) for name, value in ODD_VALUES.items()),
        *(record({name: value}) for name, value in REFUSED_BY_ORJSON.items()),
        record(EVENT, namespace="sentry"),
        record(
            EVENT,
            file_reference=AirbyteRecordMessageFileReference(
                staging_file_url="/tmp/f", source_file_relative_path="f", file_size_bytes=3
            ),
        ),
        AirbyteMessage(type=Type.LOG, log=AirbyteLogMessage(level=Level.INFO, message="read 1 page")),
        AirbyteMessage(
            type=Type.STATE,
            state=AirbyteStateMessage(
                type=AirbyteStateType.STREAM,
                stream=AirbyteStreamState(
                    stream_descriptor=StreamDescriptor(name="events"), stream_state={"a": 1}
                ),
            ),
        ),
    ],
    ids=lambda message: (
        str(message.type) if message.record is None else json.dumps(list(message.record.data)[:1])
    ),
)
def test_given_message_when_written_then_bytes_are_the_cdks_line(message: AirbyteMessage) -> None:
    assert outcome(message_line, message, CDK) == outcome(cdk_line, message)


def outcome(write: Callable[..., bytes], *args: Any) -> bytes | tuple[type, str]:
    """The line written, or the error raised (a Decimal neither the CDK nor json can write)."""
    try:
        return write(*args)
    except Exception as error:  # noqa: BLE001 - compared, not swallowed
        return type(error), str(error)


def test_given_plain_record_when_written_then_the_cdks_converter_is_not_asked() -> None:
    """The fast path is taken: a converter that fails shows it is not used for a plain record,
    and is used for one with a namespace."""

    def refuse(message: AirbyteMessage) -> str:
        raise AssertionError("the CDK's converter was asked")

    assert message_line(record(EVENT), refuse) == cdk_line(record(EVENT))
    with pytest.raises(AssertionError, match="converter was asked"):
        message_line(record(EVENT, namespace="sentry"), refuse)


def test_given_lines_and_text_from_threads_when_flushed_then_each_line_whole_and_in_each_threads_order() -> (
    None
):
    raw = io.BytesIO()
    out = ProtocolOutput(raw, interval=0.0)

    def writer(name: str) -> None:
        for i in range(500):
            if i % 2:
                out.put(f"{name} {i} {'x' * 300}\n".encode())
            else:
                out.write(f"{name} {i} {'y' * 300}\n")

    threads = [threading.Thread(target=writer, args=(f"t{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.flush()

    lines = raw.getvalue().decode().splitlines()
    assert len(lines) == 2000
    for n in range(4):
        mine = [line.split()[1] for line in lines if line.startswith(f"t{n} ")]
        assert mine == [str(i) for i in range(500)]
    assert all(line.split()[2] in ("x" * 300, "y" * 300) for line in lines)


def test_given_interval_not_passed_when_put_then_nothing_written_until_flushed() -> None:
    raw = io.BytesIO()
    out = ProtocolOutput(raw, interval=3600)
    out.put(b"one\n")
    out.write("two\n")
    assert raw.getvalue() == b""
    out.flush()
    assert raw.getvalue() == b"one\ntwo\n"


LAUNCH_SCRIPT = r"""
import logging, sys, threading
from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.models import AirbyteMessage, AirbyteRecordMessage, Type
from airbyte_cdk.sources import Source
from source_sentry.packaged.output import launch

original = AirbyteEntrypoint.__dict__["airbyte_message_to_string"]
log = logging.getLogger("airbyte")


class Fake(Source):
    def spec(self, logger):
        from airbyte_cdk.models import ConnectorSpecification
        return ConnectorSpecification(connectionSpecification={"type": "object", "properties": {}})

    def check(self, logger, config):
        raise NotImplementedError

    def discover(self, logger, config):
        raise NotImplementedError

    def read(self, logger, config, catalog, state):
        for i in range(3):
            log.info(f"before {i}")
            print(f"printed {i}")
            worker = threading.Thread(target=log.info, args=(f"from a thread {i}",))
            worker.start(); worker.join()
            data = AirbyteRecordMessage(stream="s", data={"i": i}, emitted_at=1)
            yield AirbyteMessage(type=Type.RECORD, record=data)
        if sys.argv[1] == "fail":
            raise RuntimeError("broken after three records")


try:
    launch(Fake(), ["read", "--config", sys.argv[2], "--catalog", sys.argv[3]])
finally:
    now = AirbyteEntrypoint.__dict__["airbyte_message_to_string"]
    sys.stderr.write("restored\n" if now is original else "NOT restored\n")
"""


@pytest.mark.parametrize("ending", ["ok", "fail"])
def test_given_read_that_logs_and_prints_when_launched_then_lines_in_order_and_cdk_restored(
    tmp_path: Path, ending: str
) -> None:
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "catalog.json").write_text(json.dumps({"streams": []}))
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            LAUNCH_SCRIPT,
            ending,
            str(tmp_path / "config.json"),
            str(tmp_path / "catalog.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parent.parent,
    )

    said = []
    for line in result.stdout.splitlines():
        if line.startswith("{"):
            message = json.loads(line)
            if message["type"] == "RECORD":
                said.append(f"record {message['record']['data']['i']}")
            elif message["type"] == "LOG":
                said.append(message["log"]["message"])
        else:
            said.append(line)
    expected = [
        part
        for i in range(3)
        for part in (f"before {i}", f"printed {i}", f"from a thread {i}", f"record {i}")
    ]
    assert [line for line in said if line in expected] == expected
    assert result.stderr.endswith("restored\n")
    assert "NOT restored" not in result.stderr
    if ending == "fail":
        assert result.returncode != 0
        traces = [json.loads(line) for line in result.stdout.splitlines() if '"type":"TRACE"' in line]
        assert any("broken after three records" in json.dumps(trace) for trace in traces)
    else:
        assert result.returncode == 0, result.stderr
