"""Supply chain: `scripts/audit` (run by `make test`) fails on a known-compromised release, a
pin without a hash, or a known vulnerability; an unreachable vulnerability service does not."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HASH = "    --hash=sha256:" + "0" * 64
CLEAN = f"aiohttp==3.14.5 \\\n{HASH}\n    # via litellm\nlitellm==1.83.0 \\\n{HASH}\n"


def audit(tmp_path: Path, lock: str, pip_audit: str) -> tuple[int, str]:
    path = tmp_path / "requirements.lock"
    path.write_text(lock, encoding="utf-8")
    fake = tmp_path / "pip_audit.py"
    fake.write_text(pip_audit, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "audit"), str(path)],
        capture_output=True, text=True, check=False,
        env={**os.environ, "PIP_AUDIT": f"{sys.executable} {fake}"},
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


def reporting(dependencies: list[dict[str, object]]) -> str:
    """A stand-in for pip-audit that writes this JSON report where `-o` says."""
    report = json.dumps({"dependencies": dependencies})
    return f"import sys\nopen(sys.argv[sys.argv.index('-o') + 1], 'w').write({report!r})\n"


UNREACHABLE = "raise SystemExit('ConnectionError: pypi.org: Name or service not known')\n"


@pytest.mark.parametrize("version", ["1.82.7", "1.82.8"])
def test_a_compromised_litellm_fails_the_audit_offline(tmp_path: Path, version: str) -> None:
    code, out = audit(tmp_path, CLEAN.replace("1.83.0", version), UNREACHABLE)
    assert code == 1
    assert f"litellm=={version} is a known-compromised release" in out


def test_a_pin_without_a_hash_fails_the_audit(tmp_path: Path) -> None:
    code, out = audit(tmp_path, CLEAN + "zipp==4.1.2\n", UNREACHABLE)
    assert code == 1 and "zipp==4.1.2 has no --hash; run `make lock`" in out


def test_an_unreachable_service_does_not_fail_the_audit(tmp_path: Path) -> None:
    code, out = audit(tmp_path, CLEAN, UNREACHABLE)
    assert code == 0, out
    assert "2 pinned releases, all hashed, none known-compromised" in out
    assert "vulnerability service not reachable, skipped" in out
    skipped = [{"name": "aiohttp", "version": "3.14.5", "skip_reason": "not found on PyPI"}]
    code, out = audit(tmp_path, CLEAN, reporting(skipped))
    assert code == 0 and "answered for none of the 1 releases" in out


def test_a_known_vulnerability_fails_the_audit(tmp_path: Path) -> None:
    found = [
        {"name": "aiohttp", "version": "3.14.5", "vulns": [{"id": "PYSEC-2099-1"}]},
        {"name": "litellm", "version": "1.83.0", "vulns": []},
    ]
    code, out = audit(tmp_path, CLEAN, reporting(found))
    assert code == 1
    assert "aiohttp==3.14.5 has known vulnerabilities: PYSEC-2099-1" in out
    assert "2 of 2 releases checked for known vulnerabilities, 1 vulnerable" in out


def test_the_lock_file_passes_the_offline_checks() -> None:
    script = runpy.run_path(str(ROOT / "scripts" / "audit"))  # its functions, not its main
    assert script["offline_problems"](ROOT / "requirements.lock") == []
    assert len(script["pins"](ROOT / "requirements.lock")) > 100
