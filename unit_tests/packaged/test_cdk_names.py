"""Every private name of the CDK (and serpyco_rs) that the wing reads, calls, overrides or swaps
(and those cdk_logs.py relies on to reword the CDK's log, which every command of ours runs),
checked against the installed versions: a CDK that renamed one fails here, naming the patch that
relies on it, before any sync could run with the patch silently off or wrong."""

from __future__ import annotations

import dis
import importlib
import types
from collections.abc import Iterator

import pytest

# The wing's module (the patch) -> owner ("module" or "module:Class") -> the names it relies on.
# A class's name counts when the class or a base defines it, or a method of theirs assigns it
# (`self._name = ...`: an instance attribute).
PRIVATE_NAMES: dict[str, dict[str, tuple[str, ...]]] = {
    "source_sentry/packaged/source.py (PackagedSource)": {
        "airbyte_cdk.sources.declarative.yaml_declarative_source:YamlDeclarativeSource": (
            "_constructor",
            "_concurrent_source",
            "_declarative_component_schema",
            "_validate_source",
            "_read_and_parse_yaml_file",
            "_prepare_for_stream_build",
            "_streams_by_name",
            "_select_streams",
            "_source_config",
        ),
        "airbyte_cdk.sources.declarative.concurrent_declarative_source": (
            "get_declarative_component_schema",
        ),
    },
    "source_sentry/packaged/cursors.py (cursor and factory twins)": {
        "airbyte_cdk.sources.streams.concurrent.cursor:ConcurrentCursor": (
            "_split_per_slice_range",
            "_slice_range",
            "_slice_boundary_fields_wrapper",
            "_START_BOUNDARY",
            "_connector_state_converter",
            "_most_recent_cursor_value_per_partition",
            "_extract_cursor_value",
            "_log_for_record_without_cursor_value",
            "_is_ascending_order",
            "_lowest_cursor_value_to_sync",
            "_end_provider",
        ),
        "airbyte_cdk.sources.declarative.incremental:ConcurrentPerPartitionCursor": (
            "_to_partition_key",
            "_generate_slices_from_partition",
            "_throttle_state_message",
            "_last_emission_time",
            "_cursor_per_partition",
        ),
        "airbyte_cdk.sources.declarative.parsers.model_to_component_factory:ModelToComponentFactory": (
            "_init_mappings",
            "_api_budget",
            "create_concurrent_cursor_from_datetime_based_cursor",
            "create_concurrent_cursor_from_perpartition_cursor",
            "create_http_requester",
        ),
        "airbyte_cdk.sources.streams.concurrent.state_converters.datetime_stream_state_converter"
        ":CustomFormatConcurrentStreamStateConverter": ("_input_datetime_formats", "_datetime_format"),
    },
    "source_sentry/packaged/parts.py (PartPlanner)": {
        "airbyte_cdk.sources.streams.concurrent.cursor:ConcurrentCursor": (
            "_connector_state_converter",
            "_slice_boundary_fields_wrapper",
        ),
    },
    "source_sentry/packaged/requester.py (SliceRenderedRequester)": {
        "airbyte_cdk.sources.declarative.requesters.http_requester:HttpRequester": (
            "_get_url",
            "_url",
            "_url_base",
            "_path",
            "_request_options_provider",
        ),
        "airbyte_cdk.sources.declarative.interpolation.jinja": ("_ENVIRONMENT",),
    },
    "source_sentry/packaged/probes.py (the planner's probes, a 400 handed back)": {
        "airbyte_cdk.sources.declarative.requesters.http_requester:HttpRequester": ("_http_client",),
        "airbyte_cdk.sources.streams.http.http_client:HttpClient": ("_error_handler",),
    },
    "source_sentry/packaged/components.py (UnreadableBodyFilter)": {
        "airbyte_cdk.sources.declarative.requesters.error_handlers:HttpResponseFilter": (
            "_safe_response_json",
            "_response_matches_predicate",
        ),
    },
    "source_sentry/packaged/output.py (records straight to bytes)": {
        "airbyte_cdk.entrypoint:AirbyteEntrypoint": ("airbyte_message_to_string",),
        "airbyte_cdk.logger": ("PRINT_BUFFER",),
    },
    "source_sentry/packaged/quick_import.py (schemas on demand)": {
        "serpyco_rs._main": ("get_json_schema", "Serializer"),
        "serpyco_rs._main:Serializer": ("_schema", "get_json_schema"),
    },
    "source_sentry/cdk_logs.py (rate-limit wording: the swapped module loggers)": {
        # install_rate_limit_wording replaces each module's global `logger`, which the functions
        # below look up when they log the lines the module's regexes reword.
        "airbyte_cdk.sources.streams.call_rate": ("logger",),
        "airbyte_cdk.sources.streams.call_rate:APIBudget": ("_do_acquire",),
        "airbyte_cdk.sources.streams.http.rate_limiting": (
            "logger",
            "user_defined_backoff_handler",
            "http_client_default_backoff_handler",
            "rate_limit_default_backoff_handler",
        ),
    },
    "source_sentry/cdk_logs.py (log lines told apart by the CDK logger that logs them)": {
        # CARTESIAN_LOGGER: the parent-state notice, logged through this class's `logger`.
        "airbyte_cdk.sources.declarative.partition_routers.cartesian_product_stream_slicer": (
            "check_for_substream_in_slicers",
        ),
        "airbyte_cdk.sources.declarative.partition_routers.cartesian_product_stream_slicer"
        ":CartesianProductStreamSlicer": ("logger",),
        # REQUESTER_LOGGER: a skipped request, logged through the requester's per-stream `logger`.
        "airbyte_cdk.sources.declarative.requesters.http_requester:HttpRequester": ("logger",),
    },
}


def _assigned_names(code: types.CodeType) -> Iterator[str]:
    for instruction in dis.get_instructions(code):
        if instruction.opname == "STORE_ATTR":
            yield instruction.argval
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            yield from _assigned_names(constant)


def _class_knows(cls: type, name: str) -> bool:
    if hasattr(cls, name):
        return True
    for klass in cls.__mro__:
        for member in vars(klass).values():
            function = getattr(member, "__func__", member)
            code = getattr(function, "__code__", None)
            if code is not None and name in set(_assigned_names(code)):
                return True
    return False


def missing_names() -> list[str]:
    missing = []
    for patch, owners in PRIVATE_NAMES.items():
        for owner, names in owners.items():
            module_name, _, class_name = owner.partition(":")
            target: object = importlib.import_module(module_name)
            if class_name:
                target = getattr(target, class_name, None)
                if not isinstance(target, type):
                    missing.append(f"{patch}: {module_name} has no class {class_name}")
                    continue
            for name in names:
                known = _class_knows(target, name) if isinstance(target, type) else hasattr(target, name)
                if not known:
                    missing.append(f"{patch}: {owner} has no {name}")
    return missing


def test_given_installed_cdk_when_private_names_are_looked_up_then_every_one_the_wing_uses_exists() -> None:
    assert missing_names() == []


def test_given_a_cdk_class_without_a_name_when_checked_then_the_patch_relying_on_it_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airbyte_cdk.sources.declarative.requesters.error_handlers import HttpResponseFilter

    monkeypatch.delattr(HttpResponseFilter, "_safe_response_json")
    assert missing_names() == [
        "source_sentry/packaged/components.py (UnreadableBodyFilter): airbyte_cdk.sources.declarative"
        ".requesters.error_handlers:HttpResponseFilter has no _safe_response_json"
    ]
