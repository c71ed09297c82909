# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

"""The run of ``k0rdent.audit.k0s_config`` and ``k0rdent.audit.k0sctl_config``: read, lock, patch, back up, write.

Private to the collection (leading underscore): the names in ``__all__`` may change without notice.

Both modules differ only in the :class:`~._k0s_config.Profile` they patch, in what a missing file means and in a
few returned facts; everything that touches the file is here, once:

1. the file is read safely (:func:`._yaml_file.read_regular_file`) and patched in memory;
2. when the content would change and this is not check mode, an exclusive lock beside the file is taken and the
   file is read and patched again under it, so that a concurrent run's update is never lost;
3. the new content is validated on a temporary copy, the backup (if asked) is made privately, the content is
   written to a private temporary file in the same directory, fsynced and renamed over the file (the target of a
   symbolic link; the link stays); a created skeleton that ends up empty is deleted;
4. the diff, every returned value, warning and error are masked (:func:`._secret_mask.mask_secrets` and friends)
   by the rule of the profile (``Profile.mask``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Any, Callable

from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.k0rdent.audit.plugins.module_utils import _k0s_config as _core
from ansible_collections.k0rdent.audit.plugins.module_utils._k0s_config import (
    K0sConfigError,
    PatchResult,
    Profile,
    normalize_extra_args,
    normalize_flag_names,
    patch_extra_args,
)
from ansible_collections.k0rdent.audit.plugins.module_utils._secret_mask import (
    WORD_RULE,
    MaskRule,
    mask_args,
    mask_data,
    mask_message,
    mask_secrets,
)
from ansible_collections.k0rdent.audit.plugins.module_utils._yaml_file import (
    FileRefused,
    exclusive_lock,
    fsync_directory,
    make_backup,
    read_regular_file,
    remove_quietly,
    write_private_temp,
)

__all__ = ["NEW_FILE_UMASK", "k0s_validate_command", "predict_edit", "run_edit", "validate_content"]

NEW_FILE_UMASK = 0o077  # a new file is 0600 from its first moment, until `mode` says otherwise


def _fail(module: Any, message: str, rule: MaskRule = WORD_RULE, **extra: Any) -> None:
    module.fail_json(msg=mask_message(message, rule), **extra)


def k0s_validate_command(module: Any) -> str:
    """``k0s config validate`` of the k0s on the host's PATH (``%s`` is the file), or empty when k0s is not there."""
    k0s = module.get_bin_path("k0s")
    return f"{k0s} config validate --config %s" if k0s else ""


class _Refused(Exception):
    """The file cannot be edited as asked; the message says why and what to do (not yet masked)."""


def validate_content(module: Any, validate: str, path: str, content: str, rule: MaskRule = WORD_RULE) -> None:
    """Run ``validate`` on a temporary copy of ``content``; fail with its output if it refuses it."""
    problem = _validation_problem(module, validate, path, content, rule)
    if problem:
        message, extra = problem
        _fail(module, message, rule, **extra)


def _validation_problem(
    module: Any, validate: str, path: str, content: str, rule: MaskRule = WORD_RULE
) -> tuple[str, dict] | None:
    """(message, extra return values) when ``validate`` refuses ``content``, else None."""
    if not validate:
        return None
    fd, tmp = tempfile.mkstemp(dir=module.tmpdir, prefix=os.path.basename(path) + ".")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(to_bytes(content))
        rc, out, err = module.run_command(validate % tmp)
    finally:
        remove_quietly(tmp)
    if rc == 0:
        return None
    output = (err or out).strip()
    return (
        f"The validation command {validate!r} refused the new content of {path} (rc {rc}), "
        f"so {path} was left untouched: {output}",
        {"rc": rc, "stdout": mask_message(out, rule), "stderr": mask_message(err, rule)},
    )


class _Plan:
    """One reading of the file and what the patch makes of it; raises :class:`_Refused`."""

    def __init__(self, path: str, profile: Profile, new_file: Callable[[], str] | None, args: tuple):
        try:
            found = read_regular_file(path, what=f"{profile.name.split('.')[0]} configuration file")
        except FileRefused as exc:
            raise _Refused(str(exc)) from exc
        self.found = found
        self.real_path = found.real_path
        self.created = not found.exists
        if found.exists:
            try:
                self.text = found.data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise _Refused(
                    f"{found.real_path} is not UTF-8 text ({exc.reason} at byte {exc.start}): fix it by hand."
                ) from exc
        elif new_file is None:
            raise _Refused(f"{path} does not exist: set path to your {profile.name}.")
        else:
            self.text = new_file()
        set_args, remove_args = args
        self.nothing_to_create = self.created and not set_args
        try:
            self.result: PatchResult = patch_extra_args(
                self.text, set_args, remove_args, source=found.real_path, profile=profile
            )
        except K0sConfigError as exc:
            raise _Refused(str(exc)) from exc
        self.changed = not self.nothing_to_create and (self.result.changed or self.created)


def run_edit(
    module: Any,
    profile: Profile,
    owner: str,
    new_file: Callable[[], str] | None = None,
    validate: str = "",
    facts: Callable[[PatchResult], dict[str, Any]] | None = None,
) -> None:
    """Do the whole run for ``module`` (options path, extra_args, remove_extra_args, backup and the file ones).

    ``new_file`` gives the content a missing file starts from (None: a missing file is refused). ``owner`` names the
    module in the lock message; ``facts`` adds profile-specific return values.
    """
    params = module.params
    path = params["path"]
    try:
        set_args = normalize_extra_args(params["extra_args"])
        remove_args = normalize_flag_names(params["remove_extra_args"], set_args)
    except K0sConfigError as exc:
        _fail(module, str(exc), profile.mask)
    args = (set_args, remove_args)

    plan = _plan_or_fail(module, path, profile, new_file, args)
    directory = os.path.dirname(plan.real_path) or "."
    if plan.created and not plan.nothing_to_create and not os.path.isdir(directory) and not module.check_mode:
        _fail(
            module,
            f"The directory {directory} of {path} does not exist: create it first (the role does).",
            profile.mask,
        )
    # In check mode a missing directory is what a run that first creates it would meet (the k0s_audit role does).

    with contextlib.ExitStack() as held:
        if plan.changed and not module.check_mode:
            try:
                held.enter_context(exclusive_lock(plan.real_path, owner))
            except FileRefused as exc:
                _fail(module, str(exc), profile.mask)
            plan = _plan_or_fail(module, path, profile, new_file, args)  # what another run wrote meanwhile
        output = _apply(module, plan, profile, validate, path)
    if facts:
        output.update(facts(plan.result))
    module.exit_json(**output)


def _plan_or_fail(module: Any, path: str, profile: Profile, new_file: Callable[[], str] | None, args: tuple) -> _Plan:
    try:
        return _Plan(path, profile, new_file, args)
    except _Refused as exc:
        _fail(module, str(exc), profile.mask)
        raise  # not reached: fail_json exits


def predict_edit(
    module: Any,
    path: str,
    profile: Profile,
    extra_args: dict,
    remove_extra_args: list,
    new_file: Callable[[], str] | None = None,
    validate: str = "",
) -> dict[str, Any]:
    """What :func:`run_edit` would do to ``path`` in check mode, without a lock and without writing anything.

    The same return values as that check-mode run (``changed``, ``created``, ``removed``, ``extra_args``,
    ``previous_extra_args``, ``raw_args``, ``audit_raw_args``; no diff, no file attributes), and ``error``: empty, or
    the sentence with which the run would refuse the file or the options (then the other values are empty), so a
    caller that reads several facts in one round trip can report the refusal in its own order.
    """
    try:
        set_args = normalize_extra_args(extra_args)
        remove_args = normalize_flag_names(remove_extra_args, set_args)
        plan = _Plan(path, profile, new_file, (set_args, remove_args))
    except (K0sConfigError, _Refused) as exc:
        return {"error": mask_message(str(exc), profile.mask), "changed": False, "created": False, "removed": False,
                "extra_args": {}, "previous_extra_args": {}, "raw_args": [], "audit_raw_args": []}  # fmt: skip
    rule = profile.mask
    for warning in plan.result.warnings:
        module.warn(mask_message(warning, rule))
    removes = plan.changed and plan.result.removes_file
    if plan.changed and not removes:
        problem = _validation_problem(module, validate, plan.real_path, plan.result.text, rule)
        if problem:
            return {**_outputs(plan, path, plan.changed, removes, rule), "error": mask_message(problem[0], rule)}
    return {**_outputs(plan, path, plan.changed, removes, rule), "error": ""}


def _outputs(plan: _Plan, path: str, changed: bool, removes: bool, rule: MaskRule) -> dict[str, Any]:
    """The return values both the run and the prediction give, masked by ``rule``."""
    result = plan.result
    return dict(
        changed=changed,
        created=plan.changed and plan.created,
        removed=removes,
        path=path,
        real_path=plan.real_path,
        extra_args=mask_data({} if removes or plan.nothing_to_create else result.extra_args, rule=rule),
        previous_extra_args={} if plan.created else mask_data(result.previous_extra_args, rule=rule),
        raw_args=mask_args(result.raw_args, rule),
        audit_raw_args=mask_args(result.audit_raw_args, rule),
    )


def _apply(module: Any, plan: _Plan, profile: Profile, validate: str, path: str) -> dict[str, Any]:
    params = module.params
    result = plan.result
    real_path = plan.real_path
    rule = profile.mask
    for warning in result.warnings:
        module.warn(mask_message(warning, rule))
    changed = plan.changed
    removes = changed and result.removes_file
    content = result.text
    backup_file = None
    diff = {"before": "", "after": "", "before_header": path, "after_header": path}
    if changed and module._diff:
        diff["before"] = "" if plan.created else mask_secrets(plan.text, rule)
        diff["after"] = "" if removes else mask_secrets(content, rule)

    if changed:
        if not removes:
            validate_content(module, validate, real_path, content, rule)
        if not module.check_mode:
            directory = os.path.dirname(real_path) or "."
            if params["backup"] and not plan.created:
                try:
                    backup_file = make_backup(real_path, plan.found.data, plan.found.stat)
                except (OSError, FileRefused) as exc:
                    _fail(module, f"Cannot back up {real_path}, so it was left untouched: {exc}.", rule)
            if removes:
                os.unlink(real_path)
                fsync_directory(directory)
            else:
                _write(module, real_path, content, plan.created, rule)
        if result.comments_dropped:
            kept = f"the backup {backup_file} keeps them" if backup_file else "set backup: true to keep a copy"
            if _core.HAS_RUAMEL:  # ruamel.yaml could not render this file: the patch warned why
                module.warn(f"PyYAML re-wrote {path}, so the comments in it were dropped ({kept}).")
            else:
                module.warn(
                    f"ruamel.yaml cannot be imported on this host, so the comments in {path} were dropped when it was "
                    f"re-written ({kept}; install ruamel.yaml on the host to keep comments)."
                )

    attributes_diff: dict[str, Any] = {}
    if os.path.exists(real_path) and not (removes and module.check_mode):
        file_args = module.load_file_common_arguments(params, path=real_path)
        changed = module.set_fs_attributes_if_different(file_args, changed, diff=attributes_diff)

    output = _outputs(plan, path, changed, removes, rule)
    if backup_file:
        output["backup_file"] = backup_file
    if module._diff:
        if attributes_diff:
            attributes_diff["before_header"] = attributes_diff["after_header"] = f"{path} (file attributes)"
            output["diff"] = [diff, attributes_diff]
        else:
            output["diff"] = diff
    return output


def _write(module: Any, real_path: str, content: str, created: bool, rule: MaskRule) -> None:
    """Put ``content`` in place atomically: private temporary file beside the target, fsync, rename."""
    directory, name = os.path.split(real_path)
    try:
        staged = write_private_temp(directory, name, to_bytes(content))
    except OSError as exc:
        _fail(module, f"Cannot write beside {real_path}, so it was left untouched: {exc.strerror}.", rule)
    # atomic_move gives the staged file the owner, mode and SELinux context of the file it replaces; a new file
    # gets 0666 & ~umask, hence the umask; `mode`, if given, is applied just after
    old_umask = os.umask(NEW_FILE_UMASK) if created else None
    try:
        module.atomic_move(staged, real_path, unsafe_writes=module.params["unsafe_writes"])
    finally:
        if old_umask is not None:
            os.umask(old_umask)
        remove_quietly(staged)  # gone after the rename; left only when atomic_move failed
    fsync_directory(directory)
