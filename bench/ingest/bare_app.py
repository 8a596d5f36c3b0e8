"""The baseline: a Flask endpoint that only reads the multipart body and answers 201.

Served by gunicorn with the same settings as the real app, it measures what the web stack
itself costs on this machine, so the real receiver's rate is reported as a ratio of it.
"""

from flask import Flask, request

app = Flask(__name__)


@app.post("/submission")
def submission():  # type: ignore[no-untyped-def]
    request.files.get("xml_submission_file")
    return (
        '<OpenRosaResponse xmlns="http://openrosa.org/http/response">'
        '<message nature="submit_success">ok</message></OpenRosaResponse>',
        201,
        {"Content-Type": "text/xml; charset=utf-8", "X-OpenRosa-Version": "1.0"},
    )
