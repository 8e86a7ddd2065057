"""The `source-sentry` command: the four Airbyte protocol verbs, plus `notify`.

`notify` is dispatched before anything of the CDK is imported, so that a CI step starts fast.
For the protocol verbs the source is built from the config, catalog and state given on the
command line (the CDK reads those given to its constructor, not the ones passed to read).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airbyte_cdk.models import AirbyteMessage

PROTOCOL_VERBS = {"spec", "check", "discover", "read"}


def _on_sigterm(signum: int, _frame: object) -> None:
    """Remove the CDK's temporary directory, then die of the signal as before.

    Runners stop a source with SIGTERM (PyAirbyte does once it has the catalog or the check's
    answer) and accept that exit. Python's default dies on the spot and leaves that directory
    behind, holding a copy of the config, token included. Unwinding instead would wait on the
    CDK's worker threads.
    """
    import shutil
    import signal

    from airbyte_cdk.utils.constants import ENV_REQUEST_CACHE_PATH

    temp_dir = os.environ.get(ENV_REQUEST_CACHE_PATH)
    if temp_dir:
        shutil.rmtree(temp_dir, ignore_errors=True)
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def run(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["webhooks"]:
        from source_sentry.webhooks.cli import main as webhooks_main

        sys.exit(webhooks_main(args[1:]))
    if args[:1] == ["notify"] or (not args and _environment_asks_for_notify()):
        from source_sentry.notify.cli import main as notify_main

        sys.exit(notify_main(args[1:]))
    if args == ["spec"]:
        print(json.dumps(spec_message(), separators=(",", ":")), flush=True)
        sys.exit(0)
    sys.exit(_run_protocol(args))


def spec_message() -> dict[str, Any]:
    """The CDK's SPEC message, built from the manifest alone: importing the CDK to print it takes
    seconds (its package imports nearly all of it), reading the manifest milliseconds."""
    from source_sentry.manifest import load_manifest

    spec = load_manifest()["spec"]
    return {
        "type": "SPEC",
        "spec": {
            "connectionSpecification": spec["connection_specification"],
            "documentationUrl": spec["documentation_url"],
            "supportsNormalization": False,
            "supportsDBT": False,
        },
    }


def _environment_asks_for_notify() -> bool:
    """The Docker image run with no arguments as a Drone/Woodpecker step notifies Sentry."""
    from source_sentry.notify.cli import env_requests_notify

    return env_requests_notify(os.environ)


def _run_protocol(args: list[str]) -> int:
    # Imported here, not at the top: `notify` needs none of these (logging alone costs a CI
    # step several milliseconds).
    import gc
    import logging
    import signal

    # Importing the CDK and building the source allocate about a million objects, nearly all kept
    # to the end; with the default thresholds the cyclic collector walked them hundreds of times, a
    # share of start-up's CPU worth saving (figures: docs/benchmarks.md, "Figures behind the code"),
    # to free a few thousand.
    # It stays off until the source is built (see _tune_garbage_collector).
    gc.disable()

    from source_sentry.packaged.door import connector

    # The packaged connector where the installed CDK was tested, else the plain manifest.
    chosen = connector()
    with chosen.cdk_import():
        from airbyte_cdk.entrypoint import AirbyteEntrypoint
        from airbyte_cdk.models import FailureType
        from airbyte_cdk.utils.traced_exception import AirbyteTracedException

        from source_sentry import cdk_logs
        from source_sentry.config import config_problem, read_json_file

        source_class = chosen.source_class()

    if not args or args[0] not in PROTOCOL_VERBS:
        _usage()
        return 2
    try:
        parsed = AirbyteEntrypoint.parse_args(args)
        config = read_json_file(parsed.config, "config") if getattr(parsed, "config", None) else None
        catalog = source_class.read_catalog(parsed.catalog) if getattr(parsed, "catalog", None) else None
        state = source_class.read_state(parsed.state) if getattr(parsed, "state", None) else None
    except AirbyteTracedException as error:
        _emit(error.as_airbyte_message())
        return 1
    except Exception as error:  # noqa: BLE001 - a bad file is the user's to fix: say so plainly
        _emit(
            AirbyteTracedException(
                message=f"Could not read the command's input files: {error}",
                internal_message=str(error),
                failure_type=FailureType.config_error,
            ).as_airbyte_message()
        )
        return 1
    problem = config_problem(config) if isinstance(config, dict) else None
    if problem:
        if args[0] == "check":
            _emit(_connection_failed(problem))
            return 0
        trace = AirbyteTracedException(message=problem, failure_type=FailureType.config_error)
        _emit(trace.as_airbyte_message())
        return 1
    cdk_logs.install()
    source = source_class(config=config, catalog=catalog, state=state)
    _tune_garbage_collector()
    signal.signal(signal.SIGTERM, _on_sigterm)
    with cdk_logs.skipped_projects_warning(logging.getLogger("airbyte")):
        chosen.launch(source, args)
    return 0


# Container objects allocated (net of those freed) before the cyclic collector runs; Python's
# default is 700.
GC_YOUNG_THRESHOLD = 100_000


def _tune_garbage_collector() -> None:
    """Keep Python's cyclic garbage collector from costing more than the sync's own work.

    A decoded events page is some 70,000 dicts and lists that live until their records are written.
    With the default threshold the collector ran over and over in a sync and each run walked every
    object alive, the CDK's modules and the parsed manifest included: a large share of the sync's
    CPU (figures: docs/benchmarks.md, "Figures behind the code"). Objects built before the sync (modules,
    the manifest, the source's components) are frozen out of the collector's walks, and it runs
    when 100,000 containers more than were freed have been allocated. Records are freed by
    reference counting as soon as they are written, as before; the collector still finds the
    few reference cycles, only less often."""
    import gc

    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)
    gc.enable()


def _emit(message: AirbyteMessage) -> None:
    from airbyte_cdk.models import AirbyteMessageSerializer

    print(json.dumps(AirbyteMessageSerializer.dump(message)), flush=True)


def _connection_failed(text: str) -> Any:
    from airbyte_cdk.models import AirbyteConnectionStatus, AirbyteMessage, Status, Type

    return AirbyteMessage(
        type=Type.CONNECTION_STATUS,
        connectionStatus=AirbyteConnectionStatus(status=Status.FAILED, message=text),
    )


def _usage() -> None:
    sys.stderr.write(
        "usage: source-sentry {spec | check --config FILE | discover --config FILE |\n"
        "                      read --config FILE --catalog FILE [--state FILE] |\n"
        "                      notify --release VERSION --env ENVIRONMENT [...]}\n"
        "       source-sentry notify --help   for the release/deploy notifier\n"
    )


if __name__ == "__main__":
    run()
