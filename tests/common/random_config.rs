//! Random mod_wsgi configurations, as proptest strategies: directives of
//! every kind the rules read, nested in the sections that change what they
//! apply to, with suppression comments among them.

use proptest::prelude::*;

const URLS: &[&str] = &["/", "/app", "/app/sub", "/api", "/shop", "/a b"];
const SCRIPTS: &[&str] = &[
    "/srv/app/app.wsgi",
    "/srv/api/wsgi.py",
    "/srv/shop/shop.wsgi",
    "/usr/bin/tool-wsgi",
];
const NAMES: &[&str] = &["pool", "app", "api", "shop", "%{GLOBAL}", "%{ENV:PG}"];
const APP_GROUPS: &[&str] = &["%{GLOBAL}", "%{RESOURCE}", "named", "%{SERVER}"];

fn pick(set: &'static [&'static str]) -> impl Strategy<Value = &'static str> {
    prop::sample::select(set)
}

fn quoted(s: &str) -> String {
    if s.contains(' ') {
        format!("\"{s}\"")
    } else {
        s.to_string()
    }
}

/// One directive line (without indent or line end).
fn directive() -> impl Strategy<Value = String> {
    prop_oneof![
        (pick(URLS), pick(SCRIPTS)).prop_map(|(u, s)| format!("WSGIScriptAlias {} {s}", quoted(u))),
        (pick(URLS), pick(SCRIPTS), pick(NAMES), pick(APP_GROUPS)).prop_map(
            |(u, s, p, a)| format!(
                "WSGIScriptAlias {} {s} process-group={p} application-group={a}",
                quoted(u)
            )
        ),
        pick(SCRIPTS).prop_map(|s| format!("WSGIScriptAliasMatch ^/m/(.*) {s}")),
        pick(NAMES).prop_map(|n| format!("WSGIDaemonProcess {n} processes=2 threads=4")),
        pick(NAMES).prop_map(|n| format!("WSGIProcessGroup {n}")),
        pick(APP_GROUPS).prop_map(|g| format!("WSGIApplicationGroup {g}")),
        (pick(SCRIPTS), pick(NAMES), pick(APP_GROUPS)).prop_map(|(s, p, a)| format!(
            "WSGIImportScript {s} process-group={p} application-group={a}"
        )),
        Just("SetHandler wsgi-script".to_string()),
        Just("AddHandler wsgi-script .py".to_string()),
        (pick(URLS), pick(SCRIPTS)).prop_map(|(u, s)| format!("Alias {} {s}", quoted(u))),
        Just("WSGIPythonPath /opt/lib".to_string()),
        Just("Require all granted".to_string()),
        Just("# a comment".to_string()),
        pick(&[
            "WSGI001",
            "WSGI002",
            "WSGI003",
            "WSGI001,WSGI003",
            "WSGI004"
        ])
        .prop_map(|c| format!("# wsgifix: ignore[{c}] on purpose")),
        Just(String::new()),
    ]
}

#[derive(Debug, Clone)]
pub enum Item {
    Line(String),
    Section(String, Vec<Item>),
}

fn section_header() -> impl Strategy<Value = String> {
    prop_oneof![
        pick(URLS).prop_map(|u| format!("Location {}", quoted(u))),
        Just("Directory /srv/app".to_string()),
        Just("Directory /opt/other".to_string()),
        Just("Files app.wsgi".to_string()),
        Just("IfModule wsgi_module".to_string()),
        Just("IfDefine SSL".to_string()),
        Just("IfDefine !SSL".to_string()),
    ]
}

fn body(depth: u32) -> BoxedStrategy<Vec<Item>> {
    let line = directive().prop_map(Item::Line);
    if depth == 0 {
        return prop::collection::vec(line, 0..6).boxed();
    }
    let section = (section_header(), body(depth - 1)).prop_map(|(h, b)| Item::Section(h, b));
    prop::collection::vec(prop_oneof![4 => line, 1 => section], 0..6).boxed()
}

pub fn config() -> impl Strategy<Value = Vec<Item>> {
    let vhost = (
        prop::option::of(pick(&["a.example.com", "b.example.com"])),
        body(1),
    )
        .prop_map(|(name, mut b)| {
            if let Some(n) = name {
                b.insert(0, Item::Line(format!("ServerName {n}")));
            }
            Item::Section("VirtualHost *:80".to_string(), b)
        });
    prop::collection::vec(
        prop_oneof![2 => directive().prop_map(Item::Line), 1 => vhost, 1 => (section_header(), body(1)).prop_map(|(h, b)| Item::Section(h, b))],
        1..8,
    )
}

pub fn render(items: &[Item], indent: &str, unit: &str, eol: &str, out: &mut String) {
    for i in items {
        match i {
            Item::Line(l) if l.is_empty() => out.push_str(eol),
            Item::Line(l) => out.push_str(&format!("{indent}{l}{eol}")),
            Item::Section(h, b) => {
                let name = h.split_whitespace().next().unwrap();
                out.push_str(&format!("{indent}<{h}>{eol}"));
                render(b, &format!("{indent}{unit}"), unit, eol, out);
                out.push_str(&format!("{indent}</{name}>{eol}"));
            }
        }
    }
}
