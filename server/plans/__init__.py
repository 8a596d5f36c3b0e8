"""Draft DMIPs: staleness, regeneration from the aggregates, and the review workflow."""
