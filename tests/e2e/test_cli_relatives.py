"""``trygg relatives ...`` as a user runs it: the demo seeds Johs's daughter and a basis
that names her; relatives are added, allowed in a basis, removed, each act audited."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub.store.sqlite import SqliteStore

pytestmark = pytest.mark.e2e


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRYGG_")}
    cmd = [sys.executable, "-m", "trygg", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)


def test_seed_add_allow_remove(tmp_path: Path) -> None:
    d = str(tmp_path / "data")
    assert _run("seed", "home-dementia", "--data-dir", d).returncode == 0
    listed = _run("relatives", "list", "res-johs", "--data-dir", d)
    assert listed.returncode == 0, listed.stderr
    assert [json.loads(line)["id"] for line in listed.stdout.splitlines()] == ["randi-datter"]
    bad = _run("relatives", "add", "res-johs", "ola", "--name", "Ola", "--relation", "sønn",
               "--phone", "12", "--data-dir", d)  # fmt: skip
    assert bad.returncode == 2 and "phone must be 8-15 digits" in bad.stderr
    ok = _run("relatives", "add", "res-johs", "ola", "--name", "Ola", "--relation", "sønn",
              "--address", "sms:ola", "--language", "en", "--data-dir", d)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    nobody = _run("relatives", "allow", "demo-res-johs-location", "per", "--data-dir", d)
    assert nobody.returncode == 2 and "not registered as relatives of res-johs: per" in nobody.stderr
    both = _run("relatives", "allow", "demo-res-johs-location", "randi-datter", "ola",
                "--note", "begge", "--data-dir", d)  # fmt: skip
    assert both.returncode == 0 and "may tell randi-datter, ola" in both.stdout
    assert _run("relatives", "remove", "res-johs", "ola", "--data-dir", d).returncode == 0
    again = _run("relatives", "remove", "res-johs", "ola", "--data-dir", d)
    assert again.returncode == 2 and "no relative ola" in again.stderr
    store = SqliteStore(Path(d) / "trygg.db")
    try:
        basis = store.get_basis("demo-res-johs-location")
        assert basis is not None and basis.notify_relatives == ("randi-datter", "ola")
        assert [c.action for c in store.basis_changes(basis.id)][-1] == "relatives"
        acts = [r.entry.action for r in store.audit_records("res-johs")]
        assert acts == ["relative.list", "relative.set", "basis.relatives", "relative.delete"]
    finally:
        store.close()
