"""The image as a container sees it, built from the unchanged Dockerfile by buildah: its user,
entry point and labels, and `spec`, `check`, `discover`, `read` (full and incremental, with
config, catalog and state files mounted as Airbyte mounts them), `notify` and the Drone/Woodpecker
plugin step, each against the project's Sentry emulator on the host's loopback network."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tools.airbyte_run import STREAMS, Run, catalog, parse

from .conftest import METADATA, ROOT, Container

pytestmark = pytest.mark.image_build

MANIFEST = yaml.safe_load((ROOT / "source_sentry" / "manifest.yaml").read_text())
# Where Airbyte's launcher puts a connector's input files, and the names it gives them.
CONFIG_DIR = "/config"


def connector(container: Container, *args: str, files: Path | None = None) -> Run:
    mounts = {container.mountable(files): CONFIG_DIR} if files else None
    done = container.run(*args, mounts=mounts)
    return parse(done.stdout, done.stderr, done.returncode)


def airbyte_files(directory: Path, config: dict, *, streams=None, state=None) -> list[str]:
    """Write config, catalog and state as Airbyte does and return the arguments naming them."""
    directory.mkdir(exist_ok=True)
    (directory / "source_config.json").write_text(json.dumps(config))
    args = ["--config", f"{CONFIG_DIR}/source_config.json"]
    if streams is not None:
        (directory / "source_catalog.json").write_text(json.dumps(catalog(streams)))
        args += ["--catalog", f"{CONFIG_DIR}/source_catalog.json"]
    if state is not None:
        (directory / "input_state.json").write_text(json.dumps(state))
        args += ["--state", f"{CONFIG_DIR}/input_state.json"]
    return args


def assert_hidden(container: Container, token: str) -> None:
    assert not [out for out in container.outputs if token in out], "the token was printed"


# ---- what the image says about itself -----------------------------------------------------------


def test_given_image_then_labels_entrypoint_and_environment_are_airbytes(container: Container) -> None:
    config = container.config
    labels = {k: v for k, v in config["Labels"].items() if k.startswith("io.airbyte.")}
    assert labels == {
        "io.airbyte.name": METADATA["dockerRepository"],
        "io.airbyte.version": METADATA["dockerImageTag"],
    }
    environment = dict(entry.partition("=")[::2] for entry in config["Env"])
    assert config["Entrypoint"] == ["source-sentry"]
    assert environment["AIRBYTE_ENTRYPOINT"] == " ".join(config["Entrypoint"])
    assert not config.get("Cmd")


def test_given_image_then_it_runs_as_its_non_root_user_who_cannot_change_the_code(
    container: Container,
) -> None:
    assert container.config["User"] == "airbyte"
    uid, _gid = container.uid()
    assert uid != 0
    who = container.run(entrypoint=["sh", "-c", "id -un; pwd; touch source_sentry/x 2>/dev/null || echo ro"])
    assert who.stdout.split() == ["airbyte", container.config["WorkingDir"], "ro"]


def test_given_image_then_only_the_package_was_copied_in(container: Container) -> None:
    listing = container.run(entrypoint=["ls", "-A", container.config["WorkingDir"]])
    copied = set(listing.stdout.split())
    assert {"pyproject.toml", "README.md", "source_sentry"} <= copied
    assert not copied & {".git", ".venv", "secrets", "unit_tests", "integration_tests", "sentry_emulator"}


def test_given_image_then_its_size_stays_within_bounds(container: Container, buildah, image: str) -> None:
    from tools.image_build import base_image_name

    total = sum(buildah.layer_sizes(image))
    added = total - sum(buildah.layer_sizes(base_image_name()))
    # Measured: the Dockerfile adds about 310 MB (airbyte-cdk and its dependencies). A .venv or a
    # test folder slipping into the build context would add hundreds of MB more.
    assert 100e6 < added < 400e6, added
    assert total < 700e6, total


# ---- the Airbyte protocol in the container --------------------------------------------------------


def test_given_spec_then_the_manifest_spec(container: Container) -> None:
    run = connector(container, "spec")

    assert run.returncode == 0, run.stderr[-2000:]
    [spec] = [m["spec"] for m in run.messages if m["type"] == "SPEC"]
    assert spec["connectionSpecification"] == MANIFEST["spec"]["connection_specification"]
    assert spec["documentationUrl"] == METADATA["documentationUrl"]


def test_given_good_and_bad_token_when_check_then_succeeded_and_failed(
    container: Container, emulator, tmp_path: Path
) -> None:
    good = connector(
        container, "check", *airbyte_files(tmp_path / "good", emulator.config()), files=tmp_path / "good"
    )
    bad_token = "sntryu_" + "0" * 64
    bad_config = emulator.config(auth_token=bad_token)
    bad = connector(container, "check", *airbyte_files(tmp_path / "bad", bad_config), files=tmp_path / "bad")

    [good_status] = [m["connectionStatus"] for m in good.messages if m["type"] == "CONNECTION_STATUS"]
    [bad_status] = [m["connectionStatus"] for m in bad.messages if m["type"] == "CONNECTION_STATUS"]
    assert good_status["status"] == "SUCCEEDED", good_status
    assert bad_status["status"] == "FAILED"
    assert "401" in bad_status["message"]
    assert_hidden(container, emulator.token)
    assert_hidden(container, bad_token)


def test_given_config_when_discover_then_every_stream(container: Container, emulator, tmp_path: Path) -> None:
    run = connector(container, "discover", *airbyte_files(tmp_path, emulator.config()), files=tmp_path)

    [found] = [m["catalog"] for m in run.messages if m["type"] == "CATALOG"]
    assert sorted(s["name"] for s in found["streams"]) == sorted(STREAMS)
    assert_hidden(container, emulator.token)


def test_given_full_then_incremental_read_then_exactly_the_ground_truth_then_only_whats_new(
    container: Container, emulator, tmp_path: Path
) -> None:
    config = emulator.config()
    first = connector(
        container, "read", *airbyte_files(tmp_path / "1", config, streams=STREAMS), files=tmp_path / "1"
    )

    assert first.returncode == 0, first.stderr[-2000:]
    assert not first.errors, first.errors
    for stream in STREAMS:
        expected = sorted(str(r["id"]) for r in emulator.ground_truth(stream))
        assert sorted(first.ids(stream)) == expected, stream

    slug = emulator.project_slugs[0]
    new_events = emulator.add_events(slug, 4)
    release = emulator.add_release("2.0.0+image", [slug])
    args = airbyte_files(tmp_path / "2", config, streams=STREAMS, state=first.final_state())
    second = connector(container, "read", *args, files=tmp_path / "2")

    assert second.returncode == 0, second.stderr[-2000:]
    assert not second.errors, second.errors
    assert sorted(second.ids("events")) == sorted(e["id"] for e in new_events)
    assert second.ids("issues") == [new_events[0]["groupID"]]
    assert second.ids("releases") == [str(release["id"])]
    assert second.ids("projects") == []
    assert_hidden(container, emulator.token)


# ---- the notifier in the container ------------------------------------------------------------------


def sentry_env(emu, **extra: str) -> dict[str, str]:
    return {
        "SENTRY_AUTH_TOKEN": emu.token,
        "SENTRY_ORG": emu.organization,
        "SENTRY_URL": emu.base_url,
        **extra,
    }


def test_given_notify_then_release_created_finalized_and_one_deploy(container: Container, emulator) -> None:
    web = emulator.project_slugs[0]
    done = container.run(
        "notify",
        "--release",
        "9.0.0",
        "--env",
        "production",
        "--project",
        web,
        "--finalize",
        env=sentry_env(emulator),
    )

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[1] == "Release 9.0.0 created (201)"
    assert lines[2].startswith("Release 9.0.0 finalized at ")
    assert lines[3].startswith("Deploy ")
    assert lines[3].endswith(" of 9.0.0 to production recorded")
    writes = [r for r in emulator.requests if r["method"] in ("POST", "PUT")]
    assert [w["method"] for w in writes] == ["POST", "POST"]  # --finalize rides on the new release's POST
    assert "dateReleased" in writes[0]["body"]
    assert_hidden(container, emulator.token)


def test_given_bad_input_when_notify_then_exit_2_reaches_the_caller_and_nothing_sent(
    container: Container, emulator
) -> None:
    done = container.run("notify", "--release", "latest", "--env", "production", env=sentry_env(emulator))

    assert done.returncode == 2
    assert not [r for r in emulator.requests if r["method"] in ("POST", "PUT")]


def test_given_no_arguments_and_plugin_settings_then_the_pipeline_step_notifies(
    container: Container, emulator
) -> None:
    done = container.run(
        env={
            "PLUGIN_SENTRY_AUTH_TOKEN": emulator.token,
            "PLUGIN_SENTRY_ORGANIZATION": emulator.organization,
            "PLUGIN_SENTRY_PROJECT": emulator.project_slugs[0],
            "PLUGIN_SENTRY_RELEASE_VERSION": "3.1.4+ci",
            "PLUGIN_SENTRY_RELEASE_ENVIRONMENT": "staging",
            "SENTRY_URL": emulator.base_url,
        }
    )

    assert done.returncode == 0, done.stderr
    assert "Release 3.1.4+ci created (201)" in done.stdout
    assert "to staging recorded" in done.stdout
    posts = [r for r in emulator.requests if r["method"] == "POST"]
    assert [r["path"].split("/")[-2] for r in posts] == ["releases", "deploys"]
    assert_hidden(container, emulator.token)
