from __future__ import annotations

import os
import stat

from ansible_collections.k0rdent.audit.plugins.modules import k0s_host_info


class _Stat:
    def __init__(self, mode, uid=0, gid=0):
        self.st_mode = stat.S_IFDIR | mode
        self.st_uid = uid
        self.st_gid = gid


def test_traversal_uses_owner_then_group_then_other_bits():
    assert k0s_host_info._can_traverse(_Stat(0o700, uid=5), 5, {9})
    assert not k0s_host_info._can_traverse(_Stat(0o070, uid=5), 5, {0})  # owner bits win even when group allows
    assert k0s_host_info._can_traverse(_Stat(0o750, gid=9), 5, {9})
    assert not k0s_host_info._can_traverse(_Stat(0o750, gid=0), 5, {9})
    assert k0s_host_info._can_traverse(_Stat(0o751, gid=0), 5, {9})
    assert k0s_host_info._can_traverse(_Stat(0o700), 0, set())  # root traverses everything


def test_a_missing_user_is_judged_by_the_other_bits(tmp_path):
    os.chmod(tmp_path, 0o755)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o750)
    os.chmod(locked, 0o750)
    found = k0s_host_info._untraversable([str(locked / "sub" / "audit.log")], None, set())
    assert [entry["path"] for entry in found if entry["path"].startswith(str(tmp_path))] == [str(locked)]
    assert found[-1]["mode"] == "0750"


def test_parents_are_listed_from_the_root_down():
    assert list(k0s_host_info._parents("/etc/k0s/audit-policy.yaml")) == ["/", "/etc", "/etc/k0s"]


def test_disk_measures_the_nearest_existing_ancestor(tmp_path):
    disk = k0s_host_info._disk(str(tmp_path / "not" / "yet"))
    assert disk["path"] == str(tmp_path)
    assert 0 <= disk["free_mb"] <= disk["total_mb"]
    assert k0s_host_info._disk(None) == {}


def test_account_of_a_missing_user():
    info, uid, gids = k0s_host_info._account("no-such-user-k0s-audit")
    assert info == {"name": "no-such-user-k0s-audit", "exists": False, "uid": None, "group": None, "groups": []}
    assert (uid, gids) == (None, set())


def test_account_of_root():
    info, uid, gids = k0s_host_info._account("root")
    assert info["exists"] and uid == 0 and 0 in gids and info["group"] == "root"


def test_stat_reports_what_the_role_compares(tmp_path):
    policy = tmp_path / "audit-policy.yaml"
    policy.write_text("rules: []\n")
    os.chmod(policy, 0o644)
    found = k0s_host_info._stat(str(policy))
    assert found["exists"] and not found["isdir"] and not found["islnk"]
    assert found["mode"] == "0644"
    assert found["checksum"] == "6086d66762cb8b9581d573d3ddaa15929da10b91"  # sha1 of "rules: []\n"
    directory = k0s_host_info._stat(str(tmp_path))
    assert directory["isdir"] and directory["checksum"] is None
    assert k0s_host_info._stat(str(tmp_path / "missing")) == {"exists": False}
