import pytest

from tests.keras_fer_data import helpers


@pytest.fixture(scope="session")
def prepared_ast(tmp_path_factory):
    """12 synthetic clips prepared with the AST sampler (5 frames): every one of the 16 frames is kept."""
    return helpers.make_prepared(tmp_path_factory.mktemp("prepared_ast"), "ast", helpers.SAMPLER_OPTIONS)


@pytest.fixture(scope="session")
def prepared_stcam(tmp_path_factory):
    """The same clips prepared with STCAM's sampler (jitter 0.2): 10 of the 16 frames are kept."""
    return helpers.make_prepared(tmp_path_factory.mktemp("prepared_stcam"), "stcam", {"jitter": 0.2})
