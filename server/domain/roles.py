"""The roles people have, and what each is for.

admin            forms, users and org units; sees everything
coordinator      reviews data and draft DMIPs for the districts they cover
subcounty_staff  submits assessments; sees their sub-county's data and their district's plan
enumerator       fills forms in ODK Collect for their assigned forms and area
"""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    admin = "admin"
    coordinator = "coordinator"
    subcounty_staff = "subcounty_staff"
    enumerator = "enumerator"


# Who reads indicators, data quality and plans (the web pages and the JSON API); enumerators
# send data from ODK Collect and read none of it.
READERS = (Role.admin, Role.coordinator, Role.subcounty_staff)
