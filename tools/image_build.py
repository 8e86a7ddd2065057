"""Build the connector image without a Docker engine: buildah builds the unchanged Dockerfile.

No container registry is reachable here, so the Dockerfile's base image cannot be pulled. This
module first makes a stand-in with the same name (`python:3.11-slim-bookworm`) and the contents
that matter to the Dockerfile: a Debian bookworm root file system from `debootstrap` (minbase,
python3, pip, venv, CA certificates, passwd for `useradd`), `python` and `pip` on the PATH as
in the official image (without Debian's EXTERNALLY-MANAGED marker), a PATH with the sbin
directories, and this machine's CA bundle and pip settings so that the Dockerfile's `pip install`
reaches the package index as the host does. The Debian mirror comes from the machine's apt
configuration.

The stand-in is kept in buildah's storage under a cache directory (outside the repository) and
rebuilt only when its recipe changes. `python -m tools.image_build` builds both and prints the
figures; integration_tests/image/ uses the same functions.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SUITE = "bookworm"
PACKAGES = ["python3", "python3-pip", "python3-venv", "ca-certificates", "passwd"]
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
RECIPE_LABEL = "io.source-sentry.stand-in-recipe"
# Bump when the stand-in's recipe changes in a way the inputs below do not show.
RECIPE_VERSION = "1"


def cache_dir() -> Path:
    """Where buildah's storage lives between runs: $SOURCE_SENTRY_IMAGE_CACHE, else ~/.cache/..."""
    explicit = os.environ.get("SOURCE_SENTRY_IMAGE_CACHE")
    if explicit:
        return Path(explicit)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "source-sentry" / "image"


def base_image_name(dockerfile: Path = ROOT / "Dockerfile") -> str:
    [base] = [line.split()[1] for line in dockerfile.read_text().splitlines() if line.startswith("FROM ")]
    return base if "/" in base else f"docker.io/library/{base}"


# ---- what the machine says -----------------------------------------------------------------------


def debian_mirror(apt_dir: Path = Path("/etc/apt")) -> str:
    """The first apt source that serves `bookworm` main (deb822 .sources files and sources.list)."""
    candidates: list[tuple[str, list[str]]] = []
    files = (
        sorted((apt_dir / "sources.list.d").glob("*.sources"))
        if (apt_dir / "sources.list.d").exists()
        else []
    )
    for path in files:
        for stanza in re.split(r"\n\s*\n", path.read_text()):
            fields: dict[str, str] = {}
            for line in stanza.splitlines():
                if line.startswith("#") or ":" not in line:
                    continue
                key, _, value = line.partition(":")
                fields[key.strip().lower()] = value.strip()
            if fields.get("enabled", "yes").lower() == "no" or "deb" not in fields.get("types", "").split():
                continue
            for uri in fields.get("uris", "").split():
                candidates.append((uri, fields.get("suites", "").split()))
    lists = [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list"))]
    for path in lists:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            words = re.sub(r"\[[^]]*\]", "", line).split()
            if len(words) >= 3 and words[0] == "deb":
                candidates.append((words[1], [words[2]]))
    for uri, suites in candidates:
        if SUITE in suites:
            return uri.rstrip("/")
    raise RuntimeError(f"No apt source in {apt_dir} serves Debian {SUITE}; debootstrap needs one.")


def pip_settings() -> dict[str, str]:
    """This machine's pip settings that make sense inside the image: network locations and the
    CA bundle (copied in at CA_BUNDLE). Local paths and file:// indexes are left out: they do not
    exist inside the build, where pip reaches the package index over the network."""
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=False
    ).stdout
    settings: dict[str, str] = {}
    for line in listed.splitlines():
        key, _, value = line.partition("=")
        name = key.rsplit(".", 1)[-1]
        value = value.strip().strip("'\"")
        if name in {"cert", "client-cert", "constraint", "find-links", "requirement"}:
            continue
        if name in {"index-url", "extra-index-url", "trusted-host"}:
            value = " ".join(v for v in value.split() if not v.startswith("file:") and not v.startswith("/"))
        if value:
            settings[name] = value
    for name, value in os.environ.items():
        if name.startswith("PIP_") and name not in {"PIP_CERT", "PIP_FIND_LINKS", "PIP_CONFIG_FILE"}:
            key = name[4:].lower().replace("_", "-")
            if "file:" not in value and not value.startswith("/"):
                settings.setdefault(key, value)
    settings["cert"] = CA_BUNDLE
    return dict(sorted(settings.items()))


def host_ca_bundle() -> Path:
    for candidate in (os.environ.get("PIP_CERT"), os.environ.get("SSL_CERT_FILE"), CA_BUNDLE):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise RuntimeError("No CA bundle found on this machine")


# ---- buildah ----------------------------------------------------------------------------------------


@dataclass
class Buildah:
    """buildah with its own vfs storage under `root`, chroot isolation and the host's network."""

    root: Path

    def argv(self, *args: str) -> list[str]:
        return [
            "buildah",
            "--root",
            str(self.root / "storage"),
            "--runroot",
            str(self.root / "run"),
            "--storage-driver",
            "vfs",
            *args,
        ]

    def __call__(self, *args: str, check: bool = True, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        kwargs.setdefault("capture_output", True)
        done = subprocess.run(self.argv(*args), text=True, check=False, **kwargs)
        if check and done.returncode != 0:
            raise RuntimeError(f"buildah {args[0]} failed ({done.returncode}):\n{done.stderr[-3000:]}")
        return done

    def image(self, name: str) -> dict[str, Any] | None:
        done = self("inspect", "--type", "image", name, check=False)
        return json.loads(done.stdout) if done.returncode == 0 else None

    def layer_sizes(self, name: str) -> list[int]:
        """Uncompressed layer sizes (vfs stores layers as uncompressed tar)."""
        info = self.image(name)
        assert info is not None, name
        return [layer["size"] for layer in json.loads(info["Manifest"])["layers"]]


def recipe(mirror: str, settings: dict[str, str], ca_bundle: Path) -> str:
    """What the stand-in is made of; a change rebuilds it."""
    text = json.dumps(
        {
            "version": RECIPE_VERSION,
            "suite": SUITE,
            "packages": PACKAGES,
            "mirror": mirror,
            "pip": settings,
            "path": PATH,
            "ca": hashlib.sha256(ca_bundle.read_bytes()).hexdigest(),
        },
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build_base(
    buildah: Buildah, name: str | None = None, log: Callable[[str], object] = print
) -> tuple[bool, float]:
    """Make the stand-in base unless the cached one has the same recipe.
    Returns (built, seconds)."""
    name = name or base_image_name()
    started = time.monotonic()
    mirror, settings, ca_bundle = debian_mirror(), pip_settings(), host_ca_bundle()
    wanted = recipe(mirror, settings, ca_bundle)
    cached = buildah.image(name)
    if cached and cached["OCIv1"]["config"].get("Labels", {}).get(RECIPE_LABEL) == wanted:
        log(f"stand-in base {name}: cached (recipe {wanted})")
        return False, time.monotonic() - started
    log(f"stand-in base {name}: debootstrap {SUITE} from the machine's Debian mirror ...")
    buildah.root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=buildah.root, prefix="rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(PACKAGES)}",
                SUITE,
                str(rootfs),
                mirror,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=900,
        )
        _configure_rootfs(rootfs, settings, ca_bundle)
        container = buildah("from", "scratch").stdout.strip()
        try:
            buildah("add", container, f"{rootfs}/", "/")
            buildah(
                "config",
                "--env",
                f"PATH={PATH}",
                "--env",
                "LANG=C.UTF-8",
                "--cmd",
                "python3",
                "--label",
                f"{RECIPE_LABEL}={wanted}",
                container,
            )
            buildah("commit", "--quiet", "--rm", container, name)
        except BaseException:
            buildah("rm", container, check=False)
            raise
    seconds = time.monotonic() - started
    log(f"stand-in base {name}: built in {seconds:.0f} s")
    return True, seconds


def _configure_rootfs(rootfs: Path, settings: dict[str, str], ca_bundle: Path) -> None:
    """What the official image has and a Debian minbase lacks, and what the build needs here."""
    for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for item in (rootfs / cache).glob("*"):
            if item.is_file():
                item.unlink()
    for marker in (rootfs / "usr/lib").glob("python3*/EXTERNALLY-MANAGED"):
        marker.unlink()
    for command, target in (("python", "/usr/bin/python3"), ("pip", "/usr/bin/pip3")):
        link = rootfs / "usr/local/bin" / command
        link.unlink(missing_ok=True)
        link.symlink_to(target)
    shutil.copyfile(ca_bundle, rootfs / CA_BUNDLE.lstrip("/"))
    lines = ["[global]", *(f"{key} = {value}" for key, value in settings.items())]
    (rootfs / "etc/pip.conf").write_text("\n".join(lines) + "\n")


def build_image(
    buildah: Buildah, tag: str, context: Path = ROOT, log: Callable[[str], object] = print
) -> float:
    """`buildah build` of the repository's Dockerfile, never pulling. Returns seconds.

    Without --layers: with the vfs driver every cached step copies the whole root file system,
    which made a fully cached build slower than one commit at the end (figures: docs/benchmarks.md,
    "Figures behind the code").
    The image that the new build replaces is pruned so the cache does not grow."""
    started = time.monotonic()
    buildah(
        "build",
        "--isolation",
        "chroot",
        "--network",
        "host",
        "--pull-never",
        "--tag",
        tag,
        str(context),
        timeout=900,
    )
    buildah("rmi", "--prune", check=False)
    seconds = time.monotonic() - started
    log(f"image {tag}: built in {seconds:.0f} s")
    return seconds


def main(argv: list[str] | None = None) -> int:
    import yaml

    metadata = yaml.safe_load((ROOT / "metadata.yaml").read_text())["data"]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tag", default=f"{metadata['dockerRepository']}:{metadata['dockerImageTag']}")
    parser.add_argument(
        "--cache", type=Path, default=cache_dir(), help="buildah storage (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    buildah = Buildah(args.cache)
    build_base(buildah)
    build_image(buildah, args.tag)
    sizes = buildah.layer_sizes(args.tag)
    base = buildah.layer_sizes(base_image_name())
    print(f"image {args.tag}: {sum(sizes) / 1e6:.0f} MB, of which the base {sum(base) / 1e6:.0f} MB")
    print(f"run it: buildah --root {args.cache}/storage --runroot {args.cache}/run --storage-driver vfs ...")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
