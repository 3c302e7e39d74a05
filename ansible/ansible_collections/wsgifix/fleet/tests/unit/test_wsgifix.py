# -*- coding: utf-8 -*-
"""Unit tests of the wsgifix module: its argument spec against its
documentation, check mode, diff output, verify failure, checkpoints and
rollback. The module runs as Ansible runs it (a subprocess reading its
arguments from a JSON file) against the real wsgifix binary (WSGIFIX_BIN).

Run: WSGIFIX_BIN=target/debug/wsgifix PYTHONPATH=ansible \
     python -m unittest discover -s ansible/ansible_collections/wsgifix/fleet/tests/unit
"""

from __future__ import absolute_import, division, print_function

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import yaml

from ansible_collections.wsgifix.fleet.plugins.modules import wsgifix as M
from ansible_collections.wsgifix.fleet.plugins.module_utils import wsgifix_cli as W

MODULE = M.__file__
BIN = os.environ.get('WSGIFIX_BIN', 'wsgifix')

SITE = """<VirtualHost *:80>
    ServerName shop.example
    WSGIScriptAlias /shop /srv/shop/app.wsgi
    WSGIScriptAlias /blog /srv/blog/app.wsgi
</VirtualHost>
"""

GOOD = """<VirtualHost *:80>
    WSGIDaemonProcess shop
    WSGIProcessGroup shop
    WSGIApplicationGroup %{GLOBAL}
    WSGIScriptAlias /shop /srv/shop/app.wsgi
</VirtualHost>
"""


class Tree(object):
    """A server: apache2.conf including sites/*.conf."""

    def __init__(self, site=SITE):
        self.dir = tempfile.mkdtemp(prefix='wsgifix-unit-')
        os.mkdir(os.path.join(self.dir, 'sites'))
        self.main = os.path.join(self.dir, 'apache2.conf')
        self.site = os.path.join(self.dir, 'sites', 'shop.conf')
        self.state = os.path.join(self.dir, 'state')
        with open(self.main, 'w') as fh:
            fh.write('ServerRoot "%s"\nInclude sites/*.conf\n' % self.dir)
        with open(self.site, 'w') as fh:
            fh.write(site)

    def read(self):
        with open(self.site, 'rb') as fh:
            return fh.read()

    def cleanup(self):
        shutil.rmtree(self.dir)


def run_module(args, check=False, diff=False):
    """The module's result (a dict with `failed` on failure)."""
    a = dict(args)
    a.setdefault('binary', BIN)
    a['_ansible_check_mode'] = check
    a['_ansible_diff'] = diff
    fd, path = tempfile.mkstemp(suffix='.json')
    with os.fdopen(fd, 'w') as fh:
        json.dump({'ANSIBLE_MODULE_ARGS': a}, fh)
    try:
        p = subprocess.run([sys.executable, MODULE, path], capture_output=True, text=True)
    finally:
        os.unlink(path)
    try:
        return json.loads(p.stdout)
    except ValueError:
        raise AssertionError('module printed no JSON (exit %d):\n%s\n%s'
                             % (p.returncode, p.stdout, p.stderr))


class ArgumentSpec(unittest.TestCase):
    def test_spec_matches_documentation(self):
        doc = yaml.safe_load(M.DOCUMENTATION)['options']
        self.assertEqual(sorted(doc), sorted(M.ARGUMENT_SPEC))
        for name, spec in M.ARGUMENT_SPEC.items():
            d = doc[name]
            self.assertEqual(d.get('type', 'str'), spec.get('type', 'str'), name)
            self.assertEqual(d.get('default'), spec.get('default'), name)
            self.assertEqual(d.get('choices'), spec.get('choices'), name)
            self.assertEqual(d.get('elements'), spec.get('elements'), name)

    def test_examples_and_return_are_yaml(self):
        self.assertTrue(yaml.safe_load(M.EXAMPLES))
        ret = yaml.safe_load(M.RETURN)
        for key in ('findings', 'written', 'checkpoint', 'verify', 'rolled_back'):
            self.assertIn(key, ret)

    def test_unknown_parameter_is_refused(self):
        r = run_module({'config': '/nonexistent', 'bogus': 1})
        self.assertTrue(r.get('failed'))
        self.assertIn('bogus', r['msg'])

    def test_state_choices(self):
        r = run_module({'state': 'absent'})
        self.assertTrue(r.get('failed'))
        self.assertIn('state', r['msg'])

    def test_missing_binary_is_a_clear_failure(self):
        r = run_module({'binary': '/nonexistent/wsgifix', 'state': 'checked'})
        self.assertTrue(r.get('failed'))
        self.assertIn('/nonexistent/wsgifix', r['msg'])


class Modes(unittest.TestCase):
    def setUp(self):
        self.t = Tree()
        self.before = self.t.read()

    def tearDown(self):
        self.t.cleanup()

    def args(self, **kw):
        a = {'config': self.t.main, 'state_dir': self.t.state, 'verify_cmd': 'true'}
        a.update(kw)
        return a

    def test_checked_reports_findings_and_changes_nothing(self):
        r = run_module(self.args(state='checked'))
        self.assertFalse(r.get('failed'), r)
        self.assertFalse(r['changed'])
        codes = sorted(f['code'] for f in r['findings'])
        self.assertEqual(codes, ['WSGI001', 'WSGI001', 'WSGI003', 'WSGI003'])
        f = r['findings'][0]
        self.assertEqual(f['file'], self.t.site)
        self.assertEqual((f['line'], f['column']), (3, 5))
        self.assertIn('/shop', f['message'])
        self.assertEqual(self.t.read(), self.before)

    def test_check_mode_changes_nothing_and_says_changed(self):
        r = run_module(self.args(), check=True)
        self.assertTrue(r['changed'])
        self.assertEqual(r['written'], [])
        self.assertIsNone(r['checkpoint'])
        self.assertEqual(self.t.read(), self.before)
        self.assertFalse(os.path.exists(self.t.state))
        self.assertNotIn('diff', r)

    def test_check_mode_diff_is_before_and_after(self):
        r = run_module(self.args(), check=True, diff=True)
        self.assertEqual(len(r['diff']), 1)
        d = r['diff'][0]
        self.assertEqual(d['before_header'], self.t.site)
        self.assertEqual(d['after_header'], self.t.site)
        self.assertEqual(d['before'], self.before.decode())
        # The after of check mode is exactly what a real run writes.
        real = run_module(self.args())
        self.assertTrue(real['changed'])
        self.assertEqual(d['after'], self.t.read().decode())
        self.assertIn('WSGIDaemonProcess shop', d['after'])

    def test_fixed_writes_once(self):
        r = run_module(self.args(), diff=True)
        self.assertFalse(r.get('failed'), r)
        self.assertTrue(r['changed'])
        self.assertEqual(r['written'], [os.path.realpath(self.t.site)])
        self.assertTrue(r['checkpoint'])
        self.assertEqual(r['verify']['result'], 'passed')
        self.assertEqual(r['diff'][0]['after'], self.t.read().decode())
        again = run_module(self.args())
        self.assertFalse(again['changed'], again)
        self.assertEqual(again['findings'], [])

    def test_verify_failure_restores_and_fails_with_the_message(self):
        r = run_module(self.args(verify_cmd='echo "AH00526: Syntax error" >&2; exit 1'))
        self.assertTrue(r.get('failed'))
        self.assertIn('AH00526: Syntax error', r['msg'])
        self.assertTrue(r['rolled_back'])
        self.assertFalse(r['changed'])
        self.assertEqual(r['verify']['result'], 'failed')
        self.assertEqual(self.t.read(), self.before)

    def test_rollback_restores_and_holds(self):
        fix = run_module(self.args())
        self.assertNotEqual(self.t.read(), self.before)
        args = {'state': 'rolled_back', 'state_dir': self.t.state,
                'checkpoint_id': fix['checkpoint']}
        check = run_module(args, check=True, diff=True)
        self.assertTrue(check['changed'])
        self.assertNotEqual(self.t.read(), self.before)
        back = run_module(dict(args, hold=True, hold_reason='smoke test failed'), diff=True)
        self.assertTrue(back['changed'], back)
        self.assertEqual(back['diff'][0]['after'], self.before.decode())
        self.assertEqual(self.t.read(), self.before)
        self.assertFalse(run_module(args)['changed'])
        held = run_module(self.args())
        self.assertTrue(held['held'])
        self.assertFalse(held['changed'])
        self.assertIn('smoke test failed', held['msg'])
        self.assertEqual(len(held['findings']), 4)
        self.assertEqual(self.t.read(), self.before)

    def test_rollback_without_checkpoint_fails(self):
        r = run_module({'state': 'rolled_back', 'state_dir': self.t.state})
        self.assertTrue(r.get('failed'))
        self.assertIn('no checkpoint', r['msg'])

    def test_a_binary_without_checkpoints_is_refused(self):
        # A wsgifix older than the collection: no --state-dir, no rollback.
        old = os.path.join(self.t.dir, 'old-wsgifix')
        with open(old, 'w') as fh:
            fh.write('#!/bin/sh\necho "Usage: wsgifix [OPTIONS] [PATH]..."\n'
                     'echo "      --check  findings only"\n')
        os.chmod(old, 0o755)
        r = run_module(self.args(binary=old))
        self.assertTrue(r.get('failed'))
        self.assertIn('too old', r['msg'])
        self.assertIn('--state-dir', r['msg'])
        self.assertEqual(self.t.read(), self.before)

    def test_syntax_error_fails_with_file_line_column(self):
        with open(self.t.site, 'w') as fh:
            fh.write('<VirtualHost *:80>\n    ServerName x\n')
        r = run_module(self.args(state='checked'))
        self.assertTrue(r.get('failed'))
        self.assertIn(self.t.site + ':1:1:', r['msg'])
        self.assertEqual(r['errors'][0]['kind'], 'syntax')

    def test_correct_config_is_not_changed(self):
        with open(self.t.site, 'w') as fh:
            fh.write(GOOD)
        r = run_module(self.args(), diff=True)
        self.assertFalse(r['changed'])
        self.assertEqual(r['findings'], [])
        self.assertNotIn('diff', r)


class Helpers(unittest.TestCase):
    def test_apply_unified_no_final_newline_and_crlf(self):
        before = 'a\r\nb\r\nc'
        diff = ('--- a/f\n+++ b/f\n@@ -2,2 +2,3 @@\n b\r\n-c\n\\ No newline at end of file\n'
                '+c\r\n+d\n\\ No newline at end of file\n')
        self.assertEqual(W.apply_unified(before, diff), 'a\r\nb\r\nc\r\nd')

    def test_apply_unified_keeps_bare_cr_and_form_feed(self):
        before = 'x\ry\n\x0cz\n'
        diff = '--- a/f\n+++ b/f\n@@ -1,2 +1,3 @@\n x\ry\n+new\n \x0cz\n'
        self.assertEqual(W.apply_unified(before, diff), 'x\ry\nnew\n\x0cz\n')

    def test_apply_unified_refuses_a_mismatch(self):
        self.assertIsNone(W.apply_unified('q\n', '@@ -1,1 +1,1 @@\n-a\n+b\n'))

    def test_features_from_help(self):
        text = ('Usage: wsgifix [OPTIONS] [PATH]... [COMMAND]\n\nCommands:\n'
                '  rollback     Restore a checkpoint\n\nOptions:\n'
                '      --state-dir <DIR>  where\n      --verify-cmd <CMD>\n')
        self.assertEqual(W.features_from_help(text), {'rollback', 'state_dir', 'verify'})
        self.assertEqual(W.features_from_help('      --check  findings only\n'), set())


if __name__ == '__main__':
    unittest.main()
