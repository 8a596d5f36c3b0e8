"""Indicator aggregates: what each submission contributes (compiled to SQL from the catalog),
kept incrementally per indicator, org unit and cycle, and rebuilt from scratch on demand.

    store.refresh(session, ids)     bring aggregates in line with submissions' eligibility
    store.decide_counted(...)       the worker's hooks around recording a batch it processed
    store.batch_processed(...)
    rebuild.rebuild(db, cycle=None) recompute everything in one streaming pass
    reading                         values, with the submissions behind them
"""
