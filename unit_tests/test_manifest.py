"""The manifest as a whole: Cloud-importable copy, schemas against Sentry's documented shapes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import jsonschema
import pytest
import yaml
from freezegun import freeze_time

from source_sentry.config import HOSTNAME_PATTERN, base_api_url
from source_sentry.manifest import (
    MANIFEST_PATH,
    conditional_stream_names,
    incremental_stream_names,
    load_manifest,
    stream_names,
    unserved_stream_names,
)
from tools.build_cloud_manifest import TARGET, build

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = load_manifest()
TEMPLATES = Path(__file__).parent / "resource" / "http" / "response"
STREAMS = stream_names()


def test_given_manifest_then_stream_list_is_the_documented_streams_in_order() -> None:
    assert stream_names() == (
        "projects",
        "project_detail",
        "events",
        "issues",
        "releases",
        "organization",
        "teams",
        "members",
        "environments",
        "monitors",
        "repositories",
        "project_keys",
        "deploys",
        "release_commits",
        "workflows",
        "detectors",
        "monitor_checkins",
        "user_feedback",
        "replays",
        "sessions",
        "usage_stats",
    )
    assert unserved_stream_names({"server": "sentry"}) == unserved_stream_names({}) == ()
    assert unserved_stream_names({"server": "glitchtip"}) == stream_names()[10:]
    assert incremental_stream_names() == (
        "projects",
        "events",
        "issues",
        "releases",
        "deploys",
        "release_commits",
        "monitor_checkins",
        "user_feedback",
        "replays",
        "sessions",
        "usage_stats",
    )
    assert conditional_stream_names() == ("webhook_deliveries",)


def test_given_the_manifest_file_when_loaded_then_it_is_what_the_cdks_yaml_loader_reads() -> None:

    from source_sentry.manifest import MANIFEST_PATH

    assert load_manifest() == yaml.safe_load(MANIFEST_PATH.read_text())


def test_given_packaged_manifest_when_cloud_copy_is_rebuilt_then_committed_copy_is_identical() -> None:
    assert TARGET.read_text() == build(), "run: python tools/build_cloud_manifest.py"


def test_given_packaged_manifest_when_cloud_copy_is_built_then_every_comment_is_kept() -> None:
    lines = [line.strip() for line in MANIFEST_PATH.read_text().splitlines()]
    comments = [line for line in lines if line.startswith("#")]
    cloud = {line.strip() for line in TARGET.read_text().splitlines()}
    assert len(comments) > 50
    assert [comment for comment in comments if comment not in cloud] == []


def test_given_cloud_manifest_then_it_needs_no_python_component_and_no_schema_file() -> None:
    # The content, not the comments: those may name the package's modules.
    content = json.dumps(yaml.safe_load(TARGET.read_text()))
    assert "Custom" not in content
    assert "JsonFileSchemaLoader" not in content
    assert "source_sentry" not in content


@pytest.mark.parametrize("stream", STREAMS)
def test_given_sentry_documented_response_when_validated_then_stream_schema_accepts_it(stream: str) -> None:
    schema = json.loads((ROOT / "source_sentry" / "schemas" / f"{stream}.json").read_text())
    for item in json.loads((TEMPLATES / f"{stream}.json").read_text()):
        if stream == "releases":
            item = {**item, "id": str(item["id"])}  # the manifest writes a release's id as text
        jsonschema.validate(item, schema)


def test_given_null_in_every_field_when_validated_then_schemas_accept_it() -> None:
    for stream in STREAMS:
        schema = json.loads((ROOT / "source_sentry" / "schemas" / f"{stream}.json").read_text())
        nulls = {name: None for name in schema["properties"] if name != "id"}
        jsonschema.validate({"id": "1", **nulls}, schema)


def test_given_spec_then_hostname_pattern_is_the_one_the_notifier_validates_with() -> None:
    spec = MANIFEST["spec"]["connection_specification"]["properties"]
    assert spec["hostname"]["pattern"] == HOSTNAME_PATTERN


@pytest.mark.parametrize(
    ("hostname", "expected"),
    [
        ("sentry.io", "https://sentry.io/api/0/"),
        ("de.sentry.io", "https://de.sentry.io/api/0/"),
        ("sentry.example.com:9000", "https://sentry.example.com:9000/api/0/"),
        ("http://127.0.0.1:9000", "http://127.0.0.1:9000/api/0/"),
        ("https://sentry.example.com/sentry/", "https://sentry.example.com/sentry/api/0/"),
        ("  http://10.0.0.5:9000/  ", "http://10.0.0.5:9000/api/0/"),
        ("https://sentry.example.com/sentry/api/0/", "https://sentry.example.com/sentry/api/0/"),
    ],
)
def test_given_hostname_forms_when_manifest_builds_base_url_then_it_matches_the_notifier(
    hostname: str, expected: str
) -> None:
    from airbyte_cdk.sources.declarative.interpolation.jinja import JinjaInterpolation

    template = MANIFEST["definitions"]["requester"]["url_base"]
    rendered = JinjaInterpolation().eval(template, config={"hostname": hostname})
    assert rendered == expected
    assert base_api_url(hostname) + "/" == expected


def test_given_every_field_of_spec_then_it_has_title_description_and_example() -> None:
    for name, field in MANIFEST["spec"]["connection_specification"]["properties"].items():
        assert field.get("title"), name
        # A sentence or more that says what the field does, not a placeholder.
        assert re.fullmatch(r"[A-Z][^\n]{40,}[.)]", field.get("description", "")), name
        assert field.get("examples"), name


def test_given_cloud_manifest_when_run_by_source_declarative_manifest_then_discover_lists_every_stream(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.json"
    # With the receiver's settings, so that the conditional stream is listed too.
    config.write_text(
        json.dumps(
            {
                "auth_token": "x",
                "organization": "acme",
                "webhooks_url": "http://127.0.0.1:9",
                "webhooks_token": "feed-token-for-discover",
            }
        )
    )
    bin_dir = Path(sys.executable).parent
    result = subprocess.run(
        [
            str(bin_dir / "source-declarative-manifest"),
            "discover",
            "--config",
            str(config),
            "--manifest-path",
            str(TARGET),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": ""},
    )
    catalogs = [json.loads(line)["catalog"] for line in result.stdout.splitlines() if '"CATALOG"' in line]
    assert catalogs, result.stdout[-2000:] + result.stderr[-2000:]
    streams = {s["name"]: s for s in catalogs[0]["streams"]}
    assert sorted(streams) == sorted((*STREAMS, *conditional_stream_names()))
    assert streams["events"]["default_cursor_field"] == ["dateReceived"]
    assert streams["webhook_deliveries"]["default_cursor_field"] == ["seq"]
    assert "payload" in streams["webhook_deliveries"]["json_schema"]["properties"]
    assert "entries" in streams["events"]["json_schema"]["properties"]


def _api_budget():
    from airbyte_cdk.sources.declarative.models.declarative_component_schema import HTTPAPIBudget
    from airbyte_cdk.sources.declarative.parsers.model_to_component_factory import ModelToComponentFactory

    return ModelToComponentFactory().create_component(HTTPAPIBudget, MANIFEST["api_budget"], config={})


REQUEST_PATHS = {
    "projects": "organizations/acme/projects/",
    "project_detail": "projects/acme/billing/",
    "events": "projects/acme/billing/events/",
    "issues": "organizations/acme/issues/",
    "releases": "organizations/acme/releases/",
    "sessions": "organizations/acme/sessions/",
    "usage_stats": "organizations/acme/stats_v2/",
}


@pytest.mark.parametrize("base", ["https://sentry.io/api/0/", "http://127.0.0.1:9000/sentry/api/0/"])
def test_given_each_stream_request_when_budget_matches_then_each_has_its_own_policy(base: str) -> None:
    import requests

    budget = _api_budget()
    policies = {}
    for stream, path in REQUEST_PATHS.items():
        request = requests.Request("GET", f"{base}{path}?cursor=0:100:0&per_page=100").prepare()
        policies[stream] = budget.get_matching_policy(request)

    assert all(policies.values()), {s: p for s, p in policies.items() if p is None}
    assert len({id(p) for p in policies.values()}) == len(REQUEST_PATHS)


def _response(status: int, headers: dict[str, str]):
    import requests

    response = requests.Response()
    response.status_code = status
    response.headers.update(headers)
    return response


def test_given_server_without_rate_limit_headers_when_many_requests_and_a_bare_429_then_never_waits() -> None:
    import requests

    from unit_tests.conftest import SLEEPS

    budget = _api_budget()
    request = requests.Request("GET", "http://sentry.internal/api/0/projects/acme/billing/events/").prepare()
    for number in range(3000):
        budget.acquire_call(request)
        budget.update_from_response(request, _response(429 if number == 5 else 200, {}))

    assert SLEEPS == []


def test_given_sentry_says_none_left_when_next_request_then_waits_for_its_reset() -> None:
    import time

    import requests

    from unit_tests.conftest import SLEEPS

    budget = _api_budget()
    request = requests.Request("GET", "https://sentry.io/api/0/organizations/acme/issues/").prepare()
    with freeze_time(datetime.now()):  # the autouse sleep recorder moves this clock
        budget.acquire_call(request)
        reset = int(time.time()) + 5
        budget.update_from_response(
            request,
            _response(200, {"X-Sentry-Rate-Limit-Remaining": "0", "X-Sentry-Rate-Limit-Reset": str(reset)}),
        )

        budget.acquire_call(request)

    assert SLEEPS
    assert 3 < SLEEPS[0] <= 5
    assert sum(SLEEPS) <= 5.01


def test_given_manifest_then_no_mapping_repeats_a_key() -> None:
    """YAML keeps the last of two equal keys without a word: a policy with two url_path_pattern
    lines matched only the second path, and the first endpoint went unpaced."""

    from source_sentry.manifest import MANIFEST_PATH

    class Strict(yaml.SafeLoader):
        pass

    def mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict:
        keys = [loader.construct_object(key) for key, _ in node.value]
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        assert not repeated, f"line {node.start_mark.line + 1}: {repeated}"
        return loader.construct_mapping(node)

    Strict.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    for path in (MANIFEST_PATH, TARGET):
        yaml.load(path.read_text(), Loader=Strict)  # noqa: S506 - SafeLoader subclass


@pytest.mark.parametrize("packaged", [True, False], ids=["packaged", "declarative"])
def test_given_each_variant_when_its_resolved_manifest_is_checked_then_the_cdk_schema_accepts_it(
    packaged: bool,
) -> None:
    # The packaged connector skips the CDK's check at start-up (PackagedSource._validate_source):
    # this is where its manifest, Python components swapped in, is held to the CDK's schema.
    from airbyte_cdk.sources.declarative.concurrent_declarative_source import (
        ConcurrentDeclarativeSource,
        get_declarative_component_schema,
        validate_manifest,
    )

    from source_sentry.packaged.source import PackagedSource
    from source_sentry.source import SourceSentry

    config = {"auth_token": "t", "organization": "acme"}
    source = (PackagedSource if packaged else SourceSentry)(config=config)
    schema = get_declarative_component_schema()
    ConcurrentDeclarativeSource._validate_source(source)  # raises on a manifest the CDK refuses
    broken = json.loads(json.dumps(source.resolved_manifest))
    broken["streams"][0]["retriever"]["requester"]["http_method"] = "FETCH"
    with pytest.raises(jsonschema.ValidationError) as refused:  # and the check can refuse
        validate_manifest(broken, schema)
    assert "FETCH" in str(refused.value.__cause__)


def test_given_packaged_source_when_built_then_cdk_component_schema_is_loaded_only_when_read() -> None:
    from airbyte_cdk.sources.declarative import concurrent_declarative_source as cdk

    from source_sentry.packaged.source import PackagedSource
    from source_sentry.source import SourceSentry

    loader = cdk.get_declarative_component_schema
    config = {"auth_token": "t", "organization": "acme"}
    packaged = PackagedSource(config=config)
    declarative = SourceSentry(config=config)

    assert cdk.get_declarative_component_schema is loader
    assert packaged.__dict__["_component_schema"] is None
    assert isinstance(declarative.__dict__["_declarative_component_schema"], dict)  # loaded when built
    schema = loader()
    assert packaged._declarative_component_schema == schema == declarative._declarative_component_schema
    assert packaged._declarative_component_schema is packaged.__dict__["_component_schema"]
