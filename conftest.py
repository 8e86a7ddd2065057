import pytest
from xdist.remote import Producer
from xdist.scheduler import LoadScopeScheduling

# The CDK's standard tests get their `scenario` fixture from its plugin; every test that needs the
# Sentry emulator gets `emulator` and `make_emulator` from the emulator's.
pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks", "sentry_emulator.fixtures"]


# `make test` runs two pytest-xdist workers with `--dist loadgroup --no-loadscope-reorder`, and this
# file gives that mode its groups (GroupScheduling below): a group's tests run on one worker, in
# the order collected below. Every test is in the group of its file, so that a file's module and
# session fixtures (an emulator, a receiver, the image's virtual environment) are made once, as
# with `--dist loadfile`; but each test of a SPREAD file (long tests sharing no module fixture: the
# benchmark's smoke sections, the resumed syncs, the local syncs) is a group of its own, so that the
# two workers share that file. The files that take longest are handed out first, then the other
# end-to-end files, then the quick unit tests: the workers do not end with one of them alone on a
# long file while the other is idle.
SPREAD = (
    "integration_tests/test_bench_smoke.py",
    "integration_tests/test_resume_e2e.py",
    "integration_tests/test_local_sync.py",
)
LONGEST_FIRST = (*SPREAD, "integration_tests/test_packaging.py")
SLOWER_DIRECTORIES = ("integration_tests/",)


def _file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def group_of(nodeid: str) -> str:
    path = _file_of(nodeid)
    return nodeid if path in SPREAD else path


def _start_rank(item: pytest.Item) -> int:
    path = _file_of(item.nodeid)
    if path in LONGEST_FIRST:
        return LONGEST_FIRST.index(path)
    return len(LONGEST_FIRST) + (0 if path.startswith(SLOWER_DIRECTORIES) else 1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    marked = [item.nodeid for item in items if item.get_closest_marker("xdist_group")]
    if marked:
        raise pytest.UsageError(f"xdist_group marks are not read here (see conftest.py): {marked[:3]}")
    items.sort(key=_start_rank)  # stable: each file's tests keep their order


class GroupScheduling(LoadScopeScheduling):
    """xdist's load-by-scope scheduler, the scope of a test being its group_of.

    xdist's own loadgroup reads `xdist_group` marks by appending the group to each test's node id
    on the workers, which pytest 9.2's node ids no longer take (pytest-xdist issue 1386): every test
    became a group of its own, and the image's environment was built on both workers at once. The
    groups here come from the node id alone, so they hold whatever pytest does to node ids."""

    def _split_scope(self, nodeid: str) -> str:
        return group_of(nodeid)


@pytest.hookimpl(optionalhook=True)  # xdist's hook: a run without xdist does not know it
def pytest_xdist_make_scheduler(config: pytest.Config, log: Producer) -> LoadScopeScheduling | None:
    if config.getvalue("dist") == "loadgroup":
        return GroupScheduling(config, log)
    return None
