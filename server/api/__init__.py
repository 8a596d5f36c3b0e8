"""The JSON read API at /api/v1/: the indicator catalog, stored values with the submissions
behind them, gap analysis and data-quality flags, scope-checked per user.

    blueprint   URL rules and the JSON problem renderer
    access      who may read, and which org units
    params      query parameters, limits and cursors
    handlers    the endpoints (thin: parse, read, render)
    render      rows as JSON
"""
