"""Parsers of user input: shapes and dtypes."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgegap.errors import UserError
from edgegap.workload.shapes import dtype_to_bits, parse_shape


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
