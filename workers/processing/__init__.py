"""Pure submission processing: validation and flattening, with no database or queue."""

from workers.processing.submission import FormSpec, Problem, Result, Row, process

__all__ = ["FormSpec", "Problem", "Result", "Row", "process"]
