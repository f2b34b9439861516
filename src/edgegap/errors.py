"""The one exception type for mistakes a user can fix (bad name, file, shape)."""


class UserError(Exception):
    """An input problem. The CLI prints its message on one line and exits with code 2.

    The message names what is wrong and how to fix it; bugs raise other exceptions.
    """


def first_line(error: BaseException) -> str:
    """`type: message`, the message's first line only (the type alone where it is empty): how
    an exception raised by a user's code (a builder, a model's forward) is quoted in a
    `UserError`."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
