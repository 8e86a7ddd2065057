"""The image built from the real Dockerfile with buildah (no Docker engine runs here) and a
container of it that runs commands as `docker run` would: the image's entry point, user, working
directory and environment, the host's loopback network, read-only bind mounts.

`make image-test` runs these tests; plain `make test` deselects them (marker `image_build`).
The stand-in base image is cached between runs (tools/image_build.py says where and why)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools.image_build import ROOT, Buildah, base_image_name, build_base, build_image, cache_dir

METADATA = yaml.safe_load((ROOT / "metadata.yaml").read_text())["data"]
TAG = f"{METADATA['dockerRepository']}:{METADATA['dockerImageTag']}"
# Printed at the end of the run (build seconds, sizes).
FIGURES: dict[str, str] = {}


def pytest_terminal_summary(terminalreporter) -> None:
    if FIGURES:
        terminalreporter.section("image figures")
        for name, value in FIGURES.items():
            terminalreporter.write_line(f"{name}: {value}")


@dataclass
class Container:
    """One working container of the image; each `run` is one `docker run`-like command."""

    buildah: Buildah
    name: str
    config: dict[str, Any]
    outputs: list[str] = field(default_factory=list)

    def run(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        mounts: dict[Path, str] | None = None,
        entrypoint: list[str] | None = None,
        timeout: float = 300,
    ) -> subprocess.CompletedProcess[str]:
        """Entry point (the image's unless given) + args, or the image's CMD when there are none."""
        command = list(self.config.get("Entrypoint") or []) if entrypoint is None else entrypoint
        command += list(args) or list(self.config.get("Cmd") or [])
        options = ["run", "--isolation", "chroot", "--network", "host"]
        for key, value in (env or {}).items():
            options += ["--env", f"{key}={value}"]
        for host, inside in (mounts or {}).items():
            options += ["--volume", f"{host}:{inside}:ro"]
        done = self.buildah(*options, self.name, "--", *command, check=False, timeout=timeout)
        self.outputs.append(done.stdout + done.stderr)
        return done

    def uid(self) -> tuple[int, int]:
        done = self.run(entrypoint=["sh", "-c", "echo $(id -u) $(id -g)"])
        uid, gid = done.stdout.split()
        return int(uid), int(gid)

    def mountable(self, directory: Path) -> Path:
        """Give a host directory to the image's user (0700), as Airbyte's launcher makes its files
        readable by the connector's user and no one else."""
        uid, gid = self.uid()
        for path in [directory, *directory.rglob("*")]:
            os.chown(path, uid, gid)
            path.chmod(0o700 if path.is_dir() else 0o600)
        return directory


@pytest.fixture(scope="session")
def buildah() -> Buildah:
    missing = [tool for tool in ("buildah", "debootstrap") if not shutil.which(tool)]
    if missing:
        pytest.fail(f"{' and '.join(missing)} not installed: apt-get install -y buildah debootstrap")
    return Buildah(cache_dir())


@pytest.fixture(scope="session")
def image(buildah: Buildah) -> str:
    """Build the stand-in base (unless cached) and then the image from the repository's Dockerfile."""
    built, seconds = build_base(buildah)
    FIGURES["stand-in base"] = f"{'built' if built else 'cached'} in {seconds:.1f} s"
    started = time.monotonic()
    build_image(buildah, TAG)
    FIGURES["image build"] = f"{time.monotonic() - started:.1f} s"
    sizes, base = buildah.layer_sizes(TAG), buildah.layer_sizes(base_image_name())
    FIGURES["image size"] = (
        f"{sum(sizes) / 1e6:.0f} MB uncompressed ({sum(base) / 1e6:.0f} MB stand-in base"
        f" + {(sum(sizes) - sum(base)) / 1e6:.0f} MB added by the Dockerfile)"
    )
    return TAG


@pytest.fixture(scope="session")
def container(buildah: Buildah, image: str) -> Iterator[Container]:
    name = f"source-sentry-image-test-{os.getpid()}"
    buildah("from", "--pull-never", "--name", name, image)
    info = buildah.image(image)
    assert info is not None
    try:
        yield Container(buildah, name, info["OCIv1"]["config"])
    finally:
        buildah("rm", name, check=False)
