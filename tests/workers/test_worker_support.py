"""Forms and submissions written straight into the database, for the worker and sweeper tests
(the receiver is tested on its own)."""

from __future__ import annotations

import datetime as dt
import hashlib

from pyxform.xls2xform import convert
from sqlalchemy.orm import Session

from server.db import utcnow
from server.domain.xform.schema import read_form
from server.models import ExportJob, Form, FormVersion, Submission
from server.models.forms import VersionState
from server.services.users import create_user

MINI_FORM = """
| survey |
| | type | name | label | required |
| | integer | pupils | Pupils | yes |
| | begin_repeat | classes | Class | |
| | text | cname | Name | yes |
| | end_repeat | | | |
| settings |
| | form_id | version |
| | mini | 1 |
"""


def add_form(session: Session, xlsform_md: str = MINI_FORM) -> FormVersion:
    xform = convert(xlsform_md, form_name="data").xform.encode()
    info = read_form(xform)
    form = Form(xml_form_id=info.xml_form_id, title=info.title)
    version = FormVersion(
        form=form,
        version=info.version,
        title=info.title,
        state=VersionState.open,
        xform=xform,
        md5=hashlib.md5(xform, usedforsecurity=False).hexdigest(),
        schema=info.fields,
        published_at=utcnow(),
    )
    session.add_all([form, version])
    session.flush()
    form.current_version_id = version.id
    session.commit()
    return version


def mini_xml(instance_id: str, pupils: str = "30", classes: tuple[str, ...] = ("P1",)) -> bytes:
    repeats = "".join(f"<classes><cname>{c}</cname></classes>" for c in classes)
    return (
        f'<data id="mini" version="1"><pupils>{pupils}</pupils>{repeats}'
        f"<meta><instanceID>{instance_id}</instanceID></meta></data>"
    ).encode()


def add_submission(
    session: Session,
    version: FormVersion,
    xml: bytes,
    instance_id: str,
    enqueued_at: dt.datetime | None = None,
) -> int:
    submission = Submission(
        form_id=version.form_id,
        form_version_id=version.id,
        instance_id=instance_id,
        xml=xml,
        xml_sha256=hashlib.sha256(xml).hexdigest(),
        enqueued_at=enqueued_at if enqueued_at is not None else utcnow(),
    )
    session.add(submission)
    session.commit()
    return submission.id


def add_export_job(session: Session, version: FormVersion, **values: object) -> int:
    """A CSV export of `version`'s form asked for by a new admin, as the web app stores one."""
    user = create_user(session, "exporter", "a-long-password-1", "admin", "DMIP", [])
    job = ExportJob(
        form_id=version.form_id,
        requested_by=user.id,
        format="csv",
        filters={"form_id": version.form_id},
        **values,
    )
    session.add(job)
    session.flush()
    return job.id
