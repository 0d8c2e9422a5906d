"""Service tokens: where the realm is, and what a service without credentials is told."""

import pytest
from plimsoll_platform.service_tokens import ServiceTokenError, ServiceTokens, realm_of
from plimsoll_platform.settings import ServiceSettings


def test_the_realm_and_server_come_from_the_issuer():
    assert realm_of("http://127.0.0.1:58080/realms/plimsoll") == (
        "http://127.0.0.1:58080/",
        "plimsoll",
    )
    assert realm_of("https://sso.example.org/auth/realms/plimsoll/") == (
        "https://sso.example.org/auth/",
        "plimsoll",
    )
    for wrong in ("http://127.0.0.1:58080/", "http://host/realms/", "http://host/realms/a/b"):
        with pytest.raises(ValueError, match="not a Keycloak issuer"):
            realm_of(wrong)


def test_a_service_without_client_credentials_is_told_which_settings_to_set():
    settings = ServiceSettings(
        service_name="timesheet",
        database_url="postgresql+psycopg://nowhere/none",
        kafka_bootstrap="127.0.0.1:1",
        keycloak_issuer="http://127.0.0.1:58080/realms/plimsoll",
    )
    with pytest.raises(ServiceTokenError, match="PLIMSOLL_CLIENT_ID and PLIMSOLL_CLIENT_SECRET"):
        ServiceTokens.from_settings(settings)
