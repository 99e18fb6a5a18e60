"""The command line, ``python -m airflow_provider_intercom.sandbox``."""

from __future__ import annotations

import re
import subprocess
import sys
import threading

import pytest
import requests

from tests.sandbox_api import DEMO_SEED, TIMEOUT


def test_cli_prints_the_ready_line_and_serves() -> None:
    command = [
        sys.executable,
        "-m",
        "airflow_provider_intercom.sandbox",
        "--port",
        "0",
        "--token",
        "cli-token",
    ]
    process = subprocess.Popen(
        [*command, "--seed", str(DEMO_SEED)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout=20)
        assert lines, "the sandbox did not print its ready line in time"
        match = re.fullmatch(r"Intercom sandbox listening on (http://127\.0\.0\.1:\d+)\n", lines[0])
        assert match, lines[0]
        response = requests.get(
            f"{match.group(1)}/me", headers={"Authorization": "Bearer cli-token"}, timeout=TIMEOUT
        )
        assert response.status_code == 200
        assert response.json()["email"] == "dana@example.com"
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert process.returncode == 0


def run_sandbox_cli(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "airflow_provider_intercom.sandbox", *arguments],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def test_cli_runs_a_command_against_the_demo_seed_and_returns_its_status() -> None:
    # The child reads the connection it was given and lists the demo tags through it.
    child = (
        "import json, os, sys, urllib.request;"
        "conn = json.loads(os.environ['AIRFLOW_CONN_INTERCOM_DEFAULT']);"
        "request = urllib.request.Request(conn['host'] + '/tags',"
        " headers={'Authorization': 'Bearer ' + conn['password']});"
        "tags = json.load(urllib.request.urlopen(request, timeout=10))['data'];"
        "names = sorted(tag['name'] for tag in tags);"
        "print(','.join(names)); sys.exit(7)"
    )
    result = run_sandbox_cli("--port", "0", "--seed", "demo", "--", sys.executable, "-c", child)
    assert result.returncode == 7, result.stderr
    ready, names = result.stdout.splitlines()
    assert ready.startswith("Intercom sandbox listening on http://127.0.0.1:")
    assert names == "beta-tester,trial,vip"


def test_cli_help() -> None:
    result = run_sandbox_cli("--help")
    assert result.returncode == 0
    for flag in ("--fault-rate", "--fault-seed", "--fault-kinds", "--late-ms", "--fault-429-reset"):
        assert flag in result.stdout


def run_cli_child(*flags: str) -> list[str]:
    """Run the CLI with a child that sends 12 writes, then lists tags; return its report lines."""
    child = (
        "import json, os, time, urllib.error, urllib.request;"
        "conn = json.loads(os.environ['AIRFLOW_CONN_INTERCOM_DEFAULT']);"
        "headers = {'Authorization': 'Bearer ' + conn['password'], 'Content-Type': 'application/json'}\n"
        "def send(method, path, body=None):\n"
        "    data = None if body is None else json.dumps(body).encode()\n"
        "    request = urllib.request.Request(conn['host'] + path, data, headers, method=method)\n"
        "    started = time.monotonic()\n"
        "    try:\n"
        "        with urllib.request.urlopen(request, timeout=10) as answer:\n"
        "            outcome = str(answer.status)\n"
        "    except urllib.error.HTTPError as error:\n"
        "        outcome = str(error.code)\n"
        "    except (urllib.error.URLError, ConnectionError):\n"
        "        outcome = 'drop'\n"
        "    return outcome + ('+late' if time.monotonic() - started >= 0.25 else '')\n"
        "print(' '.join(send('POST', '/tags', {'name': f'cli-{n}'}) for n in range(12)))\n"
        "names = sorted(tag['name'] for tag in json.load(urllib.request.urlopen("
        "urllib.request.Request(conn['host'] + '/tags', headers=headers), timeout=10))['data'])\n"
        "print(','.join(names))"
    )
    result = run_sandbox_cli("--port", "0", *flags, "--", sys.executable, "-c", child)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()[1:]


def test_cli_fault_flags_select_kinds_late_ms_and_repeat_with_the_seed() -> None:
    flags = ("--fault-rate", "0.7", "--fault-seed", "4", "--fault-kinds", "502,late,late_drop")
    first = run_cli_child(*flags, "--late-ms", "300")
    assert first == run_cli_child(*flags, "--late-ms", "300")
    outcomes, names = first[0].split(" "), first[1].split(",") if first[1] else []
    assert set(outcomes) == {"200", "502", "200+late", "drop+late"}, outcomes
    # 502s created nothing; late answers and late drops created their tag all the same.
    created = {f"cli-{n}" for n, outcome in enumerate(outcomes) if outcome != "502"}
    assert set(names) == created
    quiet = run_cli_child(*flags, "--late-ms", "0")
    assert "late" not in " ".join(quiet[:1])


def test_cli_parses_and_checks_the_fault_flags(capsys: pytest.CaptureFixture[str]) -> None:
    from airflow_provider_intercom.sandbox.__main__ import build_parser

    parser = build_parser()
    defaults = parser.parse_args([])
    assert defaults.fault_kinds == ("429", "500", "502", "503", "drop", "late", "late_drop", "empty200")
    assert (defaults.late_ms, defaults.fault_429_reset) == (3000.0, 1.0)
    chosen = parser.parse_args(
        ["--fault-kinds", "late_drop,503", "--late-ms", "450", "--fault-429-reset", "window"]
    )
    assert (chosen.fault_kinds, chosen.late_ms, chosen.fault_429_reset) == (("late_drop", "503"), 450.0, None)
    assert parser.parse_args(["--fault-429-reset", "4"]).fault_429_reset == 4.0
    for bad in (["--fault-kinds", "500,teapot"], ["--late-ms", "-5"], ["--fault-429-reset", "soon"]):
        with pytest.raises(SystemExit) as exited:
            parser.parse_args(bad)
        assert exited.value.code == 2
    assert "teapot" in capsys.readouterr().err
