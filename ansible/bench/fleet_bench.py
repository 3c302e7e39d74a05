#!/usr/bin/env python3
"""Wall time of the migrate playbook over a generated local fleet.

Each host is a directory with its own config tree (apache2.conf + sites/ +
conf/, two embedded apps in a vhost and one server-level app: every host
needs fixing) reached with ansible_connection=local. With --apache each host
also gets its own running Apache + mod_wsgi on a loopback port, the smoke
test GETs every app and the reload is a real graceful restart; without it
the smoke test list is empty and the reload is `true`.

Every measured run starts from the same pristine trees. Results are printed
as a Markdown table (wall seconds, seconds per host).

  python3 ansible/bench/fleet_bench.py --hosts 20 --apache --forks 10 --modes check,real
  python3 ansible/bench/fleet_bench.py --hosts 200 --forks 10,50 --modes check
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ANSIBLE_DIR = os.path.dirname(HERE)
REPO = os.path.dirname(ANSIBLE_DIR)
MODULES = '/usr/lib/apache2/modules'

APP = '''import json, os
def application(environ, start_response):
    body = json.dumps({"process_group": environ.get("mod_wsgi.process_group"),
                       "application_group": environ.get("mod_wsgi.application_group"),
                       "pid": os.getpid()}).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
'''


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def make_host(d, port):
    for sub in ('sites', 'conf', 'apps', 'run', 'log', 'lock'):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    os.chmod(d, 0o755)
    for app in ('shop', 'blog', 'reports'):
        with open(os.path.join(d, 'apps', app + '.wsgi'), 'w') as fh:
            fh.write(APP)
    mpm = 'mpm_event' if os.path.exists(os.path.join(MODULES, 'mod_mpm_event.so')) else 'mpm_worker'
    user = 'User www-data\nGroup www-data\n' if os.geteuid() == 0 else ''
    loads = ''.join('LoadModule %s_module %s/mod_%s.so\n' % (m, MODULES, m)
                    for m in (mpm, 'authz_core', 'alias', 'mime', 'wsgi'))
    with open(os.path.join(d, 'apache2.conf'), 'w') as fh:
        fh.write('ServerRoot "{d}"\nDefaultRuntimeDir "{d}/run"\nPidFile "{d}/run/httpd.pid"\n'
                 'ErrorLog "{d}/log/error.log"\nMutex "file:{d}/lock" default\n'
                 'Listen 127.0.0.1:{port}\nServerName 127.0.0.1\n{user}{loads}'
                 'TypesConfig /dev/null\nWSGISocketPrefix "{d}/run/wsgi"\n'
                 'StartServers 1\nServerLimit 4\nThreadsPerChild 4\nThreadLimit 4\n'
                 'MaxRequestWorkers 8\nMinSpareThreads 1\nMaxSpareThreads 8\n'
                 'IncludeOptional {d}/conf/*.conf\nIncludeOptional {d}/sites/*.conf\n'
                 .format(d=d, port=port, user=user, loads=loads))
    with open(os.path.join(d, 'sites', 'main.conf'), 'w') as fh:
        fh.write('<VirtualHost *>\n    ServerName web.test\n'
                 '    WSGIScriptAlias /shop {d}/apps/shop.wsgi\n'
                 '    WSGIScriptAlias /blog {d}/apps/blog.wsgi\n</VirtualHost>\n'.format(d=d))
    with open(os.path.join(d, 'conf', 'reports.conf'), 'w') as fh:
        fh.write('WSGIScriptAlias /reports {d}/apps/reports.wsgi\n<Directory {d}/apps>\n'
                 '    Require all granted\n</Directory>\n'.format(d=d))


def apache(d, *args):
    return subprocess.run(['apache2', '-d', d, '-f', os.path.join(d, 'apache2.conf')] + list(args),
                          capture_output=True, text=True, env={'PATH': '/usr/sbin:/usr/bin:/bin'})


def stop(d):
    apache(d, '-k', 'stop')
    pid_file = os.path.join(d, 'run', 'httpd.pid')
    for _ in range(100):
        if not os.path.exists(pid_file):
            return
        time.sleep(0.1)
    try:
        with open(pid_file) as fh:
            os.kill(int(fh.read().strip()), signal.SIGKILL)
    except (OSError, ValueError):
        pass


def inventory(root, hosts, binary, with_apache, install):
    lines = ['all:', '  hosts:']
    for name, d, port in hosts:
        urls = ['http://127.0.0.1:%d%s' % (port, m) for m in ('/shop', '/blog', '/reports')]
        reload_cmd = 'apache2 -d %s -f %s/apache2.conf -k graceful' % (d, d)
        v = {
            'ansible_connection': 'local',
            'ansible_python_interpreter': '/usr/bin/python3',
            'wsgifix_install': 'copy' if install else 'none',
            'wsgifix_binary_src': binary,
            'wsgifix_binary': d + '/bin/wsgifix' if install else binary,
            'wsgifix_state_dir': d + '/state',
            'wsgifix_config': d + '/apache2.conf',
            'wsgifix_verify_cmd': 'apache2 -d %s -f %s/apache2.conf -t' % (d, d),
            'wsgifix_reload_cmd': reload_cmd if with_apache else 'true',
            'wsgifix_smoke_urls': urls if with_apache else [],
        }
        lines.append('    %s:' % name)
        lines += ['      %s: %s' % (k, json.dumps(x)) for k, x in v.items()]
    p = os.path.join(root, 'hosts.yml')
    with open(p, 'w') as fh:
        fh.write('\n'.join(lines) + '\n')
    return p


def run_playbook(playbook, inv, root, forks, check):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ANSIBLE_DIR, 'ansible.cfg'),
               ANSIBLE_FORKS=str(forks), WSGIFIX_REPORT_DIR=os.path.join(root, 'report'),
               ANSIBLE_LOCAL_TEMP=os.path.join(root, 'tmp'), ANSIBLE_HOME=os.path.join(root, 'home'),
               ANSIBLE_NOCOLOR='1')
    args = [playbook, '-i', inv, os.path.join(ANSIBLE_DIR, 'migrate.yml'),
            '-e', '{"wsgifix_serial": [1, "25%"], "wsgifix_max_fail_percentage": 30}']
    if check:
        args.append('--check')
    t = time.monotonic()
    p = subprocess.run(args, cwd=ANSIBLE_DIR, env=env, capture_output=True, text=True)
    wall = time.monotonic() - t
    if p.returncode != 0:
        sys.stderr.write(p.stdout[-4000:] + p.stderr)
        raise SystemExit('ansible-playbook failed (exit %d)' % p.returncode)
    return wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--hosts', type=int, default=20)
    ap.add_argument('--forks', default='10')
    ap.add_argument('--modes', default='check,real')
    ap.add_argument('--apache', action='store_true')
    ap.add_argument('--no-install', action='store_true',
                    help='use --binary in place instead of copying it to every host')
    ap.add_argument('--binary', default=os.path.join(
        os.environ.get('CARGO_TARGET_DIR', os.path.join(REPO, 'target')), 'release', 'wsgifix'))
    ap.add_argument('--playbook', default=shutil.which('ansible-playbook')
                    or '/opt/wsgifix-ansible/bin/ansible-playbook')
    a = ap.parse_args()
    root = tempfile.mkdtemp(prefix='wsgifix-fleet-bench-')
    # Apache's children and mod_wsgi's daemons run as www-data: they must
    # reach the apps.
    os.chmod(root, 0o755)
    os.makedirs(os.path.join(root, 'hosts'), mode=0o755)
    pristine = os.path.join(root, 'pristine')
    hosts = []
    for i in range(a.hosts):
        name = 'web%03d' % i
        d = os.path.join(root, 'hosts', name)
        port = free_port()
        make_host(d, port)
        hosts.append((name, d, port))
    shutil.copytree(os.path.join(root, 'hosts'), pristine, symlinks=True)
    inv = inventory(root, hosts, os.path.abspath(a.binary), a.apache, not a.no_install)
    rows = []
    try:
        for forks in [int(f) for f in a.forks.split(',')]:
            for mode in a.modes.split(','):
                shutil.rmtree(os.path.join(root, 'hosts'))
                shutil.copytree(pristine, os.path.join(root, 'hosts'), symlinks=True)
                os.chmod(os.path.join(root, 'hosts'), 0o755)
                if a.apache:
                    for _, d, _ in hosts:
                        out = apache(d, '-k', 'start')
                        if out.returncode != 0:
                            raise SystemExit(out.stderr)
                    time.sleep(1)
                try:
                    wall = run_playbook(a.playbook, inv, root, forks, mode == 'check')
                finally:
                    if a.apache:
                        for _, d, _ in hosts:
                            stop(d)
                rows.append((a.hosts, forks, mode, wall, os.getloadavg()[0]))
                print('hosts=%d forks=%d %s: %.1f s (%.2f s/host)'
                      % (a.hosts, forks, mode, wall, wall / a.hosts), file=sys.stderr)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print('| hosts | Apache | forks | run | wall | per host | load avg after |')
    print('|---:|---|---:|---|---:|---:|---:|')
    for n, forks, mode, wall, load in rows:
        print('| %d | %s | %d | %s | %.1f s | %.2f s | %.1f |'
              % (n, 'yes' if a.apache else 'no', forks,
                 '--check' if mode == 'check' else 'real', wall, wall / n, load))


if __name__ == '__main__':
    main()
