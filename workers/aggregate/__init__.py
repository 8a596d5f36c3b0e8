"""Pure aggregation arithmetic: mergeable partial sums, outlier scores and gap analysis.

Nothing here touches a database or a queue; the aggregation tasks store and merge these values.
"""
