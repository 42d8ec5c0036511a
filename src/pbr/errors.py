"""Errors the CLI turns into exit codes. Messages carry ids, files, rows and columns, never
personal data (names, dates of birth, addresses, UPNs, NINOs)."""


class PbrError(Exception):
    """Bad usage or bad input: exit code 2."""

    exit_code = 2


class InputFileError(PbrError):
    """A delivered file that cannot be read at all; the refresh stops before writing."""

    def __init__(self, file: str, problem: str, *, line: int | None = None, column: str | None = None):
        self.file = file
        self.problem = problem
        self.line = line
        self.column = column
        where = file
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column '{column}'"
        super().__init__(f"{where}: {problem}")


class InputErrors(PbrError):
    """Several file problems found together, reported at once."""

    def __init__(self, errors: list[InputFileError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


class RefreshOrderError(PbrError):
    pass


class ConfigError(PbrError):
    pass
