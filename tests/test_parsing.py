"""Parsers of user input: shapes, inputs and dtypes."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgegap.errors import UserError
from edgegap.workload.shapes import (
    INPUT_DTYPES,
    ModelInput,
    check_inputs,
    dtype_to_bits,
    parse_input,
    parse_shape,
)


@given(
    st.lists(st.integers(1, 100), min_size=1, max_size=6)
    | st.lists(st.integers(1, 10_000), min_size=1, max_size=3)
)  # at most 10**12 elements: within the 2**40 bound
def test_shape_round_trips(dims):
    assert parse_shape(",".join(map(str, dims))) == tuple(dims)
    assert parse_shape("x".join(map(str, dims))) == tuple(dims)


@given(st.text(max_size=20))
def test_any_text_is_a_shape_or_a_user_error(text):
    try:
        shape = parse_shape(text)
    except UserError as error:
        assert "shape" in str(error)
    else:
        assert shape and all(d > 0 for d in shape)


@pytest.mark.parametrize("text", ["", "1,,3", "1,3,-2", "0", "1.5,3", "a"])
def test_bad_shapes(text):
    with pytest.raises(UserError):
        parse_shape(text)


def test_dtypes():
    assert dtype_to_bits("int8") == 8 and dtype_to_bits("binary") == 1
    assert dtype_to_bits(None) is None
    with pytest.raises(UserError, match="unknown dtype"):
        dtype_to_bits("float7")


names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
shapes = st.lists(st.integers(1, 64), min_size=1, max_size=4).map(tuple)


@given(shapes, st.none() | names, st.none() | st.sampled_from(INPUT_DTYPES))
def test_an_input_round_trips_through_its_text(shape, name, dtype):
    given_input = ModelInput(shape, name, dtype)
    assert parse_input(str(given_input)) == given_input


@given(st.text(max_size=30))
def test_any_text_is_an_input_or_a_one_line_user_error(text):
    try:
        parsed = parse_input(text)
    except UserError as error:
        assert "\n" not in str(error) and "input" in str(error)
    else:
        assert parsed.shape and all(d > 0 for d in parsed.shape)
        assert parsed.dtype is None or parsed.dtype in INPUT_DTYPES


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ids:1x128:int65", "unknown input dtype 'int65'"),
        ("ids", "malformed input 'ids'"),
        ("a:b:1x2:int64", "malformed input"),
        ("1x2:3x4", "malformed input"),
        ("9ids:1x2", "malformed input name '9ids'"),
        ("ids:1x0", "impossible input shape"),
    ],
)
def test_bad_inputs_name_what_is_wrong(text, message):
    with pytest.raises(UserError, match=message):
        parse_input(text)


def test_named_inputs_are_given_once_and_after_the_positional_ones():
    check_inputs([ModelInput((1,)), ModelInput((2,), "mask")])
    with pytest.raises(UserError, match="given twice"):
        check_inputs([ModelInput((1,), "ids"), ModelInput((2,), "ids")])
    with pytest.raises(UserError, match="positional"):
        check_inputs([ModelInput((1,), "ids"), ModelInput((2,))])
