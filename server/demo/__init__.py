"""The demo data set: synthetic but plausible answers to all seven forms for a few demo
districts (`dataset`, drawing on `common` and `answers`), loaded through the path real
submissions take (`load`)."""
