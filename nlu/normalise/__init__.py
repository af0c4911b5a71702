"""Deterministic parsers that turn entity text into the normalised values of the NLU schema.

Each module handles one kind of value and is usable on its own (the skills reuse them to parse
answers to follow-up questions, e.g. "how much space?" → ``parse_size``). This package's
``__all__`` is its public surface: code outside ``nlu/`` (the workflow engine's expressions and
fields) imports only these names, never the modules below.
"""

from nlu.normalise.counts import parse_count, parse_large_number
from nlu.normalise.dates import parse_date
from nlu.normalise.durations import parse_duration
from nlu.normalise.hostlists import expand_hostlist
from nlu.normalise.ids import parse_job_id, parse_request_id
from nlu.normalise.sizes import parse_size, unit_bytes

__all__ = [
    "expand_hostlist",
    "parse_count",
    "parse_date",
    "parse_duration",
    "parse_job_id",
    "parse_large_number",
    "parse_request_id",
    "parse_size",
    "unit_bytes",
]
