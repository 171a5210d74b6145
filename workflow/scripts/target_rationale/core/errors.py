"""Input errors: one line per problem, each naming the file, the place and the fix."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

#: How many offending items a message lists before it says "and N more".
MAX_LISTED = 5


class InputError(ValueError):
    """Bad user input: one line per problem, each naming the file, the place and the fix."""

    def __init__(self, problems: str | list[str]):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


@contextlib.contextmanager
def input_errors_reported() -> Iterator[None]:
    """In a rule script: print each problem of an :class:`InputError` as an ``Input error: ...`` line on stderr
    (as the workflow does before any job), then let the error end the job."""
    try:
        yield
    except InputError as error:
        for problem in error.problems:
            print(f"Input error: {problem}", file=sys.stderr)
        raise


def listing(items: list | pd.Index, most: int = MAX_LISTED) -> str:
    """Format up to ``most`` items as ``'a', 'b' and 3 more``."""
    items = [str(i) for i in items]
    shown = ", ".join(f"'{i}'" for i in items[:most])
    return shown + (f" and {len(items) - most} more" if len(items) > most else "")
