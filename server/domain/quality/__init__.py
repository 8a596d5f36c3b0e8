"""Data quality as plain functions: what each district and sub-county should send
(`expectations`, from forms/expectations.yaml) and the screens over what it sent (`checks`)."""
