"""Run on its own, with no test using the fixture and no region in the environment: the
installed plugin leaves the user's environment as it found it."""

import os


def test_the_plugin_sets_no_region_outside_the_fixture():
    assert "AWS_DEFAULT_REGION" not in os.environ
    assert "AWS_REGION" not in os.environ
