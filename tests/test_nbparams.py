import pytest

from workbench.pipeline.nbparams import NotebookParamsError, parse_params_source, read_params

CELL = '''rounds = 4  # evolution rounds [min 0]
temperature = 0.7  # sampling temperature [0..2]
policy = "keep"  # what to do {keep|eliminate}
ops = ["a", "b"]  # which ops
limit: int | None = None  # optional cap
flag = True  # a switch'''


def test_types_rules_and_help():
    p = parse_params_source(CELL)
    assert p["rounds"].default == 4 and p["rounds"].rule == (">=", 0)
    assert p["temperature"].rule == ("range", 0, 2)
    assert p["policy"].rule == ("choices", ("keep", "eliminate"))
    assert p["ops"].types == (list,)
    assert p["limit"].types == (int, type(None))
    assert p["flag"].help == "a switch"


@pytest.mark.parametrize("key,value,ok", [
    ("rounds", 2, True), ("rounds", -1, False), ("rounds", "2", False), ("rounds", 2.5, False),
    ("rounds", True, False), ("temperature", 1, True), ("temperature", 2.5, False),
    ("policy", "eliminate", True), ("policy", "drop", False), ("ops", "a", False),
    ("limit", None, True), ("limit", 3, True), ("flag", 1, False),
])
def test_check(key, value, ok):
    assert (parse_params_source(CELL)[key].check(value) is None) == ok


def test_cell_rules_are_enforced():
    with pytest.raises(NotebookParamsError, match="help comment"):
        parse_params_source("x = 1")
    with pytest.raises(NotebookParamsError, match="literal"):
        parse_params_source("x = len('a')  # computed")
    with pytest.raises(NotebookParamsError, match="annotation"):
        parse_params_source("x = None  # nothing")


def test_exactly_one_parameters_cell(tmp_path):
    nb = tmp_path / "nb.py"
    nb.write_text('# %%\nprint(1)\n')
    with pytest.raises(NotebookParamsError, match="found 0"):
        read_params(nb)
    nb.write_text('# %% tags=["parameters"]\na = 1  # a\n# %% tags=["parameters"]\nb = 2  # b\n')
    with pytest.raises(NotebookParamsError, match="found 2"):
        read_params(nb)
    nb.write_text('# %% tags=["parameters"]\na = 1  # a\n\n# %%\nb = a\n')
    assert list(read_params(nb)) == ["a"] and read_params(nb)["a"].line == 2


def test_help_comment_without_equals_sign_so_papermill_can_read_it():
    with pytest.raises(NotebookParamsError, match="no '='"):
        parse_params_source("n = 0  # sample n; 0 = all")
