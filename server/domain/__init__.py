"""The domain: what the DMIP server knows, as plain functions and values.

No Flask, no SQLAlchemy, no Celery and nothing of the HTTP side or the workers is imported
here (`.importlinter` enforces it), so all of it is tested on fixtures in microseconds.

    xform/          XForm schema, submission metadata, validation and flattening, XLSForm compiling
    expressions/    the catalog's expression language: parsing, checking, evaluation
    catalog.py      the indicator catalog (forms/catalog.yaml)
    partials.py     mergeable partial sums; indicator_values.py: a value from them
    cycles.py       planning cycles (Uganda's financial year)
    gaps.py         each indicator against its standard: the gap verdict, severity and ranking
    outliers.py     modified z-scores against peer units
    quality/        forms/expectations.yaml and the data-quality screens
    drafting/       draft DMIP sections: analysis, targets, costing, narrative
    scope.py        which org units a user's areas cover
    problems.py     the catalogue of coded problems every protocol renders
"""
