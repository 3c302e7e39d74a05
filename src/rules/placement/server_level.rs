//! Where a fix goes for a mount outside every vhost. Nothing bare may be
//! added there (it would reach every vhost's apps): the mount's own alias
//! option, else a `<Directory>` that holds its script and no other app's,
//! else a `<Location>` of its URL.

use super::{split, FixEdit, Fixer};
use crate::analysis::coverage::{self, Decision, SectionKind};
use crate::analysis::{GroupKind, Mount, MountKind, NodePath, SectionContext};
use crate::server::FileId;
use crate::syntax::Node;

/// Why no alias option is added where a `<Location>` below the mount's URL
/// runs part of the app in another group.
const PARTS_ELSEWHERE: &str = "a <Location> below its URL runs part of it in another group: an alias option would move that part too, and no <Directory> holds its script alone";

impl Fixer<'_> {
    /// Both options on one alias preload the script at start-up, which
    /// needs the daemon defined before it (the engine's re-analysis refuses
    /// a fix that breaks that): an `application-group=` beside a
    /// `process-group=` whose daemon comes later goes into the script's own
    /// `<Directory>` instead (Ubuntu's openstack-dashboard.conf defines its
    /// daemon after the alias).
    pub(super) fn select_at_server_level(
        &self,
        m: &Mount,
        kind: GroupKind,
        shown: &str,
    ) -> Option<Vec<FixEdit>> {
        let directive = format!("{} {}", kind.directive(), shown);
        match m.kind {
            MountKind::Alias
                if kind == GroupKind::Application && self.daemon_comes_after_alias(m) =>
            {
                match self.own_directory(m) {
                    Some((file, path)) => {
                        Some(vec![self.insert_first_child(file, &path, &directive)])
                    }
                    None => self.refuse(
                        "its alias names a daemon defined after it, so application-group= there would preload the script before the daemon exists, and no <Directory> holds its script alone",
                    ),
                }
            }
            // An alias option would take the parts too; a <Directory> is
            // merged before every <Location>, so theirs still apply.
            MountKind::Alias if self.a.has_parts(m, kind) => match self.own_directory(m) {
                Some((file, path)) => Some(vec![self.insert_first_child(file, &path, &directive)]),
                None => self.alias_option(m, kind, shown),
            },
            MountKind::Alias => self.alias_option(m, kind, shown),
            _ => Some(vec![self.location_for(m, kind, &directive)?]),
        }
    }

    pub(super) fn alias_option(
        &self,
        m: &Mount,
        kind: GroupKind,
        shown: &str,
    ) -> Option<Vec<FixEdit>> {
        if m.kind != MountKind::Alias {
            return None;
        }
        if self.a.has_parts(m, kind) {
            return self.refuse(PARTS_ELSEWHERE);
        }
        let line = self.line(m.site.file, &m.site.path)?;
        let body_len = line.raw().len() - line.eol().len();
        let mut raw = line.raw()[..body_len].to_vec();
        raw.extend_from_slice(format!(" {}={shown}", kind.option()).as_bytes());
        raw.extend_from_slice(line.eol());
        Some(vec![self.replace(m.site.file, &m.site.path, raw)])
    }

    /// The alias's `process-group=` names a daemon no definition before it
    /// (at server level) provides.
    fn daemon_comes_after_alias(&self, m: &Mount) -> bool {
        let Some(p) = m.args.option("process-group") else {
            return false;
        };
        !p.value.contains("%{")
            && !self
                .a
                .daemons_named(&p.value)
                .any(|(_, d)| d.site.scope == 0 && d.site.order < m.site.order)
    }

    /// A literal `<Directory>` beside the alias that covers its script and
    /// no script of another app, anywhere in the server.
    fn own_directory(&self, m: &Mount) -> Option<(FileId, NodePath)> {
        let (parent, _) = split(&m.site.path);
        let siblings = self.children(m.site.file, &parent)?;
        siblings.iter().enumerate().find_map(|(i, node)| {
            let Node::Section(s) = node else {
                return None;
            };
            if !s.name_is("Directory") {
                return None;
            }
            let (_, args) = s.name_and_args();
            let (kind, regex, arg) = coverage::classify_section("directory", &args);
            let mut path = parent.clone();
            path.push(i);
            let section = SectionContext {
                kind,
                arg,
                regex,
                file: m.site.file,
                path: path.clone(),
                order: usize::MAX,
                line: s.open.line,
            };
            let alone = kind == SectionKind::Directory
                && !regex
                && coverage::covers(&section, m) == Decision::Yes
                && self
                    .a
                    .mounts
                    .iter()
                    .filter(|o| o.app != m.app)
                    .all(|o| coverage::covers(&section, o) == Decision::No);
            alone.then_some((m.site.file, path))
        })
    }
}
