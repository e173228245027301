"""Schemathesis against each service's own OpenAPI schema, with a real user's token.

Every operation a user may call is fuzzed (examples, coverage, fuzzing and
stateful phases; ``MAX_EXAMPLES`` per operation) on the service's own port:
no answer may be a 5xx, every status must be one the schema lists for the
operation (errors included: servicekit.openapi.document_errors adds 400, 401,
403, 404, 413 and the HTTP server's 414/431 where they apply, views their own
409, 422, 429), and every answer must have the documented content type and
match the documented body. A method a path lacks has no operation to list its
405 on: ``unsupported_method`` checks that it gets one, with ``Allow``
(docs/spec/api.md, "General rules").

Left out, each for a reason: ``/internal/*`` (service tokens only; the security
tests cover them) and the ``.../`` twins of every path (the same view, listed
twice by ``optional_slash``).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from gateway_support import register_and_login
from support import Suite

pytestmark = pytest.mark.e2e

MAX_EXAMPLES = 20
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "unsupported_method",
    ]
)
# Not fuzzed: service-to-service routes, and the trailing-slash twin of each path.
EXCLUDED_PATHS = r"^/internal/|./$"
SCHEMATHESIS = Path(sys.executable).with_name("st")


@pytest.fixture(scope="module")
def token(shared_suite: Suite) -> str:
    """A user's access token, from signing up and logging in through the gateway."""
    return str(register_and_login(shared_suite)["access"])


def failures_of(output: str) -> str:
    """The report's failures and summary, without the very long lines of a traceback."""
    start = output.find("=== FAILURES")
    if start == -1:
        start = output.find("=== ERRORS")
    text = output[start:] if start != -1 else output
    lines = [line if len(line) < 400 else line[:400] + " ..." for line in text.splitlines()]
    return "\n".join(lines)[-12000:]


@pytest.mark.parametrize("service", ["todo-service", "user-service", "notification-service"])
def test_no_5xx_and_no_response_outside_the_schema(
    shared_suite: Suite, token: str, service: str
) -> None:
    # when Schemathesis fuzzes every public operation of the service, as a signed-in user
    result = subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            shared_suite.url(service, "/schema"),
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            CHECKS,
            "--exclude-path-regex",
            EXCLUDED_PATHS,
            "--max-examples",
            str(MAX_EXAMPLES),
            "--workers",
            "1",
            "--request-timeout",
            "10",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    # then it reports no failure and no error
    output = result.stdout + result.stderr
    tested = re.search(r"Tested: (\d+)", output)
    assert tested, f"Schemathesis did not run:\n{output[-3000:]}"
    assert int(tested.group(1)) > 0, f"Schemathesis tested nothing:\n{output[-3000:]}"
    assert result.returncode == 0, (
        f"Schemathesis found problems in {service}'s API (reproduce with the curl lines):\n"
        + failures_of(output)
    )
