"""The one exception type for mistakes a user can fix (bad name, file, shape)."""


class UserError(Exception):
    """An input problem. The CLI prints its message on one line and exits with code 2.

    The message names what is wrong and how to fix it; bugs raise other exceptions.
    """
