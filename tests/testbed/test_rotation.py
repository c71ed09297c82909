"""Log rotation as the real kube-apiserver does it: lumberjack behind --audit-log-maxsize and --audit-log-maxbackup.

The server is .cache/k0s/bin/kube-apiserver on a kine of its own, with RBAC; its own requests are audited too.

k8s.io/apiserver ``pkg/server/options/audit.go`` getWriter hands the log path to gopkg.in/natefinch/lumberjack.v2
(``lumberjack.go``): at maxsize MiB the file is renamed to ``NAME-TIMESTAMP.EXT`` with the mode it had (0600, from
ensureLogFile) and a new one is opened; a goroutine then removes all but maxbackup old files.
"""

from __future__ import annotations

import stat
import time

from _apiserver import Kine, Server, free_port, read_events, request, require_binaries, server_args, wait_ready

POLICY = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: RequestResponse\n"
TOKENS = 'admin-token,admin,uid-admin,"system:masters"\n'


def test_rotation_keeps_maxbackup_files_of_mode_0600(tmp_path):
    require_binaries()
    (tmp_path / "policy.yaml").write_text(POLICY)
    (tmp_path / "tokens.csv").write_text(TOKENS)
    logs = tmp_path / "logs"
    kine = Kine(tmp_path / "kine")
    server = Server(
        [
            *server_args(tmp_path, kine, free_port(), authorization="Node,RBAC", tokens=tmp_path / "tokens.csv"),
            "--audit-policy-file=%s" % (tmp_path / "policy.yaml"),
            "--audit-log-path=%s" % (logs / "audit.log"),
            "--audit-log-maxsize=1",
            "--audit-log-maxbackup=2",
        ]
    )
    try:
        assert server.wait_serving(), server.output
        wait_ready(server.port, "admin-token", ("/readyz", "/api/v1/namespaces/default"))
        # Each request writes two events carrying its 50 KB Audit-ID: 100 requests are about 10 MB, so about ten
        # rotations of 1 MiB.
        padding = "r" * 50_000
        for n in range(100):
            path = "/api/v1/namespaces/default/configmaps"
            assert request(server.port, path, token="admin-token", audit_id="%03d-%s" % (n, padding)) == 200
        deadline = time.monotonic() + 10
        while True:
            files = sorted(logs.iterdir())
            if len(files) <= 3 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    finally:
        status = server.stop()
        kine.stop()
    assert status == 0, server.output
    names = [f.name for f in files]
    assert len(files) == 3, names
    assert "audit.log" in names
    backups = [f for f in files if f.name != "audit.log"]
    assert all(f.name.startswith("audit-") and f.name.endswith(".log") for f in backups), names
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, (f.name, oct(f.stat().st_mode))
        assert f.stat().st_size <= 1024 * 1024, (f.name, f.stat().st_size)
    # The newest events are in the current file and the oldest are gone: rotation happened several times.
    ids = {e["auditID"][:3] for f in files for e in read_events(f)}
    assert "099" in {e["auditID"][:3] for e in read_events(logs / "audit.log")}
    assert "000" not in ids
