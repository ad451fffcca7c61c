"""PEERLOG_DEVICE_KEY_ROLES: field roles by default, a clear error for a role that does not exist."""

from __future__ import annotations

import pytest

from server.settings import Settings, SettingsError


def test_device_keys_are_for_field_roles_by_default() -> None:
    assert Settings().device_key_role_names == {"peer_leader", "volunteer"}


def test_the_roles_come_from_the_environment_and_none_switches_device_keys_off() -> None:
    env = {"PEERLOG_DEVICE_KEY_ROLES": " volunteer , peer_leader "}
    assert Settings.from_env(env).device_key_role_names == {"volunteer", "peer_leader"}
    assert Settings.from_env({"PEERLOG_DEVICE_KEY_ROLES": "none"}).device_key_role_names == set()


def test_an_unknown_role_names_the_setting() -> None:
    with pytest.raises(SettingsError, match=r"PEERLOG_DEVICE_KEY_ROLES.*boss"):
        Settings.from_env({"PEERLOG_DEVICE_KEY_ROLES": "volunteer,boss"})
