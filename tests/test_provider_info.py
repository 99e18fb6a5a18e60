"""Provider registration: entry point, provider-info dict, and what the Airflow CLI shows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import distribution, entry_points
from pathlib import Path

import pytest

from airflow_provider_intercom.get_provider_info import get_provider_info
from airflow_provider_intercom.hooks.intercom import REGION_BASE_URLS, IntercomHook

AIRFLOW = str(Path(sys.executable).with_name("airflow"))


def test_entry_point_targets_get_provider_info():
    (entry,) = [
        ep for ep in entry_points(group="apache_airflow_provider") if ep.value.startswith("airflow_provider")
    ]
    assert entry.value == "airflow_provider_intercom.get_provider_info:get_provider_info"
    assert entry.load() is get_provider_info


def test_package_name_matches_distribution():
    assert get_provider_info()["package-name"] == distribution("airflow-provider-intercom").metadata["Name"]


def test_get_provider_info_imports_nothing_heavy():
    code = (
        "import sys; import airflow_provider_intercom.get_provider_info as m; m.get_provider_info();"
        "print(sorted(n for n in sys.modules if n.split('.')[0] in ('airflow', 'requests', 'pendulum')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.replace("'", '"')) == []


def test_connection_type_matches_hook():
    (conn_type,) = get_provider_info()["connection-types"]
    assert conn_type["connection-type"] == IntercomHook.conn_type
    assert conn_type["hook-name"] == IntercomHook.hook_name
    module, _, name = conn_type["hook-class-name"].rpartition(".")
    assert getattr(__import__(module, fromlist=[name]), name) is IntercomHook
    behaviour = conn_type["ui-field-behaviour"]
    assert sorted(behaviour["hidden-fields"]) == ["login", "port", "schema"]
    assert behaviour["relabeling"]["password"] == "Access token"
    assert behaviour["placeholders"]["host"]
    fields = conn_type["conn-fields"]
    assert fields["region"]["schema"]["enum"] == list(REGION_BASE_URLS)
    assert fields["region"]["schema"]["default"] == "us"
    assert fields["api_version"]["schema"]["default"] == "2.11"  # the hook reads its default from here


def run_airflow(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AIRFLOW__CORE__UNIT_TEST_MODE": "False", "PYTHONWARNINGS": "default"}
    return subprocess.run([AIRFLOW, *args], capture_output=True, text=True, env=env, timeout=180, check=False)


@pytest.fixture(scope="module")
def providers_list() -> subprocess.CompletedProcess[str]:
    return run_airflow("providers", "list", "--output", "json")


def test_airflow_providers_list_shows_provider_without_warning(providers_list):
    assert providers_list.returncode == 0, providers_list.stderr
    providers = {item["package_name"]: item for item in json.loads(providers_list.stdout)}
    from airflow_provider_intercom import __version__

    assert providers["airflow-provider-intercom"]["version"] == __version__
    noise = [line for line in providers_list.stderr.splitlines() if "intercom" in line.lower()]
    assert noise == []


def test_airflow_providers_hooks_shows_intercom_without_warning():
    result = run_airflow("providers", "hooks", "--output", "json")
    assert result.returncode == 0, result.stderr
    hooks = {item["connection_type"]: item for item in json.loads(result.stdout)}
    assert hooks["intercom"]["class"] == "airflow_provider_intercom.hooks.intercom.IntercomHook"
    assert hooks["intercom"]["package_name"] == "airflow-provider-intercom"
    noise = [line for line in result.stderr.splitlines() if "intercom" in line.lower()]
    assert noise == []


def test_declared_modules_import():
    import importlib

    info = get_provider_info()
    modules = [
        module
        for kind in ("hooks", "operators", "sensors", "triggers")
        for entry in info[kind]
        for module in entry["python-modules"]
    ]
    assert modules
    for module in modules:
        importlib.import_module(module)


def test_every_hooks_module_is_declared():
    import pkgutil

    import airflow_provider_intercom.hooks as hooks

    found = {
        info.name for info in pkgutil.walk_packages(hooks.__path__, f"{hooks.__name__}.") if not info.ispkg
    }
    (entry,) = get_provider_info()["hooks"]
    assert set(entry["python-modules"]) == found
