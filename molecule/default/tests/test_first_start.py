"""The bootstrap shape: the role runs before k0s is installed; then the real k0s is installed as operators install it
(`k0s install controller`, no -c: it reads /etc/k0s/k0s.yaml, the file the role wrote, over its defaults, storage
etcd), and its first start already audits: the real kube-apiserver writes the log the role prepared."""

from __future__ import annotations

import json
import time

# Not built for the test hosts: konnectivity-server (it serves worker agents only). The others have no workers to
# serve and only cost start time; see molecule/real_k0s/molecule.yml.
DISABLED = "konnectivity-server,metrics-server,coredns,kube-proxy,network-provider,windows-node"


def _install_real_k0s(host) -> None:
    script = f"""set -e
        install -m 0755 /opt/k0s/bin/k0s /usr/local/bin/k0s
        mkdir -p /var/lib/k0s/bin
        for b in kube-apiserver kube-controller-manager kube-scheduler kine etcd; do
          ln -sf /opt/k0s/bin/$b /var/lib/k0s/bin/$b
        done
        /usr/local/bin/k0s install controller --disable-components={DISABLED}
        # The unit asks LimitNOFILE=999999, above the hard limit these containers get (see prepare.yml).
        mkdir -p /etc/systemd/system/k0scontroller.service.d
        printf '[Service]\\nLimitNOFILE=%s\\n' "$(ulimit -Hn)" > /etc/systemd/system/k0scontroller.service.d/limits.conf
        systemctl daemon-reload
        systemctl start k0scontroller
    """
    result = host.run(script)
    assert result.rc == 0, result.stderr


def _ready(host) -> bool:
    return host.run("/usr/local/bin/k0s kubectl get --raw=/readyz").stdout == "ok"


def test_k0s_installed_after_the_role_starts_with_audit_logging(host):
    _install_real_k0s(host)
    for _attempt in range(120):
        if _ready(host):
            break
        time.sleep(1)
    assert _ready(host), host.run("journalctl -u k0scontroller -n 30 --no-pager").stdout
    # The first start: the unit was never started before, and the storage is k0s's default.
    assert host.run("ps -o args= -C etcd").stdout.startswith("/var/lib/k0s/bin/etcd ")
    log = host.file("/var/log/k0s/audit.log")
    assert log.exists and log.user == "kube-apiserver" and log.mode == 0o600
    events = [json.loads(line) for line in log.content_string.splitlines()]
    assert any(e["requestURI"] == "/readyz" and e["level"] == "Metadata" for e in events), len(events)
