"""kubeAPIserverUser: custom-api on the real k0s, which runs kube-apiserver as kube-apiserver (k0s issue 4265)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared" / "tests"))

from _real_k0s import apiserver_account, apiserver_args, apiserver_starts

PKI = "/var/lib/k0s/pki"
LOG = "/var/log/k0s/audit.log"
TARGET = "/srv/k0s-audit"  # where the log directory /var/log/k0s, a symbolic link, points


def test_k0s_install_controller_created_the_users_the_file_names(host):
    for name in ("custom-api", "kube-apiserver"):
        user = host.user(name)
        assert user.exists, name
        assert user.home == "/var/lib/k0s" and user.shell.endswith("nologin"), (name, user.home, user.shell)


def test_the_log_directory_link_stays_a_link(host):
    link = host.file("/var/log/k0s")
    assert link.is_symlink and link.linked_to == TARGET


def test_the_directory_the_link_points_to_is_owned_by_the_configured_user(host):
    directory = host.file(TARGET)
    assert directory.is_directory and not directory.is_symlink
    # 0750 asked; with the ACL entry, the group bits show the ACL mask (rwx).
    assert (directory.user, directory.group, directory.mode) == ("custom-api", "custom-api", 0o770)


def test_the_real_account_has_rwx_through_an_acl_on_the_directory_the_link_points_to(host):
    acl = host.run(f"getfacl -cpP {TARGET}").stdout.splitlines()  # -P: the directory itself, no link followed
    assert "user:kube-apiserver:rwx" in acl
    assert "mask::rwx" in acl
    assert "group::r-x" in acl


def test_the_api_server_runs_as_kube_apiserver_and_writes_its_log(host):
    assert apiserver_account(host) == "kube-apiserver:root"
    assert f"--audit-log-path={LOG}" in apiserver_args(host)
    starts = apiserver_starts(host)
    assert len(starts) >= 2 and starts[0].flags["audit-log-path"] == "", "the role did not restart the controller"
    assert starts[-1].flags["audit-log-path"] == LOG
    log = host.file(LOG)
    assert log.exists and log.size > 0 and log.user == "kube-apiserver"
    tls = f"--cacert {PKI}/ca.crt --cert {PKI}/admin.crt --key {PKI}/admin.key"
    assert host.run(f"curl -s --max-time 10 {tls} https://127.0.0.1:6443/readyz").stdout == "ok"


def test_the_role_warns_about_k0s_issue_4265(playbook):
    result = playbook("k0rdent.audit.enable", "--check")
    assert "k0s issue 4265" in result.stdout
    assert "changed=0" in result.stdout
