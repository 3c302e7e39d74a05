# -*- coding: utf-8 -*-
# Copyright: wsgifix contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers for the wsgifix module: reading the CLI's JSON, feature detection,
turning unified diffs into Ansible's before/after diffs, and the hold file
of a host whose smoke test failed. Checkpoints, the configtest and rollback
are wsgifix's own.

Kept free of AnsibleModule so that they can be unit-tested directly.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re

# Flags and subcommands that newer wsgifix binaries have. The module asks the
# binary (`--help`) instead of comparing versions, because each of them lands
# separately.
FEATURES = {
    'verify': '--verify-cmd',
    'state_dir': '--state-dir',
    'root': '--root',
    'rollback': 'rollback',
    'list_apps': '--list-apps',
    'exit_non_zero_on_fix': '--exit-non-zero-on-fix',
}

# What the module cannot work without.
REQUIRED = {'verify', 'state_dir', 'rollback'}


def features_from_help(text):
    """Which FEATURES the `wsgifix --help` text mentions."""
    found = set()
    for name, needle in FEATURES.items():
        if needle.startswith('--'):
            if re.search(r'(^|[\s,])' + re.escape(needle) + r'\b', text, re.M):
                found.add(name)
        elif re.search(r'^\s+' + re.escape(needle) + r'\b', text, re.M):
            # A subcommand, listed indented under "Commands:".
            found.add(name)
    return found


def parse_document(stdout):
    """The one JSON document wsgifix prints with --format json, or None."""
    text = stdout.strip()
    if not text:
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def flatten_findings(doc):
    """Findings of every file, each with the file it is in."""
    out = []
    for f in doc.get('files') or []:
        for x in f.get('findings') or []:
            out.append({
                'code': x.get('code'),
                'name': x.get('name'),
                'file': f.get('path'),
                'line': x.get('line'),
                'column': x.get('column'),
                'message': x.get('message'),
                'fixable': bool(x.get('fixable')),
            })
    return out


def file_errors(doc):
    """`PATH:LINE:COL: message` for every file wsgifix could not handle."""
    out = []
    for f in doc.get('files') or []:
        e = f.get('error')
        if not e:
            continue
        place = f.get('path') or '?'
        if e.get('line') is not None and e.get('column') is not None:
            place = '%s:%s:%s' % (place, e['line'], e['column'])
        out.append({'file': f.get('path'), 'kind': e.get('kind'),
                    'line': e.get('line'), 'column': e.get('column'),
                    'message': e.get('message'),
                    'text': '%s: %s' % (place, e.get('message'))})
    return out


def real_path(f):
    """The file that is really written (symlinks resolved)."""
    return f.get('real_path') or os.path.realpath(f['path'])


_HUNK = re.compile(r'^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@')


def apply_unified(before, diff):
    """Applies a unified diff of one file to `before` (text) and returns the
    new text, or None when the diff does not apply (then the caller shows the
    diff as it is). Only what wsgifix prints is needed: one file, context
    lines, `\\ No newline at end of file` markers."""
    old = _lines(before)
    out = []
    pos = 0
    lines = _lines(diff)
    i = 0
    while i < len(lines) and not lines[i].startswith('@@'):
        i += 1
    while i < len(lines):
        m = _HUNK.match(lines[i])
        if not m:
            return None
        start = int(m.group(1))
        # An empty old range (`-0,0`) starts after line `start`, not at it.
        count = 1 if m.group(2) is None else int(m.group(2))
        at = start if count == 0 else start - 1
        if at < pos or at > len(old):
            return None
        out.extend(old[pos:at])
        pos = at
        i += 1
        while i < len(lines) and not lines[i].startswith('@@'):
            line = lines[i]
            tag, body = line[:1], line[1:]
            nl_follows = i + 1 < len(lines) and lines[i + 1].startswith('\\')
            if nl_follows and body.endswith('\n'):
                # The newline before the marker is the diff's, not the file's.
                body = body[:-1]
            if tag == ' ' or tag == '-':
                if pos >= len(old) or old[pos] != body:
                    return None
                pos += 1
                if tag == ' ':
                    out.append(body)
            elif tag == '+':
                out.append(body)
            elif tag == '\\':
                pass
            else:
                return None
            i += 1
    out.extend(old[pos:])
    return ''.join(out)


def _lines(text):
    """Lines split after each \\n only: a bare \\r or a form feed is part of
    a line for httpd (str.splitlines would split there)."""
    return re.findall(r'[^\n]*\n|[^\n]+$', text)


def read_text(path):
    """A file's content for a diff; bytes that are not UTF-8 are replaced,
    as wsgifix's JSON does."""
    with open(path, 'rb') as fh:
        return fh.read().decode('utf-8', 'replace')


def diff_entry(path, before, after):
    return {'before_header': path, 'after_header': path,
            'before': before, 'after': after}


HOLD_FILE = 'ansible-hold'


def hold_path(state_dir):
    return os.path.join(state_dir, HOLD_FILE)


def read_hold(state_dir):
    """Why the host is held, or None when it is not."""
    try:
        with open(hold_path(state_dir)) as fh:
            return ' '.join(fh.read().split()) or 'held'
    except (IOError, OSError):
        return None


def write_hold(state_dir, reason):
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    with open(hold_path(state_dir), 'w') as fh:
        fh.write(reason.rstrip('\n') + '\n')

