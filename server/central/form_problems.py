"""The services' refusals of a form change as Central's errors (statuses and codes as Central
answers them; our own code in details.problem)."""

from __future__ import annotations

from server.domain.problems import Problem
from server.services.form_definitions import DefinitionError, DefinitionWarnings
from server.services.form_states import FormStateError, MediaMissing, VersionTaken

WARNINGS_MESSAGE = (
    "The Form is valid, but with warnings. Please check the warnings and if they are "
    "acceptable resubmit with ?ignoreWarnings=true"
)


def definition_problem(exc: DefinitionError | DefinitionWarnings) -> Problem:
    if isinstance(exc, DefinitionWarnings):
        return Problem(
            400,
            "central.xlsform_warnings",
            WARNINGS_MESSAGE,
            {"warnings": {"xlsFormWarnings": [str(w) for w in exc.warnings]}},
        )
    text = "; ".join(str(i) for i in exc.issues)
    if exc.kind == "xlsform":
        return Problem(
            400,
            "central.xlsform_invalid",
            f"The given XLSForm file was not valid: {text}",
            {
                "error": text,
                "warnings": [str(w) for w in exc.warnings],
                "issues": [i.as_dict() for i in exc.issues + exc.warnings],
            },
        )
    if exc.kind == "no_form_id":
        return Problem(
            400,
            "central.missing_parameter",
            f"Required parameter formId missing: {text}",
            {"field": "formId"},
        )
    if exc.kind == "no_meta":
        return Problem(400, "central.missing_meta", text)
    if exc.kind == "form_id":
        return Problem(400, "central.unexpected_value", text, {"field": "formId"})
    return Problem(
        400,
        "central.unparseable",
        f"Could not parse the given data as an XForm: {text}",
        {"format": "xml"},
    )


def state_problem(exc: FormStateError, xml_form_id: str, version: str | None = None) -> Problem:
    if isinstance(exc, VersionTaken):
        return Problem(
            409,
            "form.version_taken",
            f"You tried to publish the form '{xml_form_id}' with version '{version or ''}', but "
            "a published form has already existed in this project with those identifiers. "
            "Please choose a new name and try again. You can re-request with ?version=xyz to "
            "have the version changed in-place for you.",
            {"xmlFormId": xml_form_id, "version": version or ""},
        )
    if isinstance(exc, MediaMissing):
        return Problem(409, "form.media_missing", str(exc), {"missing": exc.missing})
    return Problem(409, "form.state_conflict", str(exc))
