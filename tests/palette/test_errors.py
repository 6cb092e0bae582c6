"""Errors: the right class, a message that names the host and says what to do, never the key."""

from __future__ import annotations

import json
import socket

import pytest

from palette import (
    AuthenticationFailed,
    BadRequest,
    MethodNotAllowed,
    NotFound,
    PaletteClient,
    PaletteConnectionError,
    PermissionDenied,
    RetryPolicy,
    ServerError,
)
from palette.errors import error_from_response, parse_error_body, redact


def _no_secret(exc: BaseException, secret: str) -> None:
    text = " ".join(
        [
            str(exc),
            repr(exc),
            json.dumps(getattr(exc, "details", None), default=str),
            getattr(exc, "palette_message", ""),
        ]
    )
    assert secret not in text


def test_it_explains_a_rejected_key_without_repeating_it(big_sim, make_client):
    wrong = "sk-live-0123456789abcdef-wrong"
    records = []
    client = make_client(big_sim, api_key=wrong, request_log=records.append)
    with pytest.raises(AuthenticationFailed) as err:
        client.whoami()
    e = err.value
    assert e.status == 401 and not e.transient
    assert big_sim.url in str(e) and "Profile > My API Keys" in str(e)
    assert "[REDACTED]" in e.palette_message  # the simulator echoed the key, as Palette has done
    _no_secret(e, wrong)
    assert len(records) == 1 and wrong not in repr(records)


def test_it_reports_a_missing_key_as_401(big_sim):
    client = PaletteClient(big_sim.url, "placeholder", ca_pem=big_sim.ca_pem)
    client.transport.session.headers.pop("ApiKey")
    with pytest.raises(AuthenticationFailed, match="401"):
        client.whoami()
    client.close()


def test_it_explains_a_forbidden_operation(sim, make_client):
    sim.state.add_key("viewer-key", read_only=True)
    sim.state.add_key("dev-only-key", projects=[sim.project_uids[1]])
    viewer = make_client(sim, api_key="viewer-key")
    host = viewer.search_edge_hosts(states=["ready"])[0]  # reading is allowed
    with pytest.raises(PermissionDenied) as err:
        viewer.set_edge_host_tags(host.uid, {"pool": "a"})
    assert err.value.status == 403 and sim.url in str(err.value) and "grant" in str(err.value)
    _no_secret(err.value, "viewer-key")
    with pytest.raises(PermissionDenied, match="no role in project 'Default'"):
        make_client(sim, api_key="dev-only-key").search_edge_hosts()


def test_it_says_a_project_name_is_not_a_uid(big_sim, make_client):
    client = make_client(big_sim, project_uid="Default")
    with pytest.raises(NotFound) as err:
        client.list_edge_host_tags()
    assert "Project 'Default' not found" in str(err.value) and "24-hex UID, not a name" in str(err.value)


def test_it_reports_missing_objects_as_not_found(big_sim, make_client):
    with pytest.raises(NotFound) as err:
        make_client(big_sim).get_edge_host("edge-does-not-exist")
    assert err.value.code == "ResourceNotFound" and len(err.value.ref) == 64


def test_it_maps_framework_errors_with_integer_codes(big_sim, make_client):
    client = make_client(big_sim, validate=False)
    with pytest.raises(BadRequest) as err:
        client.transport.request(
            "POST",
            "/v1/dashboard/edgehosts/search",
            template="/v1/dashboard/edgehosts/search",
            project_uid=big_sim.project_uids[0],
            params={"limit": 51},
        )
    assert err.value.status == 422 and err.value.code == 608
    assert "limit in query should be less than or equal to 50" in str(err.value)
    with pytest.raises(MethodNotAllowed) as err:
        client.transport.request("GET", "/v1/edgehosts", template="/v1/edgehosts/{uid}")
    assert err.value.code == 405 and "Palette allows POST" in str(err.value)


def test_it_retries_a_500_on_reads_until_it_gives_up(sim, make_client):
    sim.set_faults("500:1")
    records = []
    client = make_client(sim, request_log=records.append)
    with pytest.raises(ServerError) as err:
        client.whoami()
    assert err.value.transient and len(records) == client.transport.retry.attempts
    assert "contact Spectro Cloud support" in str(err.value)


def test_it_names_the_host_when_nothing_listens():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before use: nothing listens there
    client = PaletteClient(f"https://127.0.0.1:{port}", "k", retry=RetryPolicy(attempts=2, base=0.01))
    with pytest.raises(PaletteConnectionError) as err:
        client.whoami()
    assert err.value.transient and err.value.before_send
    assert f"https://127.0.0.1:{port} could not be reached" in str(err.value)


def test_it_parses_error_bodies_of_any_shape():
    app = parse_error_body(b'{"code":"InvalidHostCluster","message":"m","ref":"r"}', 400)
    assert app["code"] == "InvalidHostCluster" and app["ref"] == "r"
    assert parse_error_body(b'{"code":608,"message":"limit"}', 422)["code"] == 608
    plain = parse_error_body(b"<html>502 Bad Gateway</html>", 502, "Bad Gateway")
    assert plain == {
        "code": "Bad Gateway",
        "message": "<html>502 Bad Gateway</html>",
        "ref": "",
        "details": None,
    }
    assert parse_error_body(b"", 503, "Service Unavailable")["code"] == "Service Unavailable"
    assert parse_error_body(b"[1,2]", 500)["message"] == "[1,2]"


def test_it_redacts_the_key_wherever_palette_echoes_it():
    key = "a1b2/c3+d4"
    body = json.dumps(
        {
            "code": "ResourceNotFound",
            "message": f"ApiKey {key} not found",
            "details": {"apiKey": key, "url": "/x?key=a1b2%2Fc3%2Bd4", "list": [key]},
        }
    )
    err = error_from_response(
        host="https://palette.example.com",
        method="GET",
        path="/v1/users/info",
        status=404,
        body=body,
        secrets=[key],
    )
    assert isinstance(err, NotFound)
    _no_secret(err, key)
    assert "a1b2%2Fc3%2Bd4" not in json.dumps(err.details)
    assert redact({"k": [key, 1]}, [key]) == {"k": ["[REDACTED]", 1]}
