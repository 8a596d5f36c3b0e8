"""Data quality and gap analysis read from the database for an area and a cycle.

    report        the reads around the data-quality screens (server/domain/quality/checks.py)
    gap_analysis  each unit's gap table (server/domain/gaps.py) from one read of its values

Every flag names the submissions behind it, so a reviewer can go from the flag to the data.
"""
