//! Random mod_wsgi configurations through the whole engine: it never panics,
//! never discards its own fixes, and what it writes parses, is stable on a
//! second run and leaves nothing fixable behind.

mod common;

use common::random_config::{config, render};
use proptest::prelude::*;
use wsgifix::engine::{process, EngineError, Options};

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn engine_fixes_are_valid_and_stable(
        items in config(),
        unit in prop::sample::select(vec!["    ", "\t", "  "]),
        eol in prop::sample::select(vec!["\n", "\r\n"]),
        final_newline in any::<bool>(),
    ) {
        let mut text = String::new();
        render(&items, "", unit, eol, &mut text);
        if !final_newline {
            while text.ends_with('\n') || text.ends_with('\r') {
                text.pop();
            }
        }
        let r = process(text.as_bytes(), &Options::default());
        if let Some(EngineError::FixDiscarded { message, .. }) = &r.error {
            prop_assert!(false, "fixes discarded: {message}\n{text}");
        }
        // A preload whose daemon comes later, or lives in another
        // ServerName's vhost, and a WSGIImportScript, WSGIDaemonProcess or
        // WSGIScriptAlias(Match) in a section (the generator puts lines anywhere), are what httpd
        // refuses to start with: an error, in httpd's words, and nothing
        // to fix.
        if let Some(EngineError::Syntax(e)) = &r.error {
            let preload = e.message.starts_with("WSGI process group not ")
                || e.message.starts_with("WSGIImportScript not allowed in <");
            let server_only = ["WSGIDaemonProcess", "WSGIScriptAlias", "WSGIScriptAliasMatch"]
                .iter()
                .find(|d| e.message.starts_with(&format!("{d} not allowed in <")));
            if preload || server_only.is_some() {
                prop_assert!(!preload || text.contains("process-group="), "{text}");
                prop_assert!(server_only.is_none_or(|d| text.contains(*d)), "{text}");
                prop_assert!(r.fixed.is_none());
                return Ok(());
            }
        }
        prop_assert!(r.error.is_none(), "{:?}\n{}", r.error, text);
        if let Some(fixed) = r.fixed {
            let again = process(&fixed, &Options::default());
            prop_assert!(again.error.is_none(), "{:?}", again.error);
            prop_assert!(again.fixed.is_none(), "not idempotent:\n{}", String::from_utf8_lossy(&fixed));
            prop_assert!(again.findings.iter().all(|f| !f.fixable));
            // Line endings are never mixed in: a CRLF file stays CRLF (a file
            // without any line ending has no style to keep).
            let new_text = String::from_utf8(fixed).unwrap();
            if !text.contains('\n') {
            } else if eol == "\r\n" {
                prop_assert_eq!(new_text.matches('\n').count(), new_text.matches("\r\n").count());
            } else {
                prop_assert!(!new_text.contains('\r'));
            }
            prop_assert_eq!(new_text.ends_with('\n'), text.ends_with('\n'));
        }
    }
}
