"""The one exception type for mistakes a user can make (the CLI turns it into exit code 2)."""


class UserError(ValueError):
    """A bad flag, a missing file, a model that does not fit the data: say what to do."""
