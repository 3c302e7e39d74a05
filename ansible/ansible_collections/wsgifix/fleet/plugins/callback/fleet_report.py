# -*- coding: utf-8 -*-
# Copyright: wsgifix contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: fleet_report
type: aggregate
short_description: One fleet report of wsgifix runs, written on the controller
description:
  - Collects what the wsgifix module found, changed, verified and rolled back
    on each host, and why hosts failed (any task), and writes
    C(fleet-report.json) and C(fleet-report.txt) at the end of the run, also
    when the run stopped early (a batch over max_fail_percentage).
requirements:
  - enable in ansible.cfg (callbacks_enabled = wsgifix.fleet.fleet_report)
options:
  report_dir:
    description: Where the report is written (created if missing).
    default: ./wsgifix-report
    type: path
    env:
      - name: WSGIFIX_REPORT_DIR
    ini:
      - section: wsgifix_fleet_report
        key: report_dir
'''

import json
import os
import time
from collections import Counter

from ansible import context
from ansible.plugins.callback import CallbackBase

MODULE_NAMES = ('wsgifix', 'wsgifix.fleet.wsgifix')


def _host_entry():
    return {'status': None, 'findings': 0, 'fixable': 0, 'by_rule': {},
            'files_with_findings': [], 'changed_files': [], 'written': [],
            'checkpoint': None, 'verify': None, 'rolled_back': False,
            'errors': [], 'held': None, 'failed': None}


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'wsgifix.fleet.fleet_report'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self.hosts = {}
        self.started = time.time()

    def _host(self, result):
        name = result._host.get_name()
        return self.hosts.setdefault(name, _host_entry())

    @staticmethod
    def _is_wsgifix(result):
        task = result._task
        names = (getattr(task, 'resolved_action', None), task.action)
        return any(n in MODULE_NAMES for n in names if n)

    @staticmethod
    def _state(res):
        args = (res.get('invocation') or {}).get('module_args') or {}
        return args.get('state')

    def _record(self, result, failed):
        h = self._host(result)
        res = result._result
        if self._is_wsgifix(result) and not res.get('skipped'):
            state = self._state(res)
            if state == 'checked':
                # The audit: the first one counts (later runs see fixed files).
                if h['status'] is None:
                    self._audit(h, res)
            elif state == 'fixed':
                if h['status'] is None:
                    self._audit(h, res)
                if res.get('held'):
                    h['status'] = 'held'
                    h['held'] = res.get('msg')
                elif h['status'] in ('clean', 'findings'):
                    changed = [f['path'] for f in res.get('files') or [] if f.get('changed')]
                    h['changed_files'] = changed
                    h['written'] = res.get('written') or []
                    h['checkpoint'] = res.get('checkpoint')
                    h['verify'] = res.get('verify')
                    h['rolled_back'] = bool(res.get('rolled_back'))
                    if res.get('changed'):
                        h['status'] = 'would-fix' if self._check_mode() else 'fixed'
            elif state == 'rolled_back' and res.get('changed'):
                h['rolled_back'] = True
                h['checkpoint'] = res.get('checkpoint') or h['checkpoint']
        if failed and not result._task.ignore_errors:
            h['failed'] = {'task': result._task.get_name(),
                           'reason': self._reason(res)}

    @staticmethod
    def _reason(res):
        msg = res.get('msg') or res.get('stderr') or res.get('reason') or 'failed'
        return ' '.join(str(msg).split())

    @staticmethod
    def _audit(h, res):
        findings = res.get('findings') or []
        h['findings'] = len(findings)
        h['fixable'] = sum(1 for f in findings if f.get('fixable'))
        h['by_rule'] = dict(Counter(f.get('code') for f in findings))
        h['files_with_findings'] = sorted({f.get('file') for f in findings})
        h['errors'] = [e.get('text') for e in res.get('errors') or []]
        h['status'] = 'findings' if findings else 'clean'

    @staticmethod
    def _check_mode():
        return bool(context.CLIARGS.get('check'))

    def v2_runner_on_ok(self, result):
        self._record(result, False)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, True)

    def v2_runner_on_unreachable(self, result):
        h = self._host(result)
        h['failed'] = {'task': result._task.get_name(), 'reason':
                       'unreachable: ' + self._reason(result._result)}

    def v2_playbook_on_stats(self, stats):
        for name in stats.processed:
            self.hosts.setdefault(name, _host_entry())
        report = self.build(stats)
        d = self.get_option('report_dir')
        try:
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, 'fleet-report.json'), 'w') as fh:
                json.dump(report, fh, indent=2, sort_keys=True)
                fh.write('\n')
            text = summary_text(report)
            with open(os.path.join(d, 'fleet-report.txt'), 'w') as fh:
                fh.write(text)
        except (IOError, OSError) as e:
            self._display.warning('wsgifix fleet report not written to %s: %s' % (d, e))
            return
        self._display.display('\nwsgifix fleet report: %s\n%s'
                              % (os.path.join(d, 'fleet-report.json'), text))

    def build(self, stats):
        by_rule = Counter()
        for name, h in sorted(self.hosts.items()):
            s = stats.summarize(name) if name in stats.processed else {}
            if h['rolled_back'] and h['status'] == 'fixed':
                h['status'] = 'rolled-back'
            if s.get('failures') or s.get('unreachable'):
                h['status'] = 'failed'
                if h['failed'] is None:
                    h['failed'] = {'task': None, 'reason': 'failed'}
            elif h['status'] is None:
                h['status'] = 'not-audited'
            by_rule.update(h['by_rule'])
        hosts = self.hosts
        failed = [{'host': n, 'task': h['failed']['task'], 'reason': h['failed']['reason']}
                  for n, h in sorted(hosts.items()) if h['status'] == 'failed']
        statuses = Counter(h['status'] for h in hosts.values())
        return {
            'schema_version': 1,
            'check_mode': self._check_mode(),
            'generated': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
            'wall_seconds': round(time.time() - self.started, 3),
            'totals': {
                'hosts': len(hosts),
                'findings': sum(h['findings'] for h in hosts.values()),
                'fixable': sum(h['fixable'] for h in hosts.values()),
                'by_rule': dict(sorted(by_rule.items())),
                'by_status': dict(sorted(statuses.items())),
                'files_changed': sum(len(h['changed_files']) for h in hosts.values()
                                     if h['status'] in ('fixed', 'would-fix')),
            },
            'hosts': hosts,
            'failed': failed,
        }


def summary_text(report):
    t = report['totals']
    lines = ['wsgifix fleet report%s, %s' % (' (check mode)' if report['check_mode'] else '',
                                             report['generated']),
             '%d hosts: %s' % (t['hosts'], ', '.join('%d %s' % (n, s) for s, n
                                                   in t['by_status'].items())),
             '%d findings (%d fixable), %d files %s' % (
                 t['findings'], t['fixable'], t['files_changed'],
                 'would change' if report['check_mode'] else 'changed'),
             '', 'by rule:']
    for code, n in t['by_rule'].items():
        lines.append('  %-8s %5d' % (code, n))
    lines += ['', 'by host:']
    for name, h in sorted(report['hosts'].items()):
        rules = ' '.join('%s=%d' % kv for kv in sorted(h['by_rule'].items()))
        lines.append('  %-24s %-12s %3d findings  %s' % (name, h['status'], h['findings'], rules))
    if report['failed']:
        lines += ['', 'failed hosts:']
        for f in report['failed']:
            lines.append('  %s: %s%s' % (f['host'], f['reason'],
                                         ' (task: %s)' % f['task'] if f['task'] else ''))
    return '\n'.join(lines) + '\n'
