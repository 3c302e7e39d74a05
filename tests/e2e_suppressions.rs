//! Inline suppressions under real Apache + mod_wsgi: an app marked
//! `# wsgifix: ignore[WSGI003]` keeps its sub-interpreter through a fix of
//! its neighbour in the same vhost, and the neighbour really moves to the
//! main interpreter.
//!
//! Without Apache or mod_wsgi the test prints why and passes, unless
//! `WSGIFIX_REQUIRE_APACHE=1` says this machine must have them.

mod common;
mod e2e_support;

use e2e_support::require_or_skip;
use e2e_support::scenario::{table, Scenario};
use e2e_support::tree::{Layout, Probe, Tree};

#[test]
fn a_suppressed_app_keeps_its_interpreter_while_its_neighbour_is_fixed() {
    let Some(apache) = require_or_skip("a_suppressed_app_keeps_its_interpreter") else {
        return;
    };
    let t = Tree::new(&apache, Layout::Debian, false);
    let legacy = t.app("legacy.wsgi", &[]);
    let new = t.app("new.wsgi", &[]);
    t.site(
        "apps.conf",
        &format!(
            "<VirtualHost {}>\n\tServerName apps.test\n\tWSGIDaemonProcess legacy processes=1 threads=2\n\tWSGIDaemonProcess new processes=1 threads=2\n\t# wsgifix: ignore[WSGI003] keeps its own sub-interpreter on purpose\n\tWSGIScriptAlias /legacy {legacy} process-group=legacy\n\tWSGIScriptAlias /new {new} process-group=new\n</VirtualHost>\n",
            t.vhost_addr(false)
        ),
    );
    let probes = vec![
        Probe::new("legacy", "apps.test", "/legacy"),
        Probe::new("new", "apps.test", "/new"),
    ];
    let s = Scenario {
        name: "suppressed neighbour",
        probes,
        tree: t,
    };
    let before = s.serve();
    assert!(
        before
            .seen
            .iter()
            .all(|x| x.status == 200 && !x.application_group.is_empty()),
        "setup: both apps should run in sub-interpreters:\n{}",
        table(&s.probes, &before.seen)
    );
    let check = s.tree.wsgifix_config(&["--check"]);
    assert!(
        check.stdout.contains("WSGI003")
            && !check.stdout.contains("/legacy")
            && !check.stdout.contains("WSGI100"),
        "only /new is reported:\n{}",
        check.describe()
    );
    let run = s.write();
    assert_eq!(run.code, 0, "nothing left to fix:\n{}", run.describe());
    let after = s.serve();
    let (old_legacy, now_legacy) = (&before.seen[0], &after.seen[0]);
    let now_new = &after.seen[1];
    assert!(
        now_legacy.status == 200
            && now_legacy.application_group == old_legacy.application_group
            && now_legacy.process_group == "legacy",
        "the suppressed app moved:\n{}\n{}",
        table(&s.probes, &after.seen),
        s.tree.dump()
    );
    assert!(
        now_new.status == 200
            && now_new.application_group.is_empty()
            && now_new.process_group == "new",
        "the neighbour was not fixed:\n{}\n{}",
        table(&s.probes, &after.seen),
        s.tree.dump()
    );
    // The comment is still there, still suppressing: no WSGI100 after.
    let again = s.tree.wsgifix_config(&["--check"]);
    assert!(
        again.code == 0 && s.tree.dump().contains("# wsgifix: ignore[WSGI003]"),
        "{}",
        again.describe()
    );
}
