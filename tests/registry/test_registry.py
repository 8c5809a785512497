import pytest

from benchmark.errors import DsbenchError
from benchmark.registry import Registry


def test_register_get_and_duplicate_key_raises():
    reg = Registry("thing")
    reg.register("alpha", 1)

    @reg.register("beta_two")
    def beta():
        return 2

    assert reg.get("alpha") == 1 and reg.create("beta_two") == 2
    assert reg.keys() == ["alpha", "beta_two"] and "alpha" in reg
    with pytest.raises(ValueError, match="twice"):
        reg.register("alpha", 3)


def test_unknown_key_lists_close_matches():
    reg = Registry("method")
    reg.register("edge_based", 1)
    reg.register("uniform", 2)
    with pytest.raises(DsbenchError, match="did you mean edge_based"):
        reg.get("edge_base")
    with pytest.raises(DsbenchError, match="known: edge_based, uniform"):
        reg.get("zzz")


@pytest.mark.parametrize("key", ["Upper", "has-dash", "1digit", ""])
def test_keys_are_snake_case(key):
    with pytest.raises(ValueError):
        Registry("x").register(key, 1)
