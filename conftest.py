# The CDK's standard tests get their `scenario` fixture from its plugin; every test that needs the
# Sentry emulator gets `emulator` and `make_emulator` from the emulator's.
pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks", "sentry_emulator.fixtures"]
