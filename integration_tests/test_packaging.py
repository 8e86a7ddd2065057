"""The Docker image, tested without a Docker engine (none runs on our machines).

The Dockerfile's own COPY and pip RUN steps build a fresh virtual environment from a copy of
exactly the files it copies; its entry point then answers spec, check and read against the
emulator. Labels, metadata.yaml, pyproject.toml and the docs must name one image and version.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import uuid
from pathlib import Path

import pytest
import yaml

from source_sentry.manifest import load_manifest
from tools.airbyte_run import catalog, parse

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
METADATA = yaml.safe_load((ROOT / "metadata.yaml").read_text())["data"]
MANIFEST = load_manifest()


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    steps = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, arguments = line.partition(" ")
            steps.append((instruction.upper(), arguments.strip()))
    return steps


def instructions(name: str) -> list[str]:
    return [arguments for instruction, arguments in dockerfile() if instruction == name]


def key_values(instruction: str) -> dict[str, str]:
    """KEY=value pairs of every LABEL or ENV instruction."""
    found = {}
    for arguments in instructions(instruction):
        for pair in shlex.split(arguments):
            key, _, value = pair.partition("=")
            found[key] = value
    return found


def entrypoint() -> list[str]:
    [arguments] = instructions("ENTRYPOINT")
    return json.loads(arguments)


# ---- what can be checked by reading -------------------------------------------------------------


def test_given_dockerfile_then_slim_python_base_matching_the_supported_versions() -> None:
    [base] = instructions("FROM")
    match = re.fullmatch(r"python:(3\.\d+)-slim(-\w+)?", base)
    assert match, base
    low, high = re.fullmatch(r">=(3\.\d+),<(3\.\d+)", PYPROJECT["project"]["requires-python"]).groups()
    version = tuple(int(x) for x in match.group(1).split("."))
    assert tuple(int(x) for x in low.split(".")) <= version < tuple(int(x) for x in high.split("."))


def test_given_dockerfile_then_airbyte_entrypoint_variable_names_the_entry_point_command() -> None:
    assert entrypoint() == ["source-sentry"]
    assert key_values("ENV")["AIRBYTE_ENTRYPOINT"] == " ".join(entrypoint())
    assert "source-sentry" in PYPROJECT["project"]["scripts"]


def test_given_labels_then_they_name_the_image_and_version_metadata_and_pyproject_give() -> None:
    assert key_values("LABEL") == {
        "io.airbyte.name": METADATA["dockerRepository"],
        "io.airbyte.version": METADATA["dockerImageTag"],
    }
    assert METADATA["dockerImageTag"] == PYPROJECT["project"]["version"]


def test_given_metadata_then_registry_fields_are_present_and_consistent() -> None:
    for key in (
        "connectorType",
        "connectorSubtype",
        "definitionId",
        "dockerRepository",
        "dockerImageTag",
        "documentationUrl",
        "githubIssueLabel",
        "license",
        "name",
        "releaseStage",
        "supportLevel",
        "tags",
        "allowedHosts",
    ):
        assert METADATA.get(key), key
    assert METADATA["connectorType"] == "source"
    assert uuid.UUID(METADATA["definitionId"]).version == 4
    assert METADATA["documentationUrl"] == MANIFEST["spec"]["documentation_url"]
    assert METADATA["license"] == PYPROJECT["project"]["license"]
    assert "${hostname}" in METADATA["allowedHosts"]["hosts"]
    assert "cdk:low-code" in METADATA["tags"]
    assert METADATA["releaseStage"] in {"alpha", "beta", "generally_available", "custom"}


def test_given_docs_then_the_image_they_tell_users_to_build_is_the_one_metadata_names() -> None:
    image = f"{METADATA['dockerRepository']}:{METADATA['dockerImageTag']}"
    docs = (ROOT / "docs" / "sentry.md").read_text()
    tags = re.findall(r"docker build -t (\S+) \.", docs)
    assert tags
    assert set(tags) == {image}


def test_given_copied_paths_then_dockerignore_does_not_exclude_them_and_keeps_secrets_out() -> None:
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    ignored = [line for line in ignored if line and not line.startswith("#")]
    for source in _copied_sources():
        assert source not in ignored
    assert {"secrets", ".venv", ".git"} <= set(ignored)


# ---- the image's install, run without Docker -----------------------------------------------------


def outside_checkout(**extra: str) -> dict[str, str]:
    """This process's environment without PYTHONPATH, so the checkout cannot leak into the venv."""
    return {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, **extra}


def _copied_sources() -> list[str]:
    sources = []
    for arguments in instructions("COPY"):
        *paths, _destination = shlex.split(arguments)
        sources += [p for p in paths if not p.startswith("--")]
    return sources


def _build_like_the_image(tmp: Path) -> Path:
    """Copy what COPY copies into WORKDIR, then run the Dockerfile's pip RUN steps in a fresh venv."""
    [workdir] = instructions("WORKDIR")
    code = tmp / "image" / workdir.lstrip("/")
    code.mkdir(parents=True)
    for arguments in instructions("COPY"):
        *paths, destination = shlex.split(arguments)
        target = code / destination
        for path in paths:
            source = ROOT / path
            if source.is_dir():
                shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / source.name)
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip_steps = [a for a in instructions("RUN") if a.startswith("pip ")]
    assert pip_steps, "the Dockerfile installs the package with pip"
    # PIP_COMPILE=false: pip would byte-compile every installed library (about 25 s of one core);
    # what the tests run compiles as it imports, and what is installed is the same.
    path = f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"
    environment = outside_checkout(PATH=path, PIP_COMPILE="false")
    for step in pip_steps:
        command = ["bash", "-c", step]
        if _installs_the_lock_alone(step):
            # The pinned libraries: the lock pins every version, so uv (the lock's own tool) puts
            # exactly what pip would (the same `pip freeze --all`), from its cache in about 2 s
            # where pip downloads and unpacks them again in about 45 s. The package itself is
            # installed by the Dockerfile's own pip step, from the copy, below.
            [lock] = shlex.split(step)[-1:]
            python = str(venv / "bin" / "python")
            command = [str(UV), "pip", "install", "--quiet", "--python", python, "-r", lock]
        subprocess.run(command, cwd=code, env=environment, check=True, timeout=600)
    return venv


UV = Path(sys.executable).parent / "uv"


def _installs_the_lock_alone(step: str) -> bool:
    words = shlex.split(step)
    return (
        words[:2] == ["pip", "install"]
        and words[-2:] == ["-r", "requirements/runtime.lock"]
        and all(word.startswith("--") for word in words[2:-2])
    )


def test_given_dockerfile_then_its_first_pip_step_installs_the_lock_alone_and_the_second_the_copy() -> None:
    """What the image's environment is built with here (uv for the lock, pip for the package)
    stands for the Dockerfile's steps only while they are these two."""
    steps = [a for a in instructions("RUN") if a.startswith("pip ")]
    assert [_installs_the_lock_alone(step) for step in steps] == [True, False]
    assert shlex.split(steps[1])[-2:] == ["--no-deps", "."]


# Session scope: make test runs this file's tests on one worker, but other files' tests may run
# between them there, and a module fixture would then be built again (CI's log showed two
# 89-second builds in one run). Built once per worker that runs them.
@pytest.fixture(scope="session")
def image_venv(tmp_path_factory) -> Path:
    return _build_like_the_image(tmp_path_factory.mktemp("docker"))


def _run_entrypoint(venv: Path, *args: str, cwd: Path):
    command = [str(venv / "bin" / entrypoint()[0]), *entrypoint()[1:], *args]
    environment = outside_checkout()
    result = subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=environment, timeout=240)
    return parse(result.stdout, result.stderr, result.returncode)


@pytest.mark.e2e
def test_given_image_install_then_the_package_comes_from_the_copy_not_the_checkout(image_venv: Path) -> None:
    result = subprocess.run(
        [str(image_venv / "bin" / "python"), "-c", "import source_sentry; print(source_sentry.__file__)"],
        capture_output=True,
        text=True,
        cwd="/",
        check=True,
    )
    assert str(ROOT) not in result.stdout
    assert "site-packages" in result.stdout


@pytest.mark.e2e
def test_given_image_install_when_spec_then_the_manifest_spec(image_venv: Path, tmp_path: Path) -> None:
    run = _run_entrypoint(image_venv, "spec", cwd=tmp_path)

    [spec] = [m["spec"] for m in run.messages if m["type"] == "SPEC"]
    assert spec["connectionSpecification"] == MANIFEST["spec"]["connection_specification"]
    assert spec["documentationUrl"] == METADATA["documentationUrl"]


@pytest.mark.e2e
def test_given_image_install_when_check_and_read_against_emulator_then_connected_and_exact(
    image_venv: Path, emulator, tmp_path: Path
) -> None:
    config = emulator.config()
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "catalog.json").write_text(json.dumps(catalog(["events", "releases"])))

    check = _run_entrypoint(image_venv, "check", "--config", "config.json", cwd=tmp_path)
    read = _run_entrypoint(
        image_venv, "read", "--config", "config.json", "--catalog", "catalog.json", cwd=tmp_path
    )

    [status] = [m["connectionStatus"] for m in check.messages if m["type"] == "CONNECTION_STATUS"]
    assert status["status"] == "SUCCEEDED"
    assert sorted(read.ids("events")) == sorted(str(e["id"]) for e in emulator.ground_truth("events"))
    assert sorted(read.ids("releases")) == sorted(str(r["id"]) for r in emulator.ground_truth("releases"))
    assert emulator.token not in check.stdout + check.stderr + read.stdout + read.stderr


@pytest.mark.e2e
def test_given_image_install_when_notify_dry_run_then_it_answers_without_the_checkout(
    image_venv: Path, emulator, tmp_path: Path
) -> None:
    environment = outside_checkout(
        SENTRY_AUTH_TOKEN=emulator.token,
        SENTRY_URL=emulator.base_url,
        SENTRY_ORG=emulator.organization,
        SENTRY_PROJECT=emulator.project_slugs[0],
    )
    result = subprocess.run(
        [
            str(image_venv / "bin" / entrypoint()[0]),
            "notify",
            "--release",
            "1.2.3",
            "--env",
            "staging",
            "--dry-run",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environment,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert "1.2.3" in result.stdout + result.stderr
    assert not [r for r in emulator.requests if r["method"] == "POST"]


@pytest.mark.e2e
def test_given_image_install_when_webhooks_starts_then_its_libraries_are_in_the_image(
    image_venv: Path, tmp_path: Path
) -> None:
    # Importing the app pulls in uvicorn, Starlette, psycopg and prometheus-client: a dependency
    # declared only for tests would fail here.
    result = subprocess.run(
        [
            str(image_venv / "bin" / "python"),
            "-c",
            "import uvicorn, psycopg, source_sentry.webhooks.app, source_sentry.webhooks.store.postgres",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=outside_checkout(),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    help_text = subprocess.run(
        [str(image_venv / "bin" / entrypoint()[0]), "webhooks", "--help"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=outside_checkout(),
        timeout=120,
    )
    assert help_text.returncode == 0
    assert "usage: source-sentry webhooks" in help_text.stdout
