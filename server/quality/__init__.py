"""Data quality and gap analysis over the indicator aggregates.

    config       forms/expectations.yaml: expected counts, deadlines, plausible maxima
    checks       pure screens: completeness, lateness, outliers, impossible values, failures
    gaps         each indicator against its national standard, per district and sub-county
    report       the database reads around them, for an area and a cycle

Every flag names the submissions behind it, so a reviewer can go from the flag to the data.
"""
