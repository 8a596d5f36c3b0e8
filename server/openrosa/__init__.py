"""The OpenRosa endpoints: form discovery, download and submission for ODK Collect."""
