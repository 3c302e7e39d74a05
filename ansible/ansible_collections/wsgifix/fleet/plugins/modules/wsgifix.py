#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: wsgifix contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: wsgifix
short_description: Audit and fix Apache httpd + mod_wsgi configurations with wsgifix
version_added: "0.1.0"
description:
  - Runs C(wsgifix) on a host's Apache configuration so that every WSGI
    application runs in daemon mode, in a daemon process group of its own,
    in the main interpreter (C(WSGIApplicationGroup %{GLOBAL})).
  - In check mode nothing is written (C(wsgifix --dry-run)); C(changed) then
    says whether a real run would change files.
  - With C(--diff), each changed file's before and after are returned the way
    Ansible's file modules return them.
  - A real run writes each server as one transaction after a checkpoint of
    the originals, then runs the configtest; when it fails, every file is
    restored and the task fails with Apache's message.
options:
  config:
    description:
      - The server's main config file (C(apache2.conf), C(httpd.conf)). Its
        Include and IncludeOptional files are followed.
      - When not given, wsgifix looks where the CLI looks with no path
        (C(/etc/apache2), C(/etc/httpd), C(/usr/local/apache2/conf)).
    type: path
  paths:
    description: More files or directories to take, as the CLI's PATH arguments.
    type: list
    elements: path
    default: []
  root:
    description:
      - A directory that stands for C(/) (a collected copy of another
        machine's tree). Needs a wsgifix with C(--root).
    type: path
  select:
    description: Only these rules (codes or names).
    type: list
    elements: str
    default: []
  ignore:
    description: Never these rules (codes or names).
    type: list
    elements: str
    default: []
  state:
    description:
      - C(checked) reports findings and changes nothing.
      - C(fixed) applies every fix (in check mode, says what would change).
      - C(rolled_back) restores the files of a checkpoint (I(checkpoint_id),
        default the newest).
    type: str
    choices: [checked, fixed, rolled_back]
    default: fixed
  verify:
    description:
      - Run the configtest after writing and restore every file of the server
        when it fails.
    type: bool
    default: true
  verify_cmd:
    description:
      - The configtest command, run by C(/bin/sh -c).
      - By default, what wsgifix picks for the server.
    type: str
  checkpoint_id:
    description: With C(state=rolled_back), the checkpoint to restore (default the newest).
    type: str
  hold:
    description:
      - With C(state=rolled_back), also hold the host; later runs with
        C(state=fixed) report findings but change nothing until the hold
        file (C(ansible-hold) in I(state_dir)) is removed. For a host whose
        smoke test failed, so that every run does not break it again.
    type: bool
    default: false
  hold_reason:
    description: Why the host is held (kept in the hold file, shown by later runs).
    type: str
  binary:
    description: The wsgifix executable (a name looked up on PATH, or a path).
    type: path
    default: wsgifix
  state_dir:
    description: Where checkpoints are kept (wsgifix's C(--state-dir)).
    type: path
    default: /var/lib/wsgifix
author:
  - wsgifix contributors
notes:
  - Supports check mode and diff mode.
'''

EXAMPLES = r'''
- name: Audit
  wsgifix.fleet.wsgifix:
    config: /etc/apache2/apache2.conf
    state: checked
  register: audit

- name: Fix, with a configtest that restores the files when it fails
  wsgifix.fleet.wsgifix:
    config: /etc/apache2/apache2.conf
    state: fixed
  register: fix
  notify: reload apache

- name: Roll back what that run wrote
  wsgifix.fleet.wsgifix:
    state: rolled_back
    checkpoint_id: "{{ fix.checkpoint }}"
'''

RETURN = r'''
findings:
  description: Every finding, before any fix.
  returned: always
  type: list
  elements: dict
  sample: [{code: WSGI001, name: embedded-mode, file: /etc/apache2/sites-enabled/a.conf,
            line: 3, column: 5, message: "...", fixable: true}]
files:
  description: Per file, as wsgifix reported it (path, changed, written, error).
  returned: always
  type: list
  elements: dict
written:
  description: Files written (real paths); empty in check mode.
  returned: always
  type: list
  elements: str
checkpoint:
  description: The checkpoint of the originals, for C(state=rolled_back); null when nothing was written.
  returned: always
  type: str
verify:
  description: The configtest (command, result passed/failed/skipped/not-run, message).
  returned: always
  type: dict
rolled_back:
  description: The files were restored (after a failed configtest, or with C(state=rolled_back)).
  returned: always
  type: bool
errors:
  description: Files wsgifix could not handle (syntax errors, I/O errors).
  returned: always
  type: list
  elements: dict
held:
  description: The host is held after a rollback (see I(hold)); nothing was written.
  returned: always
  type: bool
summary:
  description: wsgifix's own summary of the run.
  returned: when wsgifix ran
  type: dict
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.wsgifix.fleet.plugins.module_utils import wsgifix_cli as W


# Module-level so that the unit tests can hold it against DOCUMENTATION.
ARGUMENT_SPEC = dict(
    config=dict(type='path'),
    paths=dict(type='list', elements='path', default=[]),
    root=dict(type='path'),
    select=dict(type='list', elements='str', default=[]),
    ignore=dict(type='list', elements='str', default=[]),
    state=dict(type='str', default='fixed', choices=['checked', 'fixed', 'rolled_back']),
    verify=dict(type='bool', default=True),
    verify_cmd=dict(type='str'),
    checkpoint_id=dict(type='str'),
    hold=dict(type='bool', default=False),
    hold_reason=dict(type='str'),
    binary=dict(type='path', default='wsgifix'),
    state_dir=dict(type='path', default='/var/lib/wsgifix'),
)


class Runner(object):
    """One module run: the binary, what it can do, and its arguments."""

    def __init__(self, module):
        self.m = module
        self.p = module.params
        self.bin = self._binary()
        self.features = self._features()

    def _binary(self):
        b = self.p['binary']
        if os.sep in b:
            if not os.access(b, os.X_OK):
                self.m.fail_json(msg='wsgifix binary %s is not executable' % b)
            return b
        return self.m.get_bin_path(b, required=True,
                                   opt_dirs=['/usr/local/bin', '/usr/bin', '/usr/sbin'])

    def _features(self):
        rc, out, err = self.m.run_command([self.bin, '--help'])
        if rc != 0:
            self.m.fail_json(msg='%s --help failed: %s' % (self.bin, err.strip()))
        features = W.features_from_help(out)
        # Checkpoints, the configtest and rollback are wsgifix's own; a
        # binary without them is older than this collection.
        missing = sorted(W.REQUIRED - features)
        if missing:
            self.m.fail_json(msg='%s is too old for this module: it lacks %s'
                             % (self.bin, ', '.join(W.FEATURES[f] for f in missing)))
        return features

    def common_args(self):
        p = self.p
        args = [self.bin, '--format', 'json', '--color', 'never']
        if p['select']:
            args += ['--select', ','.join(p['select'])]
        if p['ignore']:
            args += ['--ignore', ','.join(p['ignore'])]
        if p['root']:
            if 'root' not in self.features:
                self.m.fail_json(msg='this wsgifix has no --root; root cannot be used')
            args += ['--root', p['root']]
        if p['config']:
            args += ['--config', p['config']]
        args += list(p['paths'])
        return args

    def run_json(self, args):
        rc, out, err = self.m.run_command(args)
        doc = W.parse_document(out)
        if doc is None:
            self.m.fail_json(msg='wsgifix printed no JSON document (exit %d): %s'
                             % (rc, err.strip()), rc=rc, cmd=args, stderr=err)
        return rc, doc, err


def base_result(doc):
    return dict(
        changed=False,
        findings=W.flatten_findings(doc) if doc else [],
        files=[{k: f.get(k) for k in ('path', 'real_path', 'changed', 'written', 'error')}
               for f in (doc or {}).get('files') or []],
        written=[],
        checkpoint=None,
        verify=None,
        rolled_back=False,
        errors=W.file_errors(doc) if doc else [],
        held=False,
        summary=(doc or {}).get('summary'),
    )


def fail_on_errors(module, result, stage):
    if result['errors']:
        msg = '; '.join(e['text'] for e in result['errors'])
        module.fail_json(msg='wsgifix could not %s: %s' % (stage, msg), **result)


def check_mode_diff(doc):
    """Before/after from the files on disk and the diffs wsgifix would apply;
    a diff that does not apply is shown as it is (`prepared`)."""
    out = []
    for f in doc.get('files') or []:
        if not f.get('changed') or not f.get('diff'):
            continue
        try:
            before = W.read_text(W.real_path(f))
        except (IOError, OSError):
            before = None
        after = W.apply_unified(before, f['diff']) if before is not None else None
        if after is None:
            out.append({'prepared': f['diff']})
        else:
            out.append(W.diff_entry(f['path'], before, after))
    return out


def fix(module, r):
    p = module.params
    rc, doc, err = r.run_json(r.common_args() + ['--dry-run'])
    result = base_result(doc)
    fail_on_errors(module, result, 'read the configuration')
    changing = [f for f in doc.get('files') or [] if f.get('changed')]
    hold = W.read_hold(p['state_dir'])
    if hold is not None:
        result['held'] = True
        result['msg'] = 'held, nothing written (remove %s to try again): %s' % (
            W.hold_path(p['state_dir']), hold)
        module.exit_json(**result)
    if not changing:
        module.exit_json(**result)
    if module.check_mode:
        result['changed'] = True
        result['verify'] = {'command': None, 'result': 'not-run', 'message': 'check mode'}
        if module._diff:
            result['diff'] = check_mode_diff(doc)
        module.exit_json(**result)

    originals = {}
    for f in changing:
        with open(W.real_path(f), 'rb') as fh:
            originals[W.real_path(f)] = fh.read()

    args = r.common_args() + ['--write', '--state-dir', p['state_dir']]
    args += ['--verify'] if p['verify'] else ['--no-verify']
    if p['verify'] and p['verify_cmd']:
        args += ['--verify-cmd', p['verify_cmd']]

    rc, wdoc, err = r.run_json(args)
    result = base_result(wdoc)
    result['findings'] = W.flatten_findings(doc)
    written = wdoc.get('written')
    if written is None:
        written = [W.real_path(f) for f in wdoc.get('files') or [] if f.get('written')]
    result['written'] = written
    result['checkpoint'] = wdoc.get('checkpoint')
    result['verify'] = wdoc.get('verify')
    verify = result['verify'] or {}
    if verify.get('result') == 'failed':
        result['rolled_back'] = True
        result['written'] = []
        module.fail_json(msg='configtest failed after the fix; every file was restored: %s'
                         % (verify.get('message') or '').strip(), **result)
    fail_on_errors(module, result, 'write the fixes')

    result['changed'] = bool(written)
    if module._diff:
        result['diff'] = [W.diff_entry(path, data.decode('utf-8', 'replace'), W.read_text(path))
                          for path, data in sorted(originals.items()) if path in written]
    module.exit_json(**result)


def checked(module, r):
    rc, doc, err = r.run_json(r.common_args() + ['--check'])
    result = base_result(doc)
    fail_on_errors(module, result, 'read the configuration')
    module.exit_json(**result)


def rolled_back(module, r):
    """`wsgifix rollback [ID]`. Its checkpoint's files are read before and
    after, so that `changed` and the diff say what really happened."""
    p = module.params
    result = base_result(None)
    cid = p['checkpoint_id']
    rc, out, err = module.run_command([r.bin, 'checkpoints', '--state-dir', p['state_dir'],
                                       '--format', 'json'])
    listed = (W.parse_document(out) or {}).get('checkpoints') or []
    chosen = [c for c in listed if c.get('id') == cid] if cid else listed[-1:]
    if not chosen:
        module.fail_json(msg='no checkpoint %s in %s' % (cid or '(any)', p['state_dir']),
                         **result)
    cp = chosen[0]
    cid = cp['id']
    files = cp.get('files') or []
    before = {}
    for f in files:
        try:
            before[f] = W.read_text(f)
        except (IOError, OSError):
            before[f] = None
    result['checkpoint'] = cid
    if module.check_mode:
        result['changed'] = not cp.get('rolled_back')
        module.exit_json(**result)
    args = [r.bin, 'rollback', cid, '--state-dir', p['state_dir']]
    rc, out, err = module.run_command(args)
    if rc != 0:
        module.fail_json(msg='wsgifix rollback failed: %s' % (err or out).strip(),
                         rc=rc, cmd=args, **result)
    after = {}
    for f in files:
        try:
            after[f] = W.read_text(f)
        except (IOError, OSError):
            after[f] = None
    restored = [f for f in files if before[f] != after[f]]
    if p['hold']:
        W.write_hold(p['state_dir'], 'rolled back to %s: %s'
                     % (cid, p['hold_reason'] or 'no reason given'))
    result.update(written=restored, rolled_back=bool(restored), changed=bool(restored),
                  stderr=err)
    if module._diff:
        result['diff'] = [W.diff_entry(f, before[f] or '', after[f] or '') for f in restored]
    module.exit_json(**result)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    r = Runner(module)
    state = module.params['state']
    if state == 'checked':
        checked(module, r)
    elif state == 'fixed':
        fix(module, r)
    else:
        rolled_back(module, r)


if __name__ == '__main__':
    main()
