//! Any bytes: parsing must not panic, and a parsed tree must print the input
//! back byte for byte (SPEC §1, "Lossless"). The views analysis relies on
//! must not panic either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsgifix::syntax::{parse, visit_lines};

fuzz_target!(|data: &[u8]| {
    match parse(data) {
        Ok(tree) => {
            assert!(tree.to_bytes() == data, "round trip changed the input");
            let mut newlines = 0u32;
            visit_lines(&tree.nodes, &mut |line| {
                assert_eq!(line.line, newlines + 1, "line number out of step");
                newlines += line.newline_count();
                let _ = (line.logical(), line.name(), line.args());
                let (l, c) = line.content_position();
                assert!(l >= line.line && c >= 1);
            });
        }
        Err(e) => {
            let lines = data.iter().filter(|&&b| b == b'\n').count() as u32 + 1;
            assert!(
                e.line >= 1 && e.line <= lines && e.column >= 1,
                "error outside the input: {e}"
            );
        }
    }
});
