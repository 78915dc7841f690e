"""The README's LDV record (of a `make dev` request with a caller `traceparent`) against the Logboek
interface of Logboek Dataverwerkingen 1.0.0: fields, types, status, times, attributes, encryption."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import msgspec

from app.protocol.ldv import LDV_VERSION, LdvRecord

README = Path(__file__).resolve().parents[3] / "README.md"
_BLOCK = re.compile(
    r"<!-- ldv-example:start -->\s*```json\n(?P<json>.*?)\n```\s*<!-- ldv-example:end -->", re.DOTALL
)
_REQUIRED = {"trace_id", "span_id", "status", "name", "start_time", "end_time", "attributes"}
_OPTIONAL = {"parent_span_id", "resource"}
_ATTRIBUTES = {
    "dpl.core.processing_activity_id",
    "dpl.core.data_subject_id",
    "dpl.core.data_subject_id_type",
    "dpl.core.foreign_operation.processor",
    # Foutafhandeling: only the type (the broker's problem code), never a message or stack trace.
    "exception.type",
}
# Milliseconds since the Epoch have 13 digits for centuries to come; seconds (10 digits) or
# microseconds (16) fall outside. A magnitude, not a date: the check never ages.
_EARLIEST_MS = 10**12
_LATEST_MS = 10**13


def example() -> dict[str, Any]:
    text = README.read_text("utf-8")
    found = _BLOCK.search(text)
    assert found is not None, "README.md has no ```json block between the ldv-example markers"
    document: dict[str, Any] = json.loads(found.group("json"))
    return document


def jwe_header(token: str) -> dict[str, Any]:
    parts = token.split(".")
    assert len(parts) == 5, "dpl.core.data_subject_id is not a JWE in compact serialisation"
    encoded = parts[0]
    header: dict[str, Any] = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    return header


def hex_id(value: Any, size: int) -> bool:
    return (
        isinstance(value, str)
        and re.fullmatch(f"[0-9a-f]{{{size * 2}}}", value) is not None
        and int(value, 16) != 0
    )


def test_the_readme_names_the_version_it_follows() -> None:
    assert f"Logboek Dataverwerkingen {LDV_VERSION}" in README.read_text("utf-8") or (
        f"LDV {LDV_VERSION}" in README.read_text("utf-8")
    )


def test_the_readme_example_has_exactly_the_interfaces_fields() -> None:
    line = example()
    assert set(line) >= _REQUIRED, f"missing: {sorted(_REQUIRED - set(line))}"
    assert set(line) <= _REQUIRED | _OPTIONAL, (
        f"not in the interface: {sorted(set(line) - _REQUIRED - _OPTIONAL)}"
    )
    msgspec.convert(line, LdvRecord)  # the broker's own type of a line reads it


def test_the_readme_example_ids_are_w3c_ids() -> None:
    line = example()
    assert hex_id(line["trace_id"], 16), "trace_id: 16 bytes, lower-case hex, not all zero"
    assert hex_id(line["span_id"], 8), "span_id: 8 bytes, lower-case hex, not all zero"
    assert hex_id(line["parent_span_id"], 8), "parent_span_id: the caller's span (8 bytes)"
    assert line["parent_span_id"] != line["span_id"]


def test_the_readme_example_status_name_and_times() -> None:
    line = example()
    assert line["status"] in ("Unset", "Ok", "Error")
    assert isinstance(line["name"], str) and line["name"].strip()
    start, end = line["start_time"], line["end_time"]
    assert isinstance(start, int) and isinstance(end, int)
    assert _EARLIEST_MS <= start <= end < _LATEST_MS, "times are milliseconds since the Epoch, end >= start"


def test_the_readme_example_resource_identifies_the_broker() -> None:
    resource = example()["resource"]
    assert set(resource) == {"attributes"}
    assert resource["attributes"]["service.name"] == "brp-broker"
    assert all(isinstance(value, str) for value in resource["attributes"].values())


def test_the_readme_example_attributes_are_the_standards_only() -> None:
    line = example()
    attributes = line["attributes"]
    assert set(attributes) <= _ATTRIBUTES, f"unknown attributes: {sorted(set(attributes) - _ATTRIBUTES)}"
    assert not [key for key in attributes if key.startswith("dpl.") and not key.startswith("dpl.core.")]
    assert re.match(r"^(https?|urn):", attributes["dpl.core.processing_activity_id"])
    if "exception.type" in attributes:
        assert line["status"] == "Error"


def test_the_readme_example_subject_is_encrypted_to_the_tenant() -> None:
    attributes = example()["attributes"]
    assert attributes["dpl.core.data_subject_id_type"] == "BSN"
    token = attributes["dpl.core.data_subject_id"]
    header = jwe_header(token)
    assert header["alg"] == "ECDH-ES"
    assert header["enc"] == "A256GCM"
    assert "epk" in header
    # No BSN in clear anywhere else in the line.
    rest = json.dumps({**attributes, "dpl.core.data_subject_id": ""})
    assert not re.search(r"[0-9]{9}", rest)


def test_the_readme_example_names_the_calling_application_of_its_parent() -> None:
    line = example()
    processor = line["attributes"]["dpl.core.foreign_operation.processor"]
    assert re.match(r"^(https?|urn):", processor)
    assert "parent_span_id" in line
