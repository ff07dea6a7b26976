"""Where the tests find ../shared and the package under test.

The package comes from PYTHONPATH (build/python, which carries libane.so);
../shared from $ANE_SHARED or beside the repository. Missing data fails
the tests; it never skips them.
"""

import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


@pytest.fixture(scope="session")
def shared():
    path = os.environ.get("ANE_SHARED") or os.path.join(REPO, "..", "shared")
    path = os.path.normpath(path)
    if not os.path.isdir(os.path.join(path, "models")):
        pytest.fail(f"{path}/models is missing: the tests need ../shared "
                    "(or ANE_SHARED)")
    return path


@pytest.fixture(scope="session")
def models(shared):
    return os.path.join(shared, "models")


@pytest.fixture(scope="session")
def golden(shared):
    with open(os.path.join(shared, "golden",
                           "stories260K_greedy_once_upon_a_time_n200.txt"),
              encoding="utf-8") as f:
        return f.read()
