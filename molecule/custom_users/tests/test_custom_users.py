"""kubeAPIserverUser: custom-api, while k0s runs kube-apiserver as kube-apiserver (k0s issue 4265)."""

from __future__ import annotations


def test_the_log_directory_is_owned_by_the_configured_user(host):
    directory = host.file("/var/log/k0s")
    assert directory.user == "custom-api"
    assert directory.group == "custom-api"


def test_the_real_account_has_rwx_through_an_acl(host):
    acl = host.run("getfacl -cp /var/log/k0s").stdout.splitlines()
    assert "user:kube-apiserver:rwx" in acl
    assert "mask::rwx" in acl
    assert "group::r-x" in acl


def test_the_api_server_runs_as_kube_apiserver_and_writes_its_log(host):
    pid = host.run("pgrep -x kube-apiserver").stdout.split()
    assert len(pid) == 1
    uid = host.file("/proc/%s/status" % pid[0]).content_string.split("Uid:")[1].split()[0]
    assert int(uid) == host.user("kube-apiserver").uid
    log = host.file("/var/log/k0s/audit.log")
    assert log.exists and log.size > 0 and log.user == "kube-apiserver"
    assert host.run("curl -sk https://127.0.0.1:6443/readyz").stdout == "ok"


def test_the_role_warns_about_k0s_issue_4265(playbook):
    result = playbook("k0rdent.audit.enable", "--check")
    assert "k0s issue 4265" in result.stdout
    assert "changed=0" in result.stdout
