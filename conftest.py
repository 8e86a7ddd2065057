import pytest

# The CDK's standard tests get their `scenario` fixture from its plugin; every test that needs the
# Sentry emulator gets `emulator` and `make_emulator` from the emulator's.
pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks", "sentry_emulator.fixtures"]


# `make test` runs two pytest-xdist workers with `--dist loadgroup --no-loadscope-reorder`: a
# group's tests run on one worker, in the order collected below. Every test is in the group of its
# file, so that a file's module fixtures (an emulator, a built virtual environment) are made once,
# as with `--dist loadfile`; but a test of a file marked `spread` (long tests sharing no module
# fixture: the benchmark's smoke sections, the resumed syncs, the local syncs) is a group of its
# own, so that the two workers share that file. The files that take longest are handed out first,
# then the other end-to-end files, then the quick unit tests: the workers do not end with one of
# them alone on a long file while the other is idle.
LONGEST_FIRST = (
    "integration_tests/test_bench_smoke.py",
    "integration_tests/test_resume_e2e.py",
    "integration_tests/test_local_sync.py",
    "integration_tests/test_packaging.py",
)
SLOWER_DIRECTORIES = ("integration_tests/",)


def _file_of(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]


def _start_rank(item: pytest.Item) -> int:
    path = _file_of(item)
    if path in LONGEST_FIRST:
        return LONGEST_FIRST.index(path)
    return len(LONGEST_FIRST) + (0 if path.startswith(SLOWER_DIRECTORIES) else 1)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            spread = item.get_closest_marker("spread") is not None
            item.add_marker(pytest.mark.xdist_group(item.nodeid if spread else _file_of(item)))
    items.sort(key=_start_rank)  # stable: each file's tests keep their order
