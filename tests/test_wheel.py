"""
The wheel as a user gets it: built as ``make dist`` builds it, installed with pip into a fresh
virtualenv (the Airflow and common-compat versions of the interpreter running this test, so the
same test proves the wheel on each Airflow line), and used from outside the checkout.

The fresh venv shares nothing with this one: every command runs from a temporary folder, with no
PYTHONPATH and a throwaway AIRFLOW_HOME, and checks that the code it runs is the installed copy.
The one version, ``airflow_provider_intercom.__version__``, must match the wheel and CHANGELOG.md.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.parser import Parser
from importlib.metadata import distributions, version
from pathlib import Path

import pytest

from airflow_provider_intercom import __version__

REPO = Path(__file__).resolve().parents[1]
DIST_NAME = "airflow-provider-intercom"
PACKAGE = "airflow_provider_intercom"
TIMEOUT = 600


@dataclass
class InstalledWheel:
    """A wheel built from this checkout and installed into a fresh venv."""

    wheel: Path
    sdist: Path
    venv: Path
    workdir: Path  # the cwd of every command: outside the checkout
    env: dict[str, str]
    seconds: dict[str, float] = field(default_factory=dict)

    def run(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        """Run a command of the fresh venv (``python``, ``airflow``...) from the work folder."""
        executable = str(self.venv / "bin" / args[0])
        return _run([executable, *args[1:]], cwd=self.workdir, env=self.env, timeout=timeout)


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    if result.returncode != 0:
        pytest.fail(
            f"{' '.join(command[:4])} ... exited {result.returncode}\n"
            f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-3000:]}"
        )
    return result


def _clean_env(airflow_home: Path) -> dict[str, str]:
    """This process's environment without its Airflow settings, PYTHONPATH or venv, for the fresh venv."""
    dropped = ("AIRFLOW", "PYTHONPATH", "VIRTUAL_ENV", "PYTEST_")
    env = {key: value for key, value in os.environ.items() if not key.startswith(dropped)}
    env["AIRFLOW_HOME"] = str(airflow_home)
    env["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    return env


def _constraints(path: Path) -> Path:
    """Pin every distribution of this interpreter, so the fresh venv gets the same versions, unresolved."""
    pins = {
        dist.metadata["Name"].lower(): f"{dist.metadata['Name']}=={dist.version}"
        for dist in distributions()
        if dist.metadata["Name"] and dist.metadata["Name"].lower() != DIST_NAME
    }
    path.write_text("\n".join(sorted(pins.values())) + "\n")
    return path


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InstalledWheel]:
    root = tmp_path_factory.mktemp("wheel")
    venv, dist, workdir = root / "venv", root / "dist", root / "work"
    workdir.mkdir()
    env = _clean_env(root / "airflow_home")
    constraints = _constraints(root / "constraints.txt")
    seconds: dict[str, float] = {}
    # Byte-compiling Airflow's files would double the install time and prove nothing about the wheel.
    pip_install = [
        str(venv / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "-q",
        "--no-compile",
        "-c",
        str(constraints),
    ]

    def install_dependencies() -> None:
        began = time.monotonic()
        _run([sys.executable, "-m", "venv", str(venv)], env=env, timeout=TIMEOUT)
        requirements = [
            f"apache-airflow=={version('apache-airflow')}",
            f"apache-airflow-providers-common-compat=={version('apache-airflow-providers-common-compat')}",
            f"pytest=={version('pytest')}",  # for the plugin; a user's tests have it
        ]
        _run([*pip_install, *requirements], cwd=workdir, env=env, timeout=TIMEOUT)
        seconds["venv with Airflow"] = time.monotonic() - began

    # Airflow installs while the wheel builds: the two take about as long.
    with ThreadPoolExecutor(max_workers=1) as pool:
        dependencies = pool.submit(install_dependencies)
        began = time.monotonic()
        # As `make dist`: the sdist, then the wheel from it, each in an isolated build env.
        _run([sys.executable, "-m", "build", "--outdir", str(dist), str(REPO)], cwd=REPO, timeout=TIMEOUT)
        seconds["build"] = time.monotonic() - began
        dependencies.result()
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    began = time.monotonic()
    # The wheel's own requirements are checked against what is installed, and nothing more is needed.
    _run([*pip_install, str(wheel)], cwd=workdir, env=env, timeout=TIMEOUT)
    seconds["install the wheel"] = time.monotonic() - began
    print("wheel test set-up, seconds:", {stage: round(value, 1) for stage, value in seconds.items()})
    yield InstalledWheel(wheel=wheel, sdist=sdist, venv=venv, workdir=workdir, env=env, seconds=seconds)
    shutil.rmtree(venv)  # 300 MB; pytest keeps its last three temporary folders


def wheel_metadata(wheel: Path) -> tuple[list[str], dict[str, list[str]]]:
    """Return the wheel's file names and its METADATA headers (each with every value it has)."""
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (metadata_name,) = [name for name in names if name.endswith(".dist-info/METADATA")]
        message = Parser().parsestr(archive.read(metadata_name).decode())
    headers: dict[str, list[str]] = {}
    for key, value in message.items():
        headers.setdefault(key, []).append(value)
    return names, headers


def test_the_wheel_holds_the_package_only_with_its_data_files(installed):
    names, headers = wheel_metadata(installed.wheel)
    assert {name.split("/")[0] for name in names} == {PACKAGE, f"{PACKAGE}-{__version__}.dist-info"}
    for data_file in ("py.typed", "sandbox/demo_seed.json", "links/tags.py", "sandbox/pytest_plugin.py"):
        assert f"{PACKAGE}/{data_file}" in names
    assert f"{PACKAGE}-{__version__}.dist-info/licenses/LICENSE" in names
    assert headers["License-Expression"] == ["Apache-2.0"]
    assert headers["Requires-Python"] == [">=3.11"]
    assert "apache-airflow>=2.11" in headers["Requires-Dist"]
    assert "apache-airflow-providers-common-compat>=1.23" in headers["Requires-Dist"]


def test_one_version_in_the_package_the_changelog_and_the_wheel(installed):
    assert "version = attr: airflow_provider_intercom.__version__" in (REPO / "setup.cfg").read_text()
    headings = re.findall(r"^## (\S+) - (\d{4}-\d{2}-\d{2})$", (REPO / "CHANGELOG.md").read_text(), re.M)
    assert headings, "CHANGELOG.md has no '## <version> - <YYYY-MM-DD>' entry"
    assert headings[0][0] == __version__  # the newest entry comes first
    _, headers = wheel_metadata(installed.wheel)
    assert headers["Version"] == [__version__]
    assert installed.wheel.name == f"{PACKAGE}-{__version__}-py3-none-any.whl"
    assert installed.sdist.name == f"{PACKAGE}-{__version__}.tar.gz"


WHAT_IS_INSTALLED = """
import json, pathlib
from importlib.metadata import version

import airflow_provider_intercom as package

root = pathlib.Path(package.__file__).parent
print(json.dumps({
    "file": package.__file__,
    "version": package.__version__,
    "airflow": version("apache-airflow"),
    "compat": version("apache-airflow-providers-common-compat"),
    "py_typed": (root / "py.typed").is_file(),
    "seed": (root / "sandbox" / "demo_seed.json").is_file(),
}))
"""


def test_the_fresh_venv_imports_the_installed_wheel_not_the_checkout(installed):
    found = json.loads(installed.run("python", "-c", WHAT_IS_INSTALLED).stdout)
    location = Path(found["file"]).resolve()
    assert location.is_relative_to(installed.venv.resolve() / "lib")
    assert not location.is_relative_to(REPO)
    assert (found["version"], found["py_typed"], found["seed"]) == (__version__, True, True)
    # The Airflow line this test runs on is the one the wheel was proven on.
    assert (found["airflow"], found["compat"]) == (
        version("apache-airflow"),
        version("apache-airflow-providers-common-compat"),
    )


def test_airflow_providers_list_shows_the_provider_and_its_version(installed):
    result = installed.run("airflow", "providers", "list", "--output", "json")
    providers = {item["package_name"]: item for item in json.loads(result.stdout)}
    assert providers[DIST_NAME]["version"] == __version__


def test_the_sandbox_cli_runs_from_the_wheel(installed):
    result = installed.run("python", "-m", "airflow_provider_intercom.sandbox", "--help")
    assert result.stdout.startswith("usage:")
    assert "--seed" in result.stdout


PLUGIN_TEST = """
import json, os, urllib.request
from importlib.metadata import entry_points

import airflow_provider_intercom.sandbox.pytest_plugin as plugin


def test_the_installed_plugin_gives_a_running_sandbox(intercom_sandbox):
    (entry,) = [ep for ep in entry_points(group="pytest11") if ep.name == "intercom_sandbox"]
    assert entry.value == "airflow_provider_intercom.sandbox.pytest_plugin"
    assert entry.dist.name == "airflow-provider-intercom"
    connection = json.loads(os.environ["AIRFLOW_CONN_INTERCOM_DEFAULT"])
    assert connection["host"] == intercom_sandbox.url
    request = urllib.request.Request(
        intercom_sandbox.url + "/me", headers={"Authorization": "Bearer " + connection["password"]}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert json.load(answer)["type"] == "admin"
    print("PLUGIN FILE", plugin.__file__)
"""


def test_the_pytest_plugin_is_registered_and_gives_the_fixture(installed):
    (installed.workdir / "test_plugin.py").write_text(PLUGIN_TEST)
    result = installed.run("python", "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "test_plugin.py")
    assert "1 passed" in result.stdout
    (plugin_file,) = re.findall(r"^PLUGIN FILE (.+)$", result.stdout, re.M)
    assert Path(plugin_file).resolve().is_relative_to(installed.venv.resolve())
