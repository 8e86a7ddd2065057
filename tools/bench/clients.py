"""The programs being compared, run as their real commands: our `source-sentry`, Airbyte's own
Sentry connector and sentry-cli (each from PyPI, in its own virtual environment under .bench/),
and the plain-requests floor."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sentry_emulator.process import ROOT
from tools.airbyte_run import catalog
from tools.bench import measure
from tools.bench.emulator import EmulatorProcess

# The development environment's programs (py-spy, source-declarative-manifest, the floor's Python).
DEV_BIN = Path(sys.executable).parent
# Our command. The full run puts it in a virtual environment of its own (`use_own_venv`), as a user
# installs it and as the Docker image holds it: the package and its dependencies alone. The
# development environment also holds PyAirbyte, whose dependencies (boto3 among them) the CDK's
# HTTP cache imports when it finds them: start-up time that no user's sync pays (how much:
# docs/benchmarks.md, "Figures behind the code").
OURS = str(DEV_BIN / "source-sentry")
# `--connector-overlay DIR`: a directory put first on PYTHONPATH of every run of our command, so a
# candidate fix to source_sentry/ can be measured without touching the tree.
OVERLAY: dict[str, str] = {}


def our_env(env: dict | None = None) -> dict:
    env = dict(os.environ if env is None else env)
    if OVERLAY.get("path"):
        env["PYTHONPATH"] = OVERLAY["path"] + os.pathsep + env.get("PYTHONPATH", "")
    return env


BENCH_DIR = ROOT / ".bench"
OFFICIAL_PACKAGE = "airbyte-source-sentry"
OFFICIAL_VENV = BENCH_DIR / "venv-airbyte-source-sentry"
CLI_VENV = BENCH_DIR / "venv-sentry-cli"
OUR_VENV = BENCH_DIR / "venv-source-sentry"


def use_own_venv() -> None:
    """Run our command from OUR_VENV, holding the working tree installed in editable mode (so the
    tree as it is runs, with no copy to go stale) and nothing else the package does not ask for."""
    global OURS
    python = OUR_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(OUR_VENV)], check=True)
    # The versions the image installs (the door of the speed wing accepts only tested ones), then
    # the package itself without resolving again.
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "-r", str(ROOT / "requirements" / "runtime.lock")], check=True)
    subprocess.run([*pip, "--no-deps", "-e", str(ROOT)], check=True)
    OURS = str(OUR_VENV / "bin" / "source-sentry")
    compile_ours()


def compile_ours() -> None:
    """Compile our modules, as pip does when it installs a package: this checkout may be run with
    PYTHONDONTWRITEBYTECODE, and would then compile them on every start."""
    import compileall

    import source_sentry

    compileall.compile_dir(str(Path(source_sentry.__file__).parent), quiet=1)


class Workdir:
    """Config, catalog and state files for runs, in one directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self._n = 0

    def read_args(self, config: dict, streams: list[str] | None, mode: str, state: Any = None) -> list[str]:
        self._n += 1
        stem = self.path / f"run{self._n}"
        Path(f"{stem}.config.json").write_text(json.dumps(config))
        Path(f"{stem}.catalog.json").write_text(json.dumps(catalog(streams, mode)))
        args = ["read", "--config", f"{stem}.config.json", "--catalog", f"{stem}.catalog.json"]
        if state is not None:
            Path(f"{stem}.state.json").write_text(json.dumps(state))
            args += ["--state", f"{stem}.state.json"]
        return args


def our_config(emu: EmulatorProcess, projects: list[str] | None = None, bare_host: bool = False) -> dict:
    config = emu.config(hostname=emu.host_port) if bare_host else emu.config()
    if projects:
        config["projects"] = projects
    return config


def official_config(emu: EmulatorProcess, project: str) -> dict:
    # It builds https://{hostname}/api/0/: a bare host is all it can take.
    return emu.config(hostname=emu.host_port, project=project)


def read(
    command: str,
    emu: EmulatorProcess,
    work: Workdir,
    config: dict,
    streams: list[str] | None = None,
    *,
    mode: str = "incremental",
    state: Any = None,
    env: dict | None = None,
    collect_ids: bool = False,
    timeout: float = 1800,
) -> tuple[measure.Measurement, dict]:
    """One `read` of ``command``; the measurement and the requests the emulator saw."""
    emu.reset_log()
    server_cpu = emu.cpu_seconds()
    m = measure.run(
        [command, *work.read_args(config, streams, mode, state)],
        env=our_env(env) if command == OURS else env,
        timeout=timeout,
        cwd=work.path,
        collect_ids=collect_ids,
    )
    requests_seen = emu.request_counts()
    requests_seen["server_cpu"] = emu.cpu_seconds() - server_cpu
    return m, requests_seen


def floor(
    emu: EmulatorProcess, streams: list[str], projects: list[str] | None = None
) -> tuple[measure.Measurement, dict]:
    emu.reset_log()
    env = dict(os.environ, BENCH_TOKEN=emu.token)
    if emu.ca_cert:
        env["REQUESTS_CA_BUNDLE"] = emu.ca_cert
    argv = [
        sys.executable,
        "-m",
        "tools.bench.floor",
        emu.base_url,
        emu.organization,
        "--streams",
        ",".join(streams),
    ]
    if projects:
        argv += ["--projects", ",".join(projects)]
    m = measure.run(argv, env=env, cwd=ROOT, parse=False)
    out = json.loads(m.stdout_tail.strip().splitlines()[-1]) if m.returncode == 0 else {"records": {}}
    m.counts.update(out["records"])
    return m, emu.request_counts()


# Programs from PyPI ---------------------------------------------------------------------------
def ensure_venv(venv: Path, package: str) -> None:
    """A virtual environment of its own holding ``package`` (the newest on PyPI when created)."""
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    probe = subprocess.run([str(python), "-m", "pip", "show", package], capture_output=True, text=True)
    if probe.returncode != 0:
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", package],
            check=True,
        )


def package_versions(venv: Path, *names: str) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json, sys; "
        "print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))"
    )
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code, *names], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def official_command() -> str:
    # Its console script is also called source-sentry: always call it by absolute path.
    return str(OFFICIAL_VENV / "bin" / "source-sentry")


def trust_ca_in_official_venv(ca_cert: str) -> None:
    """The official connector (airbyte-cdk 6.x) sends through ``Session.send``, which ignores
    REQUESTS_CA_BUNDLE, so it verifies against certifi's bundle only: add the emulator's
    throw-away CA to the certifi bundle of that connector's own virtual environment."""
    code = "import certifi; print(certifi.where())"
    where = Path(
        subprocess.run(
            [str(OFFICIAL_VENV / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    pristine = where.with_name(where.name + ".pristine")
    if not pristine.exists():
        pristine.write_bytes(where.read_bytes())
    where.write_bytes(pristine.read_bytes() + b"\n" + Path(ca_cert).read_bytes())


def sentry_cli() -> str:
    return str(CLI_VENV / "bin" / "sentry-cli")
