"""SQLAlchemy models. Importing this package registers every table on Base.metadata."""

from server.models.aggregates import Aggregate, AggregationState
from server.models.audit import AuditEvent
from server.models.central import ApiSession, AppUserKey, SubmissionComment
from server.models.forms import Form, FormAssignment, FormVersion, MediaFile
from server.models.guessing import GuessCount
from server.models.org import OrgUnit
from server.models.plans import (
    DmipPlan,
    DocumentJob,
    PlanComment,
    PlanEvent,
    PlanSection,
    PlanState,
    PlanVersion,
)
from server.models.submissions import Attachment, Submission, SubmissionReview, SubmissionRow
from server.models.users import User, UserScope
from server.models.web import ExportJob

__all__ = [
    "Aggregate",
    "AggregationState",
    "ApiSession",
    "AppUserKey",
    "Attachment",
    "AuditEvent",
    "DmipPlan",
    "DocumentJob",
    "ExportJob",
    "Form",
    "FormAssignment",
    "FormVersion",
    "GuessCount",
    "MediaFile",
    "OrgUnit",
    "PlanComment",
    "PlanEvent",
    "PlanSection",
    "PlanState",
    "PlanVersion",
    "Submission",
    "SubmissionComment",
    "SubmissionReview",
    "SubmissionRow",
    "User",
    "UserScope",
]
