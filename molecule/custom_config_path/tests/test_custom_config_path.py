"""`k0s install controller --config=PATH` on the real k0s: the flags land in the file the unit names, and only there."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared" / "tests"))

from _real_k0s import apiserver_args, apiserver_starts

CUSTOM = "/etc/k0s/custom.yaml"
LOG = "/var/log/k0s/audit.log"
POLICY = "/etc/k0s/audit-policy.yaml"


def test_the_flags_are_in_the_file_the_unit_reads(host, strict_k0s):
    document = strict_k0s(host.file(CUSTOM).content_string)
    assert document["spec"]["api"]["extraArgs"]["audit-log-path"] == LOG
    assert document["spec"]["storage"] == {"type": "kine"} or document["spec"]["storage"]["type"] == "kine"
    prepared = yaml.safe_load(host.file("/root/k0s.yaml.prepared").content_string)
    after = yaml.safe_load(host.file(CUSTOM).content_string)
    after["spec"].pop("api")
    assert after == prepared


def test_k0s_config_validate_accepts_the_custom_file(host):
    result = host.run(f"/usr/local/bin/k0s config validate --config {CUSTOM}")
    assert result.rc == 0, result.stderr


def test_the_default_file_is_not_created(host):
    assert not host.file("/etc/k0s/k0s.yaml").exists


def test_the_unit_k0s_wrote_reads_the_custom_file(host):
    unit = host.file("/etc/systemd/system/k0scontroller.service").content_string
    assert "Description=k0s - Zero Friction Kubernetes" in unit
    assert re.search(rf"^ExecStart=/usr/local/bin/k0s controller --config={CUSTOM} ", unit, re.M), unit
    # The unit's main process, the `k0s controller` systemd started (k0s runs more k0s processes beside it).
    pid = host.run("systemctl show --property=MainPID --value k0scontroller").stdout.strip()
    assert pid.isdigit() and pid != "0", pid
    controller = host.run(f"tr '\\0' '\\n' < /proc/{pid}/cmdline").stdout.splitlines()
    assert controller[:2] == ["/usr/local/bin/k0s", "controller"], controller
    assert f"--config={CUSTOM}" in controller, controller


def test_the_controller_runs_with_the_flags_from_its_own_file(host):
    # The flags exist only in the custom file (the default one does not exist): the live server has them, so k0s
    # read the custom file.
    args = apiserver_args(host)
    assert f"--audit-log-path={LOG}" in args, args
    assert f"--audit-policy-file={POLICY}" in args, args
    starts = apiserver_starts(host)
    assert len(starts) >= 2, "the role did not restart the controller"
    assert starts[0].flags["audit-log-path"] == ""  # prepared without auditing
    assert starts[-1].flags["audit-log-path"] == LOG
    assert starts[-1].flags["audit-policy-file"] == POLICY
    assert host.file(LOG).size > 0


def test_a_config_path_that_disagrees_with_the_unit_is_refused(host, playbook):
    before = host.file(CUSTOM).content_string
    result = playbook("k0rdent.audit.enable", "-e", "k0s_audit_config_path=/etc/k0s/k0s.yaml", check=False)
    output = result.stdout + result.stderr  # failures may go to standard error (display_failed_stderr)
    assert result.returncode != 0
    assert "k0s_audit_config_path is /etc/k0s/k0s.yaml, but k0scontroller" in output
    assert "reads /etc/k0s/custom.yaml" in output
    assert not host.file("/etc/k0s/k0s.yaml").exists
    assert host.file(CUSTOM).content_string == before
