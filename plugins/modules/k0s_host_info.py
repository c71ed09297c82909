#!/usr/bin/python
# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: k0s_host_info
short_description: What a k0s controller needs before audit logging is turned on, read in one round trip
version_added: 0.1.0
author: k0rdent.audit maintainers (@k0rdent)
description:
  - Reads, without changing anything, the facts the P(k0rdent.audit.k0s_audit#role) role checks before it
    touches a host, in one round trip instead of a dozen small tasks.
  - Whether the API server's user exists and which groups it has.
  - Every existing parent directory of the given paths that the account kube-apiserver really runs as cannot
    traverse (search permission by owner, named-user ACL entries, group root or other bits). kube-apiserver must
    traverse every parent of the audit policy file and of the audit log directory, or it does not start.
  - The free space of the file system that will hold the audit log.
  - Whether the k0s controller's systemd unit exists and is active. When C(systemctl) is missing or fails, that is a
    warning, and the unit is read from its files in the systemd unit directories (then it is not known to run).
  - How the controller is installed. The C(ExecStart) of its systemd unit names the k0s config file it reads
    (C(--config)/C(-c), default C(/etc/k0s/k0s.yaml)), C(--single), C(--enable-dynamic-config) and C(--data-dir).
  - C(ExecStart) is read as systemd reads it, from the unit file and its drop-ins (C(NAME.d/*.conf) and
    C(service.d/*.conf) under C(/etc/systemd/system), C(/run/systemd/system), C(/usr/lib/systemd/system) and the
    other unit directories; an empty C(ExecStart=) resets, a later one replaces), with systemd's quoting and
    escapes, the specifiers C(%%), C(%n), C(%N), C(%p), C(%i), C(%I), C(${VAR}) and C($VAR) from C(Environment=)
    and C(EnvironmentFile=) (C(-PATH) optional). When that cannot be resolved for sure (an unset variable, an
    unbalanced quote, another specifier, no or several commands, a missing environment file, unit files changed
    since the last C(systemctl daemon-reload)) the module fails with one sentence naming the unit and the fix.
  - Nothing is opened that could block, every file is read with C(O_NONBLOCK) after checking it is a regular file.
    A FIFO, a device or a directory at the config file or the policy file is reported in RV(config.error) or
    RV(policy.error) and as a warning, one sentence naming the path.
  - About that config file, whether it exists, whether k0sctl generated it (its first line is
    C(# generated-by-k0sctl)), its C(spec.api.port) and C(spec.installConfig.users.kubeAPIserverUser).
  - The account kube-apiserver really runs as. k0s runs it as the fixed account C(kube-apiserver) when that exists,
    else as root, with group root and no supplementary groups, whatever C(kubeAPIserverUser) says (k0s issue 4265);
    on a running controller the uid of the live C(kube-apiserver) process decides, the one in the process tree of
    the unit's C(MainPID) (the k0s controller this unit supervises), not any process of that name on the host.
    Traversal and write checks use that account.
options:
  user:
    description:
      - The account named as kube-apiserver's user, which owns the audit log directory. By default the config
        file's C(spec.installConfig.users.kubeAPIserverUser), else C(kube-apiserver).
      - When it does not exist yet, its checks use the permissions a new system account would have (C(other) bits).
    type: str
  config_path:
    description:
      - The k0s config file to read instead of the one the controller's unit names.
    type: path
  create_user:
    description:
      - Whether the caller creates O(user) when it is missing. When that account is C(kube-apiserver), the next
        start of k0s runs kube-apiserver as it (not as root), so the checks judge the account that will exist,
        by the C(other) and group-root bits.
    type: bool
    default: false
  write_dirs:
    description:
      - Directories the account kube-apiserver really runs as must be able to create files in (the audit log
        directory). Reported in RV(unwritable) when it cannot, including through POSIX ACL entries.
    type: list
    elements: path
    default: []
  log_path:
    description:
      - The audit log file. Entries of its directory (in O(write_dirs)) that are neither it nor its rotated copies
        are returned in RV(foreign_files); a file already there that kube-apiserver could not append to is named in
        RV(log_error).
    type: path
  policy_path:
    description:
      - The audit policy file; RV(policy) tells whether this collection wrote it and whether the live API server
        started before it last changed.
    type: path
  paths:
    description:
      - Files or directories whose parent directories the user must be able to traverse.
    type: list
    elements: path
    default: []
  disk_path:
    description:
      - A path on the file system whose free space is reported; it need not exist yet (its nearest existing
        ancestor is measured).
    type: path
  service:
    description: The systemd unit of the k0s controller.
    type: str
    default: k0scontroller
  stat_paths:
    description:
      - Paths whose owner, group, mode and (for regular files) SHA-1 checksum are returned in RV(stats), so the
        caller can skip a task whose target is already as wanted. A symbolic link is followed (the attributes are
        those of what it leads to, which is what the role's writes change).
    type: list
    elements: path
    default: []
  groups:
    description:
      - Group names whose existence is returned in RV(groups).
    type: list
    elements: str
    default: []
  config_extra_args:
    description:
      - Flags the caller wants in C(spec.api.extraArgs) of the config file the controller reads, as
        M(k0rdent.audit.k0s_config) takes them. With this option or O(config_remove_extra_args), RV(config_plan)
        predicts what M(k0rdent.audit.k0s_config) would do to that file, exactly as a check-mode run of it would
        (validation by C(k0s config validate) included), so the caller needs no second round trip to know.
    type: dict
  config_remove_extra_args:
    description:
      - Flags the caller wants removed from C(spec.api.extraArgs), for RV(config_plan).
    type: list
    elements: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - The module reads only. It is safe in check mode and returns the same facts there.
  - The role runs it in its preflight, on every host of the playbooks C(k0rdent.audit.enable),
    C(k0rdent.audit.disable) and C(k0rdent.audit.k0sctl).
seealso:
  - ref: ansible_collections.k0rdent.audit.k0s_audit_role
    description: The role that runs this module in its preflight and judges its facts.
  - module: k0rdent.audit.k0s_config
    description: Patches the config file this module reads, C(controller.config_path).
  - module: k0rdent.audit.k0s_controller_ready
    description: Waits for the controller after the role restarts it.
  - plugin: k0rdent.audit.audit_path_errors
    plugin_type: filter
    description: Judges the policy and log paths whose parents this module checks.
"""

EXAMPLES = r"""
- name: Read what the audit preflight needs
  k0rdent.audit.k0s_host_info:
    user: kube-apiserver
    paths:
      - /etc/k0s/audit-policy.yaml
      - /var/log/k0s/audit.log
    disk_path: /var/log/k0s
  register: host_info

- name: Show the directories kube-apiserver cannot enter
  ansible.builtin.debug:
    msg: "{{ host_info.untraversable | map(attribute='path') | list }}"
    # ["/etc/k0s"] when /etc/k0s is root:root 0750 and kube-apiserver is not root

- name: Read the config file the controller's unit names
  k0rdent.audit.k0s_host_info:
  register: host_info

- name: Show where k0s reads its configuration
  ansible.builtin.debug:
    msg: "{{ host_info.controller.config_path }} (k0sctl: {{ host_info.config.k0sctl_generated }})"
    # "/etc/k0s/k0s.yaml (k0sctl: False)" for `k0s install controller` without --config
"""

RETURN = r"""
user:
  description: The API server's account.
  returned: always
  type: dict
  contains:
    name:
      description: The account name.
      type: str
      sample: kube-apiserver
    exists:
      description: Whether the account exists on the host.
      type: bool
      sample: true
    uid:
      description: Its user id, null when it does not exist.
      type: int
      sample: 998
    group:
      description: The name of its primary group, null when it does not exist.
      type: str
      sample: kube-apiserver
    groups:
      description: Names of every group it belongs to.
      type: list
      elements: str
      sample: [kube-apiserver]
untraversable:
  description: Existing parent directories of O(paths) the user cannot traverse, nearest to the root first.
  returned: always
  type: list
  elements: dict
  sample: [{path: /etc/k0s, mode: "0750", owner: root, group: root}]
disk:
  description: Space on the file system of O(disk_path); empty when O(disk_path) is not given.
  returned: always
  type: dict
  contains:
    path:
      description: The nearest existing ancestor of O(disk_path) that was measured.
      type: str
      sample: /var/log
    free_mb:
      description: Megabytes available to unprivileged users.
      type: int
      sample: 20480
    total_mb:
      description: Size of the file system in megabytes.
      type: int
      sample: 51200
stats:
  description: For each of O(stat_paths), what is there now.
  returned: always
  type: dict
  sample:
    /var/log/k0s: {exists: true, isdir: true, owner: root, group: root, mode: "0750", checksum: null}
controller:
  description: How the controller's unit starts k0s, read from its unit file and drop-ins as systemd reads them.
  returned: always
  type: dict
  contains:
    argv:
      description:
        - The unit's command line as the unit writes it, unquoted, with its variables unexpanded (their values may be
          secrets); empty when the unit does not exist.
        - The other values are read from the command line systemd runs, variables expanded.
      type: list
      elements: str
      sample: [/usr/local/bin/k0s, controller, --single]
    config_path:
      description: The config file it reads (C(--config)/C(-c)), or the default C(/etc/k0s/k0s.yaml).
      type: str
      sample: /etc/k0s/k0s.yaml
    config_from_unit:
      description: Whether C(ExecStart) names the config file explicitly.
      type: bool
    single:
      description: Whether the controller runs with C(--single) (default storage kine).
      type: bool
    dynamic_config:
      description: Whether C(--enable-dynamic-config) is set (C(spec.api) stays in the file all the same).
      type: bool
    data_dir:
      description: C(--data-dir), default C(/var/lib/k0s).
      type: str
config:
  description: What the config file the controller reads says.
  returned: always
  type: dict
  contains:
    path:
      description: The file read (O(config_path), else the unit's).
      type: str
    exists:
      description: Whether it exists.
      type: bool
    k0sctl_generated:
      description: Whether its first line is C(# generated-by-k0sctl); the next C(k0sctl apply) rewrites it.
      type: bool
    api_port:
      description: C(spec.api.port), default 6443.
      type: int
    kube_apiserver_user:
      description: C(spec.installConfig.users.kubeAPIserverUser), default C(kube-apiserver).
      type: str
    error:
      description: >-
        Why the file was not read (a FIFO, a device or a directory is not opened, one sentence naming the path), or
        could not be read as YAML; empty when it was read.
      type: str
apiserver:
  description: The account kube-apiserver really runs as, and the live process when there is one.
  returned: always
  type: dict
  contains:
    user:
      description: Its name (a uid when it has none).
      type: str
      sample: kube-apiserver
    uid:
      description: Its uid.
      type: int
    source:
      description: >-
        V(process) (the live process), V(account) (the fixed account kube-apiserver exists), V(planned) (it does
        not exist yet, but O(create_user) creates it) or V(root).
      type: str
    pid:
      description: The live process's pid (the kube-apiserver this unit's k0s supervises), null when none runs.
      type: int
    started:
      description: When the live process started (seconds since the epoch), null when none runs.
      type: float
    audit_args:
      description: The C(--audit-*) flags of the live process's command line, flag name to value.
      type: dict
unwritable:
  description: Directories of O(write_dirs) the real account cannot create files in (existing ones only).
  returned: always
  type: list
  elements: str
log_error:
  description: >-
    Why the account kube-apiserver really runs as could not append to the file already at O(log_path) (a file it
    cannot write, such as one an API server running as root left, or a directory or FIFO there), one sentence
    naming the path and the fix; empty when it can or nothing is there yet.
  returned: always
  type: str
  version_added: 0.3.0
foreign_files:
  description: >-
    For each of O(write_dirs), the entries in it that are not audit logs (not O(log_path) nor its rotated copies):
    a directory that holds them is used for something else and must not be re-owned.
  returned: always
  type: dict
policy:
  description: About O(policy_path).
  returned: always
  type: dict
  contains:
    written_by_collection:
      description: Whether the file carries this collection's header.
      type: bool
    newer_than_apiserver:
      description: Whether it changed after the live API server started (the server runs an older policy).
      type: bool
    error:
      description: >-
        Why the file was not read (a FIFO, a device or a directory is not opened, one sentence naming the path); empty
        when it was read or does not exist.
      type: str
groups:
  description: For each name in O(groups), whether the group exists.
  returned: always
  type: dict
  sample: {"audit-readers": true}
config_plan:
  description:
    - What M(k0rdent.audit.k0s_config) with O(config_extra_args) and O(config_remove_extra_args) would do to
      RV(config.path), with the return values of its check-mode run (no diff) and C(error).
    - C(error) is empty, or the sentence with which M(k0rdent.audit.k0s_config) would refuse the file or the flags
      (the other values are then empty).
  returned: when O(config_extra_args) or O(config_remove_extra_args) is given
  type: dict
  sample: {"changed": true, "created": false, "removed": false, "error": "", "previous_extra_args": {},
           "extra_args": {"audit-log-path": "/var/log/k0s/audit.log"}, "raw_args": [], "audit_raw_args": []}
service:
  description: The state of the controller's systemd unit.
  returned: always
  type: dict
  contains:
    name:
      description: The unit name.
      type: str
      sample: k0scontroller
    exists:
      description: Whether systemd knows the unit.
      type: bool
      sample: true
    active:
      description: Whether the unit is active (running).
      type: bool
      sample: true
    failed:
      description: Whether systemd reports the unit failed.
      type: bool
      sample: false
"""

import grp
import os
import pwd

from ansible.module_utils.basic import AnsibleModule

# config_plan: the same reading and patch as k0rdent.audit.k0s_config, in check mode
from ansible_collections.k0rdent.audit.plugins.module_utils._config_edit import k0s_validate_command, predict_edit
from ansible_collections.k0rdent.audit.plugins.module_utils._host_access import (
    account,
    disk,
    foreign_files,
    log_file_error,
    name_of,
    stat_path,
    untraversable,
    unwritable,
)
from ansible_collections.k0rdent.audit.plugins.module_utils._k0s_config import (
    HAS_YAML,
    K0S_CONFIG,
    MINIMAL_CLUSTER_CONFIG,
)
from ansible_collections.k0rdent.audit.plugins.module_utils._k0s_controller import (
    APISERVER_USER,
    config_facts,
    find_supervised_apiserver,
    parse_controller_args,
)
from ansible_collections.k0rdent.audit.plugins.module_utils._systemd_unit import (
    UnitRefused,
    exec_start,
    read_text,
    systemctl_show,
    unit_from_files,
)

COLLECTION_HEADER = "k0rdent.audit"  # the role's policy template says it in its first lines
_START_TIME_SLACK = 2.0


def _service(name, props):
    exists = props.get("LoadState") not in (None, "", "not-found")
    state = props.get("ActiveState")
    return {
        "name": name,
        "exists": exists,
        "active": exists and state in ("active", "reloading"),
        "failed": exists and state == "failed",
    }


def _controller(module, name):
    """The unit's state, its command line as systemd runs it, and its MainPID (0 when unknown)."""
    props, warning = systemctl_show(module, name)
    if warning:
        module.warn(warning)
        props = unit_from_files(name)
    service = _service(name, props)
    if not service["exists"] or props.get("LoadState") == "masked":
        return service, parse_controller_args([]), 0
    try:
        shown, argv = exec_start(name, props)
    except UnitRefused as exc:
        module.fail_json(msg=str(exc), service=service)
    controller = parse_controller_args(argv)
    controller["argv"] = shown  # as the unit writes it: the values of its variables may be secrets
    main_pid = props.get("MainPID", "0")
    return service, controller, int(main_pid) if main_pid.isdigit() else 0


def _real_apiserver_account(live, planned=False):
    if live is not None:
        return {"user": name_of(pwd.getpwuid, live["uid"]), "uid": live["uid"], "source": "process", **live}
    idle = {"pid": None, "started": None, "audit_args": {}}
    try:
        uid = pwd.getpwnam(APISERVER_USER).pw_uid
    except KeyError:
        if planned:  # created by the caller before k0s next starts: no uid yet, judged by its other bits
            return {"user": APISERVER_USER, "uid": None, "source": "planned", **idle}
        return {"user": "root", "uid": 0, "source": "root", **idle}
    return {"user": APISERVER_USER, "uid": uid, "source": "account", **idle}


def _policy(path, live):
    info = {"written_by_collection": False, "newer_than_apiserver": False, "error": ""}
    if not path:
        return info
    text, info["error"] = read_text(path, "k0s_audit_policy_path must name a regular file or nothing", 512)
    if text is None:
        return info
    info["written_by_collection"] = COLLECTION_HEADER in text
    try:
        mtime = os.stat(path).st_mtime
    except OSError:
        return info
    if live is not None:
        # The start time is known to the clock tick after the boot time, which /proc/stat gives in whole seconds.
        info["newer_than_apiserver"] = mtime > live["started"] + _START_TIME_SLACK
    return info


def _group_exists(name):
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def _config_plan(module, path):
    if not HAS_YAML:
        return {"error": "PyYAML cannot be imported on this host, so k0rdent.audit.k0s_config cannot run: install it."}
    return predict_edit(
        module,
        path,
        K0S_CONFIG,
        module.params["config_extra_args"] or {},
        module.params["config_remove_extra_args"] or [],
        new_file=lambda: MINIMAL_CLUSTER_CONFIG,
        validate=k0s_validate_command(module),
    )


def main():
    module = AnsibleModule(
        argument_spec={
            "user": {"type": "str"},
            "config_path": {"type": "path"},
            "create_user": {"type": "bool", "default": False},
            "paths": {"type": "list", "elements": "path", "default": []},
            "write_dirs": {"type": "list", "elements": "path", "default": []},
            "disk_path": {"type": "path"},
            "log_path": {"type": "path"},
            "policy_path": {"type": "path"},
            "service": {"type": "str", "default": "k0scontroller"},
            "stat_paths": {"type": "list", "elements": "path", "default": []},
            "groups": {"type": "list", "elements": "str", "default": []},
            "config_extra_args": {"type": "dict"},
            "config_remove_extra_args": {"type": "list", "elements": "str"},
        },
        supports_check_mode=True,
    )
    params = module.params
    service, controller, main_pid = _controller(module, params["service"])
    config = config_facts(params["config_path"] or controller["config_path"])
    user, _uid, _gids = account(params["user"] or config["kube_apiserver_user"])
    live = find_supervised_apiserver(main_pid) if service["active"] else None
    policy = _policy(params["policy_path"], live)
    for problem in dict.fromkeys(e for e in (config["error"], policy["error"]) if e):
        module.warn(problem)
    planned = params["create_user"] and user["name"] == APISERVER_USER and not user["exists"]
    apiserver = _real_apiserver_account(live, planned)
    # k0s gives kube-apiserver group root and no supplementary groups (pkg/supervisor/detachattr_linux.go).
    real_gids = {0}
    extra = {}
    if params["config_extra_args"] is not None or params["config_remove_extra_args"] is not None:
        extra["config_plan"] = _config_plan(module, config["path"])
    module.exit_json(
        groups={name: _group_exists(name) for name in params["groups"]},
        **extra,
        changed=False,
        user=user,
        controller=controller,
        config=config,
        apiserver=apiserver,
        untraversable=untraversable(params["paths"], apiserver["uid"], real_gids),
        unwritable=unwritable(params["write_dirs"], apiserver["uid"], real_gids),
        foreign_files=foreign_files(params["write_dirs"], [params["log_path"]] if params["log_path"] else []),
        log_error=log_file_error(params["log_path"], apiserver["uid"], real_gids, apiserver["user"])
        if params["log_path"]
        else "",
        policy=policy,
        disk=disk(params["disk_path"]),
        service=service,
        stats={path: stat_path(path) for path in params["stat_paths"]},
    )


if __name__ == "__main__":
    main()
