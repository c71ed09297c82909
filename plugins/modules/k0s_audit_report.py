#!/usr/bin/python
# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: k0s_audit_report
short_description: What a k0s controller's own audit log says about volume, retention and policy rules
version_added: 0.2.0
author: k0rdent.audit maintainers (@k0rdent)
description:
  - Reads the live kube-apiserver audit log and the backups its log backend (lumberjack) left beside it, plain
    and C(.gz), named C(audit-2026-11-30T10-00-00.000.log[.gz]) for C(audit.log), line by line (gzip streamed,
    never a whole file in memory), and reports the time span the files cover, events and MiB per hour, and how
    many hours C(maxsize * (maxbackup + 1)) MiB hold at that rate against C(maxage) days.
  - The retention flags and the log path come from the running process named C(kube-apiserver)
    (C(/proc/PID/cmdline), its C(--audit-log-*) flags); options are used for flags it does not show or when no
    such process runs. RV(report.settings) says where each value came from. A relative path is resolved where
    kube-apiserver resolves it, in its working directory (C(/proc/PID/cwd), else k0s's data directory
    C(/var/lib/k0s)); a relative O(log_path) in C(/var/lib/k0s).
  - Only the log's own files are read, regular files of its rotation set in its directory; a symbolic link is
    never followed, a FIFO or device never opened for a blocking read (both named in RV(report.skipped_files)). A
    compressed backup is inflated at most to what lumberjack writes to one file (C(maxsize) MiB, 100 when
    C(maxsize) is 0) and flagged when it holds more. A file renamed, compressed or removed by rotation while it is
    read is read through its open handle or under its new name, and counted once.
  - Each event is matched against the policy in effect (the file of the live C(--audit-policy-file) when it can
    be read and parsed, else O(policy)) and counted under the deciding rule's name; the top rules, users, verbs
    and resources by bytes are reported.
  - With O(candidate_policy), reports what each logged event would become under it, the projected volume and
    what would no longer be logged, per rule.
  - Lines that are not audit events as kube-apiserver writes them (a truncated last line,
    C(--audit-log-format=legacy) lines, JSON nested deeper than the parser allows, text that is not UTF-8, a field
    of another type, a time that is not an RFC 3339 time in years 1 to 9999, anything else) are skipped and counted
    by reason, never fatal. Memory is bounded, only counters are kept, each with at most 2000 keys of at most 256
    characters (the rest are summed under C((other))); lone surrogates are shown as U+FFFD.
  - The span and the rates are measured over the hours the events densely cover; a group of hours more than 24
    hours from the rest holding under 1% of the events (an event with a wrong clock) is counted but named in
    RV(report.clock_outliers) instead of stretching the span.
  - Reads only; never writes on the host.
options:
  log_path:
    description:
      - The audit log (C(--audit-log-path)) when the live process does not show one; a relative path is taken in
        C(/var/lib/k0s), where k0s runs kube-apiserver.
    type: path
    default: /var/log/k0s/audit.log
  maxsize:
    description: C(--audit-log-maxsize) in MiB when the live process does not show it; 0 is lumberjack's 100.
    type: int
  maxbackup:
    description: C(--audit-log-maxbackup) when the live process does not show it.
    type: int
  maxage:
    description: C(--audit-log-maxage) in days when the live process does not show it.
    type: int
  compress:
    description: C(--audit-log-compress) when the live process does not show it.
    type: bool
    default: false
  use_live_flags:
    description: Take the log path, retention flags and policy file from the running kube-apiserver.
    type: bool
    default: true
  policy:
    description:
      - The policy in effect (an C(audit.k8s.io/v1) Policy), used when the live policy file cannot be read or
        parsed, or O(use_live_flags=false). Required then.
    type: dict
  named_rules:
    description:
      - Rules with a C(name) key (the baseline and the inventory's additions, before merging). A rule of the
        policy (or candidate) equal to one of them, apart from C(name), is reported under that name; a rule with
        its own C(name) key (allowed in O(policy) and O(candidate_policy), removed before matching) under that;
        others as C(rules[INDEX]). Rules marked C(known_api_groups=true) also match with O(extra_api_groups) added.
    type: list
    elements: dict
    default: []
  extra_api_groups:
    description: The API groups merged into the C(known_api_groups) rules (C(k0s_audit_extra_api_groups)).
    type: list
    elements: str
    default: []
  candidate_policy:
    description: A policy to project the logged events onto; no projection when omitted.
    type: dict
  top:
    description: How many rows each top list has.
    type: int
    default: 10
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
  - >-
    Projected sizes. An event the candidate logs at the same level keeps its size. At a lower level its size is
    the event's minus the bodies it would lose (C(requestObject) below Request, C(responseObject) below
    RequestResponse). At a higher level the log holds no body: the size is the mean size of events logged at that
    level for the same resource, verb and stage in these files; without such events it is the event's own size
    times 1 + 1 for a request body (C(create), C(update), C(patch) at stage ResponseComplete) + 2 for a response
    body (RequestResponse at ResponseComplete), a rough figure counted in C(report.projection.estimated_events).
  - Stages the policy in effect omits are not in the log and cannot be projected.
  - Bytes are the events' own, uncompressed, which is what C(--audit-log-maxsize) counts (lumberjack counts the
    bytes it writes, before compressing a backup).
seealso:
  - module: k0rdent.audit.k0s_host_info
"""

EXAMPLES = r"""
- name: Report the audit log of a controller with the k0rdent profile's retention as fallback
  k0rdent.audit.k0s_audit_report:
    maxsize: 100
    maxbackup: 5
    maxage: 7
    policy: "{{ audit_policy }}"
    candidate_policy: "{{ lookup('ansible.builtin.file', 'candidate.yaml') | from_yaml }}"
  register: audit_report

- name: Warn when the size limit decides how long logs are kept
  ansible.builtin.debug:
    msg: "{{ audit_report.report.retention.warning }}"
  when: audit_report.report.retention.decided_by == 'size'
"""

RETURN = r"""
report:
  description: The figures of one host.
  returned: success
  type: dict
  contains:
    settings:
      description: >-
        C(log_path), C(maxsize), C(maxbackup), C(maxage), C(compress), C(policy_file) and, in C(sources), where
        each came from (V(process) or V(option)); C(apiserver_pid) of the live process or V(null);
        C(policy_source), V(file) or V(option).
      type: dict
    files:
      description: Each file read, oldest first, with C(path), C(compressed), C(rotated_at), C(disk_bytes),
        C(events), C(skipped), C(damaged) (a gzip stream that ended early), C(over_limit) (a compressed backup
        holding more than lumberjack writes to one file, read to that size) and C(note), a sentence (also for a
        file gone or renamed by rotation before it was read, or already counted under another name).
      type: list
      elements: dict
    file_problems:
      description: Sentences naming the files not read in full, and why.
      type: list
      elements: str
    skipped_files:
      description: Files of the rotation set not read, C({path, reason}) (a symbolic link, not a regular file).
      type: list
      elements: dict
    events:
      description: Audit events read (one per stage of a request).
      type: int
    bytes:
      description: Their bytes, newline included, uncompressed.
      type: int
    skipped:
      description: >-
        Lines skipped, by kind (C(truncated), C(legacy), C(garbage) (not JSON, not UTF-8, not an event),
        C(oversized), C(nesting), C(malformed) (a field of another type or value), C(timestamp)) and C(total).
      type: dict
    skipped_examples:
      description: The first 20 skipped lines, each as C(FILE line N) and the reason (never the line's content).
      type: list
      elements: str
    first_event:
      description: >-
        The earliest C(stageTimestamp) (else C(requestReceivedTimestamp)), RFC 3339 UTC, of the dense span (without
        RV(report.clock_outliers) and hours older than RV(report.hours)).
      type: str
    last_event:
      description: The latest one.
      type: str
    span_seconds:
      description: Seconds between them, the history the files hold now.
      type: float
    events_per_hour:
      description: Events of the dense span per hour; V(null) for a span under one second.
      type: float
    mib_per_hour:
      description: MiB of the dense span per hour; V(null) for a span under one second.
      type: float
    bytes_per_hour:
      description: Bytes of the dense span per hour, unrounded (the rate RV(report.retention) uses); or V(null).
      type: float
    clock_outliers:
      description: >-
        Hours left out of the span and the rates, C({hour, events, bytes}) (at most 100): groups of hours more than
        24 hours from the rest holding under 1% of the events, or one event while the largest group holds ten.
      type: list
      elements: dict
    older_hours:
      description: C({events, bytes}) of the hours older than the newest 2000 that RV(report.hours) keeps.
      type: dict
    level_mismatches:
      description: Events whose logged level is not the one the policy in effect gives (a policy changed since).
      type: int
    blank_lines:
      description: Empty lines (not counted as skipped).
      type: int
    levels:
      description: Events and bytes by logged level, C({level, events, bytes}).
      type: list
      elements: dict
    stages:
      description: Events and bytes by stage, C({stage, events, bytes}).
      type: list
      elements: dict
    top_rules:
      description: Rules of the policy in effect by bytes, C({rule, events, bytes}).
      type: list
      elements: dict
    top_users:
      description: Users by bytes, C({user, events, bytes}).
      type: list
      elements: dict
    top_verbs:
      description: Verbs by bytes, C({verb, events, bytes}).
      type: list
      elements: dict
    top_resources:
      description: Resources (C(group/resource[/subresource]), or C(url PATH)) by bytes.
      type: list
      elements: dict
    hours:
      description: >-
        Events and bytes per hour of C(stageTimestamp), C({hour, events, bytes}), oldest first, the newest 2000
        hours.
      type: list
      elements: dict
    retention:
      description: >-
        C(hours_held) (C(maxsize * (maxbackup + 1)) MiB at the observed rate, C(maxsize) 0 being lumberjack's
        100 MiB, C(effective_maxsize)), C(hours_held_after_rotation),
        C(maxage_hours), C(decided_by) (V(size), V(maxage) or V(nothing)), C(warning) (empty unless the size limit
        decides), C(keeps_maxage_with) (C(maxbackup_at_this_maxsize), C(maxsize_at_this_maxbackup)), C(note) and
        the flags (read as Go ints: larger values are taken as the largest). Figures a value makes infinite are
        V(null).
      type: dict
    projection:
      description: >-
        With O(candidate_policy): C(events), C(bytes) and C(mib_per_hour) it would log, C(estimated_events),
        C(dropped_events), C(dropped_bytes), C(by_rule) (candidate rules by projected bytes), C(dropped) (what
        would no longer be logged, C({rule, dropped_by, events, bytes})), C(changes) (C({rule, candidate_rule,
        from_level, to_level, events, projected_bytes})); else V(null). Sizes at the same level are the events'
        own; at a lower level the event's minus the bodies it would lose; at a higher level (the log holds no
        body) the mean size of events logged at that level for the same resource, verb and stage in these files,
        else the event's size times 1 + 1 (request body of create, update, patch at ResponseComplete) + 2
        (response body at RequestResponse, ResponseComplete).
      type: dict
    warnings:
      description: Sentences about what could not be read.
      type: list
      elements: str
lines:
  description: The report as text lines, for the play output.
  returned: success
  type: list
  elements: str
"""


import os
import stat

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.k0rdent.audit.plugins.module_utils._audit_report import (
    LogReport,
    ReportError,
    named_policy,
    render_table,
    retention,
)
from ansible_collections.k0rdent.audit.plugins.module_utils._audit_report_retention import GO_INT_MAX
from ansible_collections.k0rdent.audit.plugins.module_utils._go_values import parse_go_bool, parse_go_int
from ansible_collections.k0rdent.audit.plugins.module_utils._k0s_apiserver import find_live_apiserver

_FLAGS = (
    ("log_path", "audit-log-path"),
    ("maxsize", "audit-log-maxsize"),
    ("maxbackup", "audit-log-maxbackup"),
    ("maxage", "audit-log-maxage"),
)
# k0s starts kube-apiserver in its data directory (pkg/supervisor/supervisor.go, cmd.Dir = DataDir): relative
# paths on its command line are resolved there when /proc does not show the process's working directory.
K0S_DATA_DIR = "/var/lib/k0s"
# A policy file larger than this is not read (the baseline policy is a few KiB).
_POLICY_LIMIT = 16 * 1024 * 1024


def _process_cwd(pid, proc="/proc"):
    """The working directory of process ``pid`` (where it resolves relative paths), else k0s's data directory."""
    try:
        return os.readlink(os.path.join(proc, str(pid), "cwd"))
    except OSError:
        return K0S_DATA_DIR


def _read_policy(path):
    """The live policy file parsed, or (None, why). Only a regular file is read (a FIFO would block), at most
    16 MiB, without following a symbolic link's loop forever."""
    try:
        import yaml
    except ImportError:
        return None, "PyYAML is not installed on the host, so %s was not read" % path
    try:
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        return None, "%s could not be read: %s" % (path, exc.strerror or exc)
    with os.fdopen(handle, "rb") as stream:
        info = os.fstat(stream.fileno())
        if not stat.S_ISREG(info.st_mode):
            return None, "%s is not a regular file, so it was not read" % path
        data = stream.read(_POLICY_LIMIT + 1)
    if len(data) > _POLICY_LIMIT:
        return None, "%s is larger than 16 MiB, so it was not read" % path
    try:
        policy = yaml.safe_load(data)
    except (yaml.YAMLError, RecursionError, ValueError, TypeError) as exc:  # deep nesting too: one sentence
        return None, "%s could not be parsed: %s" % (
            path,
            str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__,
        )
    if not isinstance(policy, dict) or not isinstance(policy.get("rules"), list):
        return None, "%s is not an audit policy" % path
    return policy, ""


def _settings(module, params, warnings):
    live = find_live_apiserver() if params["use_live_flags"] else None
    flags = live["audit_args"] if live else {}
    settings = {"apiserver_pid": live["pid"] if live else None, "sources": {}}
    for key, flag in _FLAGS:
        if flag in flags:
            value = flags[flag]
            if key != "log_path":
                # The running kube-apiserver accepted it as pflag does (strconv.ParseInt(s, 0, 64): 0x10, 1_000);
                # a number beyond any int64 (never accepted) is taken as the nearest bound.
                number, error = parse_go_int(value)
                if error == "range":
                    number = 0 if value.startswith("-") else GO_INT_MAX
                if number is not None:
                    value = max(0, min(number, GO_INT_MAX))
                else:
                    module.fail_json(
                        msg="kube-apiserver (pid %d) has --%s=%s, which is not a whole number; fix the flag in the"
                        " k0s config (spec.api.extraArgs)." % (live["pid"], flag, value)
                    )
            settings[key], settings["sources"][key] = value, "process"
        elif params[key] is None:
            module.fail_json(
                msg="%s: kube-apiserver's command line does not show --%s and the option is not set; set %s"
                " (k0rdent.audit.report sets it from k0s_audit_log_%s or the profile)." % (key, flag, key, key)
            )
        else:
            settings[key], settings["sources"][key] = params[key], "option"
    if "audit-log-compress" in flags:
        settings["compress"] = bool(parse_go_bool(flags["audit-log-compress"])[0])  # strconv.ParseBool, as pflag
        settings["sources"]["compress"] = "process"
    else:
        settings["compress"], settings["sources"]["compress"] = params["compress"], "option"
    settings["policy_file"] = flags.get("audit-policy-file")
    # kube-apiserver resolves relative paths in its working directory, as the kernel does.
    cwd = _process_cwd(live["pid"]) if live else K0S_DATA_DIR
    for key in ("log_path", "policy_file"):
        if settings[key] and settings[key] != "-" and not os.path.isabs(settings[key]):
            settings[key] = os.path.normpath(os.path.join(cwd, settings[key]))
    if params["use_live_flags"] and live is None:
        warnings.append("no running kube-apiserver process was found: the log path and retention are the options'")
    return settings


def main():
    module = AnsibleModule(
        argument_spec={
            "log_path": {"type": "path", "default": "/var/log/k0s/audit.log"},
            "maxsize": {"type": "int"},
            "maxbackup": {"type": "int"},
            "maxage": {"type": "int"},
            "compress": {"type": "bool", "default": False},
            "use_live_flags": {"type": "bool", "default": True},
            "policy": {"type": "dict"},
            "named_rules": {"type": "list", "elements": "dict", "default": []},
            "extra_api_groups": {"type": "list", "elements": "str", "default": []},
            "candidate_policy": {"type": "dict"},
            "top": {"type": "int", "default": 10},
        },
        supports_check_mode=True,
    )
    params = module.params
    for key in ("maxsize", "maxbackup", "maxage", "top"):
        if params[key] is not None and params[key] < 0:
            module.fail_json(msg="%s: must be 0 or more, not %d." % (key, params[key]))
    warnings = []
    settings = _settings(module, params, warnings)
    policy, source = None, "option"
    if settings["policy_file"]:
        policy, why = _read_policy(settings["policy_file"])
        if policy is None:
            warnings.append(why + "; the policy option is used")
        else:
            source = "file"
    if policy is None:
        policy = params["policy"]
        if not policy:
            module.fail_json(
                msg="policy: the live policy file could not be used and the option is not set; give the policy in"
                " effect (k0rdent.audit.report builds it from the role's variables)."
            )
    settings["policy_source"] = source
    candidate = params["candidate_policy"] or None
    try:
        policy, names = named_policy(policy, params["named_rules"], params["extra_api_groups"])
        candidate_names = None
        if candidate:
            candidate, candidate_names = named_policy(candidate, params["named_rules"], params["extra_api_groups"])
        report = LogReport(policy, names, candidate, candidate_names)
        log_path = settings["log_path"]
        if log_path == "-":
            warnings.append("the audit log goes to kube-apiserver's standard output (--audit-log-path=-): no files")
        else:
            report.read_log(log_path, settings["maxsize"])
            if not report.files:
                warnings.append("%s does not exist yet and has no backups" % log_path)
    except ReportError as exc:
        message = str(exc)
        if source == "file" and message.startswith("policy: "):  # name the file the policy came from
            message = "%s (kube-apiserver's --audit-policy-file): %s" % (settings["policy_file"], message[8:])
        module.fail_json(msg=message)
    result = report.result(params["top"])
    result["retention"] = retention(
        result["bytes_per_hour"], settings["maxsize"], settings["maxbackup"], settings["maxage"], settings["compress"]
    )
    for problem in result["file_problems"]:
        warnings.append("not read in full: " + problem)
    for row in result["skipped_files"]:
        warnings.append("not read: %s: %s" % (row["path"], row["reason"]))
    if result["clock_outliers"]:
        warnings.append(
            "%d events are dated far from the rest (a wrong clock?), in %s: counted, but left out of the span and"
            " the rate"
            % (
                sum(row["events"] for row in result["clock_outliers"]),
                ", ".join(row["hour"] for row in result["clock_outliers"][:5]),
            )
        )
    if result["skipped"]["total"]:
        warnings.append(
            "%d lines were not audit events and were skipped (%s); the first: %s"
            % (
                result["skipped"]["total"],
                ", ".join(
                    "%s %d" % (key, value) for key, value in result["skipped"].items() if key != "total" and value
                ),
                result["skipped_examples"][0] if result["skipped_examples"] else "-",
            )
        )
    result["settings"] = settings
    result["warnings"] = warnings
    module.exit_json(changed=False, report=result, lines=render_table(settings["log_path"], result))


if __name__ == "__main__":
    main()
