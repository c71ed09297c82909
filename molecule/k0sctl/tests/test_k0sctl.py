"""k0sctl-managed controllers on the real k0s: refuse by default with the YAML for k0sctl.yaml; opt-in patches, which
the next real `k0sctl apply` reverts; playbook k0sctl, whose k0sctl.yaml a real `k0sctl apply` rolls out.

The host runs the real k0s and kube-apiserver, installed by the real k0sctl over SSH (scripts/build-k0s.sh; prepare
keeps the k0sctl.yaml it applied at /root/k0sctl.yaml). Restarts are read from what they say
themselves: each start of the unit and of kube-apiserver (with the flags it parsed) in the controller's journal, and
the live kube-apiserver's command line (molecule/shared/tests/_real_k0s.py).
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared" / "tests"))
from _real_k0s import apiserver_account, apiserver_args, apiserver_starts, controller_starts, serving_again

CONFIG = "/etc/k0s/k0s.yaml"
POLICY = "/etc/k0s/audit-policy.yaml"
LOG = "/var/log/k0s/audit.log"
APPLIED = "/root/k0sctl.yaml"  # what prepare's `k0sctl apply` installed the host from
K0SCTL_YAML = """\
apiVersion: k0sctl.k0sproject.io/v1beta1
kind: Cluster
metadata:
  name: k0s-mgmt
spec:
  hosts:
    - role: controller
      ssh:
        address: 10.0.0.10
        user: root
        keyPath: ~/.ssh/id_ed25519  # the operator's key
  k0s:
    version: v1.33.4+k0s.0
    config:
      spec:
        storage:
          type: kine
"""


def _starts(host):
    """The unit's starts and kube-apiserver's starts (their pids), as the journal shows them."""
    return controller_starts(host), [start.pid for start in apiserver_starts(host)]


def _k0sctl_apply(host, path: str) -> str:
    """Run the real k0sctl on the host (it connects over SSH to the host's own sshd), as an operator would."""
    result = host.run(f"cd /root && /opt/k0s/bin/k0sctl apply --config {path} --timeout 5m")
    assert result.rc == 0, (result.stdout + result.stderr)[-4000:]
    return result.stdout + result.stderr


def _audit_flags(args: list[str]) -> list[str]:
    return [arg for arg in args if arg.startswith("--audit-")]


def _host_state(host):
    """What a refused run must leave exactly as it was (the live audit.log's size aside: the running kube-apiserver
    writes it)."""
    listing = host.run("find /etc/k0s -printf '%p %U %G %m %s\\n' | sort").stdout
    listing += host.run("find /var/log/k0s -printf '%p %U %G %m\\n' | sort").stdout
    return host.file(CONFIG).content_string, listing, _starts(host), apiserver_args(host)


def test_the_opt_in_run_patched_the_host_file_and_kept_the_header(host):
    text = host.file(CONFIG).content_string
    assert text.startswith("# generated-by-k0sctl")
    extra = yaml.safe_load(text)["spec"]["api"]["extraArgs"]
    assert extra["audit-policy-file"] == POLICY and extra["audit-log-path"] == LOG
    assert yaml.safe_load(text)["spec"]["storage"] == {"type": "kine"}
    result = host.run(f"/usr/local/bin/k0s config validate --config {CONFIG}")
    assert result.rc == 0, result.stderr


def test_the_opt_in_run_restarted_the_real_api_server_with_the_audit_flags(host):
    args = apiserver_args(host)
    assert f"--audit-policy-file={POLICY}" in args and f"--audit-log-path={LOG}" in args, args
    starts = apiserver_starts(host)
    # Prepare started it without the flags; the converge restarted it once with them; the idempotent run not again.
    logs = [s.flags["audit-log-path"] for s in starts]
    assert logs == ["", LOG], logs
    assert host.run("pgrep -x kube-apiserver").stdout.split() == [str(starts[-1].pid)]
    assert controller_starts(host) == 2
    assert host.run("/usr/local/bin/k0s kubectl get --raw=/readyz").stdout.strip() == "ok"
    assert host.file(LOG).size > 0


def test_the_opt_in_run_warns_that_k0sctl_reverts_it(playbook):
    result = playbook("k0rdent.audit.enable", "--check")
    assert "the next k0sctl apply removes the audit flags again" in result.stdout


def test_the_next_k0sctl_apply_reverts_the_opt_in_run_as_the_role_warns(host):
    # The k0sctl.yaml that installed the host has no audit flags: a real `k0sctl apply` of it rewrites k0s.yaml from
    # spec.k0s.config and restarts k0s, and the audit flags the opt-in run wrote are gone.
    assert _audit_flags(apiserver_args(host))
    before = len(apiserver_starts(host))
    output = _k0sctl_apply(host, APPLIED)
    assert "restarting k0s service" in output
    starts = serving_again(host, before)
    assert starts[-1].flags["audit-log-path"] == ""
    assert _audit_flags(apiserver_args(host)) == []
    text = host.file(CONFIG).content_string
    assert text.startswith("# generated-by-k0sctl")
    assert "audit" not in text


def test_the_default_run_refuses_and_leaves_the_host_byte_identical(host, playbook):
    host.run("cp -p /root/k0s.yaml.prepared " + CONFIG)
    before = _host_state(host)
    result = playbook("k0rdent.audit.enable", "-e", "k0s_audit_patch_k0sctl_managed=false", check=False)
    output = result.stdout + result.stderr  # failures may go to standard error (display_failed_stderr)
    assert result.returncode != 0
    assert "is generated by k0sctl, and the next k0sctl apply would revert the audit flags" in output
    assert "in k0sctl.yaml: {spec: {k0s: {config: {spec: {api: {extraArgs: {audit-log-maxage: '7'," in output
    assert "audit-policy-file: /etc/k0s/audit-policy.yaml}}}}}}}" in output
    assert _host_state(host) == before


def test_playbook_k0sctl_patches_k0sctl_yaml_and_leaves_the_host_file(host, playbook, tmp_path):
    host.run("cp -p /root/k0s.yaml.prepared " + CONFIG)
    k0sctl_yaml = tmp_path / "k0sctl.yaml"
    k0sctl_yaml.write_text(K0SCTL_YAML)
    before = _starts(host)
    result = playbook("k0rdent.audit.k0sctl", "-e", "k0s_audit_k0sctl_config=%s" % k0sctl_yaml)
    assert "k0sctl apply --config %s" % k0sctl_yaml in result.stdout
    patched = yaml.safe_load(k0sctl_yaml.read_text())
    extra = patched["spec"]["k0s"]["config"]["spec"]["api"]["extraArgs"]
    assert extra["audit-log-path"] == LOG and extra["audit-log-maxage"] == "7"
    assert patched["spec"]["k0s"]["config"]["spec"]["storage"] == {"type": "kine"}
    assert "# the operator's key" in k0sctl_yaml.read_text()
    assert host.file(CONFIG).content_string == host.file("/root/k0s.yaml.prepared").content_string
    assert _starts(host) == before, "playbook k0sctl restarted the controller; k0sctl apply does that"
    assert host.file(POLICY).exists
    assert host.file("/var/log/k0s").is_directory
    again = playbook("k0rdent.audit.k0sctl", "-e", "k0s_audit_k0sctl_config=%s" % k0sctl_yaml)
    assert "already has the audit flags" in again.stdout
    assert _starts(host) == before


def test_k0sctl_apply_of_the_k0sctl_yaml_playbook_k0sctl_patched_rolls_the_flags_out(host, playbook, tmp_path):
    # The operator's round trip: playbook k0sctl patches the k0sctl.yaml that installed the host (on the Ansible
    # controller; the test carries it there and back), then the real `k0sctl apply` of it restarts k0s with the flags.
    k0sctl_yaml = tmp_path / "k0sctl.yaml"
    k0sctl_yaml.write_text(host.file(APPLIED).content_string)
    playbook("k0rdent.audit.k0sctl", "-e", "k0s_audit_k0sctl_config=%s" % k0sctl_yaml)
    patched = base64.b64encode(k0sctl_yaml.read_bytes()).decode()
    assert host.run(f"echo {patched} | base64 -d > /root/k0sctl-audit.yaml").rc == 0
    assert not _audit_flags(apiserver_args(host))
    before = len(apiserver_starts(host))
    size_before = host.file(LOG).size  # written by the opt-in run's kube-apiserver, idle since the revert
    _k0sctl_apply(host, "/root/k0sctl-audit.yaml")
    starts = serving_again(host, before)
    assert starts[-1].flags["audit-log-path"] == LOG and starts[-1].flags["audit-policy-file"] == POLICY
    args = apiserver_args(host)
    assert f"--audit-policy-file={POLICY}" in args and f"--audit-log-path={LOG}" in args, args
    assert "--audit-log-maxage=7" in args, args
    text = host.file(CONFIG).content_string
    assert text.startswith("# generated-by-k0sctl")
    assert yaml.safe_load(text)["spec"]["api"]["extraArgs"]["audit-log-path"] == LOG
    assert yaml.safe_load(text)["spec"]["storage"] == {"type": "kine"}
    result = host.run(f"/usr/local/bin/k0s config validate --config {CONFIG}")
    assert result.rc == 0, result.stderr
    # The log is written by kube-apiserver's own account, in the directory the role prepared for it.
    log = host.file(LOG)
    assert log.size > size_before, "the kube-apiserver k0sctl restarted wrote no audit event"
    assert log.user == apiserver_account(host).partition(":")[0] == "kube-apiserver"
