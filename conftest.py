# The CDK's standard tests get their `scenario` fixture from this plugin.
pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks"]
