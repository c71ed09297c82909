"""k0rdent.audit.k0s_controller_ready: stops at a failed unit with the controller's own words; waits for the log."""

from __future__ import annotations

import functools
import os
import socket
import time

import pytest

from ansible_collections.k0rdent.audit.plugins.modules import k0s_controller_ready


@pytest.fixture
def fake_systemd(tmp_path, monkeypatch):
    """systemctl and journalctl on the PATH that answer what the test says."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    state = tmp_path / "state"

    def install(active_state: str, journal: str = "") -> None:
        state.write_text(active_state)
        # --property=ActiveState prints the state; --property=InvocationID prints an id.
        (bindir / "systemctl").write_text(
            '#!/bin/sh\ncase "$*" in *InvocationID*) echo 0123abcd ;; *) cat "%s" ;; esac\n' % state
        )
        (bindir / "journalctl").write_text(
            "#!/bin/sh\ncase \"$*\" in *_SYSTEMD_INVOCATION_ID=0123abcd*) printf '%s' ;; esac\n"
            % journal.replace("'", "")
        )
        for name in ("systemctl", "journalctl"):
            (bindir / name).chmod(0o755)

    monkeypatch.setenv("PATH", "%s:/usr/bin:/bin" % bindir)
    return install


@pytest.fixture
def run(run_main):
    return functools.partial(run_main, k0s_controller_ready.main)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_failed_unit_ends_the_wait_at_once_and_quotes_the_controller(fake_systemd, run):
    fake_systemd(
        "failed",
        "level=info msg=starting\\nError: open /var/log/k0s/audit.log: permission denied\\n",
    )
    start = time.monotonic()
    result = run(port=_closed_port(), timeout=60)
    assert time.monotonic() - start < 10
    assert result["ready"] is False and result["state"] == "failed"
    assert result["reason"] == "k0scontroller failed after the restart"
    assert "Error: open /var/log/k0s/audit.log: permission denied" in result["journal"]
    assert result["changed"] is False


# What the real k0s v1.33 logs (journalctl -o cat) when kube-apiserver cannot open its audit log: each start prints
# its parsed flags, fails, and k0s's supervisor respawns it; the unit stays active.
_APISERVER_START = (
    'time="t" level=info msg="I1208 02:18:37.343777     598 flags.go:64] FLAG: --audit-log-path="/var/log/k0s/'
    'audit.log"" component=kube-apiserver stream=stderr\n'
    'time="t" level=info msg="I1208 02:18:37.350053     598 server.go:147] Version: v1.33.4+k0s"'
    " component=kube-apiserver stream=stderr\n"
)
_APISERVER_EXIT = (
    'time="t" level=info msg="E1208 02:18:37.490385     598 run.go:72] "command failed" err="ensureLogFile: open'
    ' /var/log/k0s/audit.log: permission denied"" component=kube-apiserver stream=stderr\n'
    'time="t" level=warning msg="Failed to wait for process" component=kube-apiserver error="exit status 1"\n'
    'time="t" level=info msg="respawning in 5s" component=kube-apiserver\n'
)


def test_respawns_of_kube_apiserver_end_the_wait_and_quote_its_last_exit(fake_systemd, run):
    journal = 'time="t" level=info msg="Started successfully, go nuts pid 598" component=kube-apiserver\n'
    journal += (_APISERVER_START + _APISERVER_EXIT) * 3 + _APISERVER_START
    fake_systemd("active", journal.replace("\\", "\\\\").replace("\n", "\\n"))
    start = time.monotonic()
    result = run(port=_closed_port(), timeout=60)
    assert time.monotonic() - start < 10
    assert result["ready"] is False and result["state"] == "active" and result["respawns"] == 3
    assert result["reason"] == "kube-apiserver exited 3 times after the restart of k0scontroller (k0s respawns it)"
    assert result["journal"][-1].endswith('msg="respawning in 5s" component=kube-apiserver')
    assert "ensureLogFile: open /var/log/k0s/audit.log: permission denied" in result["journal"][-3]
    assert not [line for line in result["journal"] if "FLAG:" in line]


def test_fewer_respawns_than_the_limit_or_a_limit_of_0_wait_for_the_timeout(fake_systemd, run):
    fake_systemd("active", (_APISERVER_START + _APISERVER_EXIT).replace("\\", "\\\\").replace("\n", "\\n"))
    port = _closed_port()
    for limit in (2, 0):
        result = run(port=port, timeout=1, respawn_limit=limit)
        assert result["reason"] == "k0scontroller did not serve /readyz on port %d within 1 s" % port
    # Another component's respawn is not kube-apiserver's.
    assert k0s_controller_ready.respawns(['msg="respawning in 5s" component=kine']) == 0


def test_quoted_lines_without_exits_are_the_last_ones_without_flags():
    lines = ["line %d" % i for i in range(20)] + ['I1208 1 flags.go:64] FLAG: --v="1"', ""]
    assert k0s_controller_ready.quoted(lines) == ["line %d" % i for i in range(5, 20)]


def test_no_readyz_within_the_timeout(fake_systemd, run):
    fake_systemd("activating")
    port = _closed_port()
    result = run(port=port, timeout=1)
    assert result["ready"] is False
    assert result["reason"] == "k0scontroller did not serve /readyz on port %d within 1 s" % port


def test_ready_and_a_growing_log(fake_systemd, run, monkeypatch, tmp_path):
    fake_systemd("active")
    monkeypatch.setattr(k0s_controller_ready, "_readyz", lambda port, credentials: True)
    log = tmp_path / "audit.log"
    log.write_text("one\n")
    before = {"exists": True, "inode": os.stat(log).st_ino, "size": log.stat().st_size}
    stale = run(log_path=str(log), log_before=before, log_timeout=1)
    assert stale["ready"] is False and "did not grow within 1 s" in stale["reason"]
    log.write_text("one\ntwo\n")
    grown = run(log_path=str(log), log_before=before)
    assert grown == {**grown, "ready": True, "reason": "", "journal": []}


def test_log_grew(tmp_path):
    grew = k0s_controller_ready.log_grew
    assert not grew("/nonexistent/audit.log", {})
    assert grew(__file__, {}) and grew(__file__, {"exists": False})
    st = os.stat(__file__)
    assert not grew(__file__, {"exists": True, "inode": st.st_ino, "size": st.st_size})
    assert grew(__file__, {"exists": True, "inode": st.st_ino + 1, "size": st.st_size})  # rotated: a new file
    # kube-apiserver creates the file at its start, before any event: empty, it proves nothing (a full disk).
    empty = tmp_path / "audit.log"
    empty.write_text("")
    assert not grew(str(empty), {}) and not grew(str(empty), {"exists": False})
    assert not grew(str(empty), {"exists": True, "inode": os.stat(empty).st_ino + 1, "size": 10})


def test_readyz_is_asked_as_k0s_admin_when_its_certificate_is_there(tmp_path, monkeypatch):
    # k0s starts kube-apiserver with --anonymous-auth=false: an anonymous /readyz is refused with 401.
    assert k0s_controller_ready.admin_credentials(str(tmp_path)) is None
    pki = tmp_path / "pki"
    pki.mkdir()
    (pki / "admin.crt").write_text("cert")
    assert k0s_controller_ready.admin_credentials(str(tmp_path)) is None  # no key: anonymous
    (pki / "admin.key").write_text("key")
    credentials = k0s_controller_ready.admin_credentials(str(tmp_path))
    assert credentials == (str(pki / "admin.crt"), str(pki / "admin.key"))

    asked = {}

    class Answer:
        status = 200

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def fake_open_url(url, **kwargs):
        asked.update(kwargs, url=url)
        return Answer()

    monkeypatch.setattr(k0s_controller_ready, "open_url", fake_open_url)
    assert k0s_controller_ready._readyz(6443, credentials) is True
    assert asked["url"] == "https://127.0.0.1:6443/readyz"
    assert (asked["client_cert"], asked["client_key"]) == credentials
