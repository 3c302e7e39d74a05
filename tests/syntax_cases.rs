//! One test per tricky input of shared/docs/apache-syntax.md §1-5 and per
//! Augeas test input listed in shared/docs/peers.md §1 (numbered 1-25 there).
//! Each asserts the byte-exact round trip and what httpd makes of the input:
//! line kinds, names, arguments, nesting, and error text with its position.

mod syntax_support;

use syntax_support::{all_lines, check_tree, outline};
use wsgifix::syntax::{parse, LineKind, Node, Section, SyntaxError, SyntaxTree, MAX_DEPTH};

/// Parses input that must be accepted, checking the round trip and the
/// tree-wide invariants (logical lines equal httpd's reader, line numbers).
fn ok(src: &[u8]) -> SyntaxTree {
    let tree = parse(src)
        .unwrap_or_else(|e| panic!("{:?} must parse, got {e}", String::from_utf8_lossy(src)));
    if let Err(e) = check_tree(src, &tree) {
        panic!("{:?}: {e}", String::from_utf8_lossy(src));
    }
    tree
}

fn err(src: &[u8]) -> SyntaxError {
    match parse(src) {
        Ok(t) => panic!(
            "{:?} must be refused, parsed as {:#?}",
            String::from_utf8_lossy(src),
            outline(&t)
        ),
        Err(e) => e,
    }
}

fn assert_err(src: &[u8], line: u32, column: u32, message: &str) {
    let e = err(src);
    assert_eq!(
        (e.line, e.column, e.message.as_str()),
        (line, column, message),
        "error for {:?}",
        String::from_utf8_lossy(src)
    );
}

fn assert_outline(src: &[u8], want: &[&str]) -> SyntaxTree {
    let tree = ok(src);
    assert_eq!(
        outline(&tree),
        want,
        "outline of {:?}",
        String::from_utf8_lossy(src)
    );
    tree
}

fn logical(tree: &SyntaxTree) -> Vec<String> {
    all_lines(tree)
        .iter()
        .map(|l| String::from_utf8_lossy(&l.logical()).into_owned())
        .collect()
}

fn section(tree: &SyntaxTree, i: usize) -> &Section {
    match &tree.nodes[i] {
        Node::Section(s) => s,
        other => panic!("node {i} is not a section: {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// §1 Physical lines → logical lines

#[test]
fn lone_cr_is_not_a_line_end() {
    let t = assert_outline(
        b"Alias /a /tmp/a\rAlias /b /tmp/b\r",
        &[r#"Alias ["/a", "/tmp/a", "Alias", "/b", "/tmp/b"]"#],
    );
    assert_eq!(all_lines(&t).len(), 1);
}

#[test]
fn crlf_with_continuation() {
    let t = assert_outline(
        b"Alias /a\\\r\n /b\r\nListen 80\r\n",
        &[r#"Alias ["/a", "/b"]"#, r#"Listen ["80"]"#],
    );
    assert_eq!(logical(&t), ["Alias /a /b", "Listen 80"]);
    assert_eq!(all_lines(&t)[1].line, 3);
}

#[test]
fn continuation_inside_a_word_keeps_next_line_indent() {
    let t = assert_outline(
        b"Alias /a /tmp/\\\n    a\nAlias /b\\\n/tmp/b\n",
        &[r#"Alias ["/a", "/tmp/", "a"]"#, r#"Alias ["/b/tmp/b"]"#],
    );
    assert_eq!(logical(&t), ["Alias /a /tmp/    a", "Alias /b/tmp/b"]);
    assert_eq!(all_lines(&t)[1].line, 3);
}

#[test]
fn backslash_then_space_is_not_a_continuation() {
    let t = assert_outline(
        b"Alias /a \\ \n/tmp/a\n",
        &[r#"Alias ["/a", "\\"]"#, r#"/tmp/a []"#],
    );
    assert_eq!(all_lines(&t)[1].line, 2);
}

#[test]
fn double_backslash_at_eol_still_continues() {
    let t = assert_outline(
        b"Alias /a /tmp/a\\\\\n/more\n",
        &[r#"Alias ["/a", "/tmp/a\\/more"]"#],
    );
    assert_eq!(logical(&t), ["Alias /a /tmp/a\\/more"]);
}

#[test]
fn double_backslash_then_blank_line_continues_again() {
    // httpd checks the joined buffer: the blank line's newline follows the
    // backslash left over from the first continuation, so it continues too.
    let t = assert_outline(
        b"Alias /a /b\\\\\n\nListen 80\n",
        &[r#"Alias ["/a", "/bListen", "80"]"#],
    );
    assert_eq!(all_lines(&t).len(), 1);
    // A single backslash leaves nothing to eat: the blank line ends it.
    // The blank line still ends httpd's logical line, so it belongs to it.
    let t = assert_outline(
        b"Alias /a /b\\\n\nListen 80\n",
        &[r#"Alias ["/a", "/b"]"#, r#"Listen ["80"]"#],
    );
    assert_eq!(all_lines(&t)[0].newline_count(), 2);
    assert_eq!(all_lines(&t)[1].line, 3);
}

#[test]
fn backslash_run_eaten_by_blank_lines() {
    // Each blank line eats one of the backslashes, the last one stays text.
    let t = assert_outline(b"A x\\\\\\\\\n\n\n B y\n", &[r#"A ["x\\", "B", "y"]"#]);
    assert_eq!(all_lines(&t).len(), 1);
    // With none left, the next blank line ends the logical line.
    let t = assert_outline(
        b"A x\\\\\\\r\n\r\n\r\n\r\nB y\r\n",
        &[r#"A ["x"]"#, r#"B ["y"]"#],
    );
    assert_eq!(all_lines(&t)[1].line, 5);
}

#[test]
fn backslash_at_eof_stays_text() {
    let t = assert_outline(b"Alias /a /tmp/a\\", &[r#"Alias ["/a", "/tmp/a\\"]"#]);
    assert_eq!(all_lines(&t)[0].eol(), b"");
}

#[test]
fn continuation_then_eof() {
    assert_outline(b"Alias /a /tmp/a\\\n", &[r#"Alias ["/a", "/tmp/a"]"#]);
    assert_outline(b"\\\n", &["blank"]);
}

#[test]
fn comment_continuation_swallows_next_line() {
    let t = assert_outline(
        b"# c \\\nAlias /a /tmp/a\nListen 80\n",
        &["comment", r#"Listen ["80"]"#],
    );
    assert_eq!(logical(&t)[0], "# c Alias /a /tmp/a");
    assert_eq!(all_lines(&t)[1].line, 3);
}

#[test]
fn continuation_inside_quotes() {
    assert_outline(
        b"ExpiresDefault \"modification plus \\\n   10 years\"\n",
        &[r#"ExpiresDefault ["modification plus    10 years"]"#],
    );
}

#[test]
fn continuation_inside_section_header() {
    let t = assert_outline(
        b"<VirtualHost \\\n  127.0.0.1:18080 \\\n  >\nServerName a\n</VirtualHost>\n",
        &[
            r#"<VirtualHost ["127.0.0.1:18080"]>"#,
            r#"  ServerName ["a"]"#,
            "</VirtualHost>",
        ],
    );
    let s = section(&t, 0);
    assert_eq!(s.children[0].first_line().line, 4);
    assert_eq!(s.close.as_ref().unwrap().line, 5);
}

#[test]
fn c_isspace_trims_and_separates() {
    let t = assert_outline(
        b"\x0b\tAlias\x0b/a\x0c/tmp/a \r\n",
        &[r#"Alias ["/a", "/tmp/a"]"#],
    );
    assert_eq!(logical(&t), ["Alias\x0b/a\x0c/tmp/a"]);
    // A line of nothing but C whitespace is blank.
    assert_outline(b" \t\x0b\x0c\r\n\r\n", &["blank", "blank"]);
}

#[test]
fn utf8_nbsp_is_not_whitespace() {
    assert_outline(
        "Alias\u{a0}/a /tmp/a\n".as_bytes(),
        &["Alias\u{a0}/a [\"/tmp/a\"]"],
    );
}

#[test]
fn nul_cuts_the_logical_line() {
    let t = assert_outline(
        b"Alias /a /tmp/a\0 garbage\nListen 80\n",
        &[r#"Alias ["/a", "/tmp/a"]"#, r#"Listen ["80"]"#],
    );
    assert_eq!(all_lines(&t)[1].line, 2);
    // A line that starts with NUL is blank to httpd, whatever follows.
    assert_outline(b"\0Alias /a /b\n", &["blank"]);
    assert_outline(b"  \0# x\nListen 80", &["blank", r#"Listen ["80"]"#]);
}

#[test]
fn nul_cancels_a_later_continuation() {
    // What follows the NUL, backslash-newline included, is never seen: the
    // next physical line is a line of its own.
    let t = assert_outline(
        b"Alias /a \\\n/tmp\0x\\\nListen 80\n",
        &[r#"Alias ["/a", "/tmp"]"#, r#"Listen ["80"]"#],
    );
    assert_eq!(all_lines(&t)[1].line, 3);
    // In a comment too.
    assert_outline(b"# a\0\\\nListen 80\n", &["comment", r#"Listen ["80"]"#]);
}

#[test]
fn nul_in_section_lines() {
    let t = assert_outline(
        b"<Directory /a>\0junk\nRequire all granted\n</Directory>\0</Foo>\n",
        &[
            r#"<Directory ["/a"]>"#,
            r#"  Require ["all", "granted"]"#,
            "</Directory>",
        ],
    );
    assert_eq!(
        section(&t, 0).close.as_ref().unwrap().raw(),
        b"</Directory>\0</Foo>\n"
    );
    // The `>` after the NUL is not seen.
    assert_err(
        b"<Directory /a\0>\n</Directory>\n",
        1,
        1,
        "<Directory> directive missing closing '>'",
    );
}

#[test]
fn utf8_bom_glues_onto_the_first_word() {
    // Apache on Unix does not skip a BOM: a leading comment becomes a directive.
    let t = assert_outline(b"\xef\xbb\xbf# comment\n", &["\u{feff}# [\"comment\"]"]);
    assert_eq!(all_lines(&t)[0].kind, LineKind::Directive);
    assert_outline(
        b"\xef\xbb\xbfRewriteEngine on\n",
        &["\u{feff}RewriteEngine [\"on\"]"],
    );
}

#[test]
fn empty_file() {
    let t = ok(b"");
    assert!(t.nodes.is_empty());
    assert!(t.to_bytes().is_empty());
}

#[test]
fn no_final_newline() {
    let t = assert_outline(
        b"Listen 80\nAlias /a /b",
        &[r#"Listen ["80"]"#, r#"Alias ["/a", "/b"]"#],
    );
    assert_eq!(all_lines(&t)[1].eol(), b"");
    assert_outline(
        b"<Directory /a>\n</Directory>",
        &[r#"<Directory ["/a"]>"#, "</Directory>"],
    );
    assert_outline(b"# only a comment", &["comment"]);
    assert_outline(b"   ", &["blank"]);
}

#[test]
fn mixed_line_endings() {
    let src = b"Listen 80\r\nListen 81\nListen 82\rListen 83\r\n\n";
    let t = assert_outline(
        src,
        &[
            r#"Listen ["80"]"#,
            r#"Listen ["81"]"#,
            r#"Listen ["82", "Listen", "83"]"#,
            "blank",
        ],
    );
    let eols: Vec<&[u8]> = all_lines(&t).iter().map(|l| l.eol()).collect();
    assert_eq!(eols, [&b"\r\n"[..], b"\n", b"\r\n", b"\n"]);
}

#[test]
fn continued_line_reports_its_content_position() {
    // Errors point at the first byte of content, even past continuations.
    assert_err(
        b"\\\n  <Directory /x\n",
        2,
        3,
        "<Directory> directive missing closing '>'",
    );
    assert_err(
        b"Listen 80\r\n\t<Directory /x\r\n",
        2,
        2,
        "<Directory> directive missing closing '>'",
    );
}

#[test]
fn non_utf8_bytes_round_trip_and_stay_bytes() {
    let src = b"Alias /caf\xe9 \"/srv/\xff\xfe\"\n# \xc3\n<Directory /d\x80>\n</Directory>\n";
    let t = ok(src);
    let lines = all_lines(&t);
    assert_eq!(
        lines[0].args(),
        [b"/caf\xe9".to_vec(), b"/srv/\xff\xfe".to_vec()]
    );
    assert_eq!(lines[1].kind, LineKind::Comment);
    assert_eq!(section(&t, 2).args(), [b"/d\x80".to_vec()]);
}

// ---------------------------------------------------------------------------
// §2 Comments and blank lines

#[test]
fn hash_only_as_first_non_blank_byte() {
    assert_outline(
        b"  \t# indented\nServerAdmin a@b.c # admin\nHeader set X \"a # b\"\n#\n",
        &[
            "comment",
            r##"ServerAdmin ["a@b.c", "#", "admin"]"##,
            r##"Header ["set", "X", "a # b"]"##,
            "comment",
        ],
    );
}

#[test]
fn comment_after_section_opener_is_ignored() {
    assert_outline(
        b"<Directory /tmp> # comment\n</Directory>\n",
        &[r#"<Directory ["/tmp"]>"#, "</Directory>"],
    );
}

#[test]
fn blank_lines_between_continuations() {
    assert_outline(b"  \\\n\t\\\n \n", &["blank"]);
}

// ---------------------------------------------------------------------------
// §3 Tokenizing

#[test]
fn quoted_directive_name_and_empty_argument() {
    let t = assert_outline(
        b"\"Alias\" /a /tmp/a\nDefine V \"\"\n",
        &[r#"Alias ["/a", "/tmp/a"]"#, r#"Define ["V", ""]"#],
    );
    assert!(all_lines(&t)[0].name_is("ALIAS"));
}

#[test]
fn quotes_follow_ap_getword_conf() {
    assert_outline(
        b"X \"a\\\"b\" 'it\\'s' a\\\\b a\\\"b \"a\"b foo\"bar baz\" ''x\n",
        &[r#"X ["a\"b", "it's", "a\\b", "a\\\"b", "a", "b", "foo\"bar", "baz\"", "", "x"]"#],
    );
}

#[test]
fn unterminated_quote_runs_to_end_of_line() {
    assert_outline(
        b"ErrorDocument 404 \"The requested page\nListen 80\n",
        &[
            r#"ErrorDocument ["404", "The requested page"]"#,
            r#"Listen ["80"]"#,
        ],
    );
}

// ---------------------------------------------------------------------------
// §4 Names and case

#[test]
fn names_are_case_insensitive() {
    let t = assert_outline(
        b"<directory /x>\nrequire all granted\n</DIRECTORY>\n",
        &[
            r#"<directory ["/x"]>"#,
            r#"  require ["all", "granted"]"#,
            "</DIRECTORY>",
        ],
    );
    assert!(section(&t, 0).name_is("Directory"));
    assert!(section(&t, 0).children[0].first_line().name_is("Require"));
}

// ---------------------------------------------------------------------------
// §5 Sections

#[test]
fn if_expression_cut_at_last_gt() {
    let t = assert_outline(
        b"<If \"%{X} > 5\">\n</If>\n<If \"%{REQUEST_URI} =~ m#'/a>b'#\"> trailing\n</If>\n",
        &[
            r#"<If ["%{X} > 5"]>"#,
            "</If>",
            r#"<If ["%{REQUEST_URI} =~ m#'/a>b'#"]>"#,
            "</If>",
        ],
    );
    assert_eq!(section(&t, 1).open.line, 3);
}

#[test]
fn else_without_arguments() {
    assert_outline(
        b"<If \"true\">\n</If>\n<Else>\nRequire all denied\n</Else>\n",
        &[
            r#"<If ["true"]>"#,
            "</If>",
            "<Else []>",
            r#"  Require ["all", "denied"]"#,
            "</Else>",
        ],
    );
}

#[test]
fn closers_compare_case_insensitively_and_ignore_trailing_words() {
    assert_outline(
        b"<IfModule mod_x.c>\n<Location /a>\n</location> junk\n</ifmodule>\n",
        &[
            r#"<IfModule ["mod_x.c"]>"#,
            r#"  <Location ["/a"]>"#,
            "  </location>",
            "</ifmodule>",
        ],
    );
}

#[test]
fn two_closers_on_one_line_leave_ifmodule_open() {
    // certbot#1693: httpd ignores the second closer as junk, so the
    // <IfModule> body runs to the end of the file.
    let t = assert_outline(
        b"<IfModule mod_ssl.c>\n<Directory /a>\n</Directory> </IfModule>\nListen 443\n",
        &[
            r#"<IfModule ["mod_ssl.c"]>"#,
            r#"  <Directory ["/a"]>"#,
            "  </Directory>",
            r#"  Listen ["443"]"#,
            "(unclosed)",
        ],
    );
    assert!(section(&t, 0).close.is_none());
}

#[test]
fn ifmodule_left_open_at_eof_is_accepted() {
    assert_outline(
        b"<IfModule mod_x.c>\nListen 80\n",
        &[
            r#"<IfModule ["mod_x.c"]>"#,
            r#"  Listen ["80"]"#,
            "(unclosed)",
        ],
    );
    // Even with an unclosed tree section inside it (augeas#833).
    assert_outline(
        b"<IfModule mod_x.c>\n<VirtualHost *:80>\nServerName a\n",
        &[
            r#"<IfModule ["mod_x.c"]>"#,
            r#"  <VirtualHost ["*:80"]>"#,
            r#"    ServerName ["a"]"#,
            "  (unclosed)",
            "(unclosed)",
        ],
    );
}

#[test]
fn unclosed_tree_section_is_an_error() {
    assert_err(
        b"Listen 80\n<VirtualHost *:80>\nServerName a\n",
        2,
        1,
        "<VirtualHost> was not closed.",
    );
    // An open conditional inside does not excuse the section around it.
    assert_err(
        b"<VirtualHost *:80>\n  <IfModule mod_x.c>\n",
        1,
        1,
        "<VirtualHost> was not closed.",
    );
    // The innermost unclosed tree section is named.
    assert_err(
        b"<VirtualHost *:80>\n  <Directory /a>\n",
        2,
        3,
        "<Directory> was not closed.",
    );
}

#[test]
fn mismatched_closer() {
    assert_err(
        b"<Directory /a>\n  </Location>\n</Directory>\n",
        2,
        3,
        "Expected </Directory> but saw </Location>",
    );
}

#[test]
fn orphan_closer() {
    assert_err(
        b"Listen 80\n</Location>\n",
        2,
        1,
        "</Location> without matching <Location> section",
    );
    // httpd prints the closer's first word as it is, `>` or not.
    assert_err(
        b"</Location \n",
        1,
        1,
        "</Location without matching <Location section",
    );
}

#[test]
fn missing_closing_gt() {
    assert_err(
        b"<Directory /tmp\n</Directory>\n",
        1,
        1,
        "<Directory> directive missing closing '>'",
    );
    assert_err(
        b"<Directory /tmp>\n</Directory /tmp>\n",
        2,
        1,
        "</Directory> directive missing closing '>'",
    );
    assert_err(
        b"<Directory /tmp>\n</Directory >\n",
        2,
        1,
        "</Directory> directive missing closing '>'",
    );
    // httpd looks for the `>` after the name's word, not in it...
    assert_err(
        b"<Location> # c\n</Location>\n",
        1,
        1,
        "<Location> directive missing closing '>'",
    );
    // ...and hands a header with nothing after its name a `>` of its own.
    assert_outline(
        b"<If \"true\">\n</If>\n<Else\nRequire all denied\n</Else>\n",
        &[
            r#"<If ["true"]>"#,
            "</If>",
            "<Else []>",
            r#"  Require ["all", "denied"]"#,
            "</Else>",
        ],
    );
}

#[test]
fn conditional_closer_must_be_the_whole_line() {
    // httpd ends a read-time section only at a line that is exactly its
    // closer; anything else is read as a closer with nothing open.
    assert_err(
        b"<IfModule mod_x.c>\n</IfModule> junk\n",
        2,
        1,
        "</IfModule> without matching <IfModule> section",
    );
    assert_err(
        b"<IfModule mod_x.c>\n</IfModule >\n",
        2,
        1,
        "</IfModule without matching <IfModule section",
    );
    // Surrounding whitespace is trimmed away first, so this one closes.
    assert_outline(
        b"<IfModule mod_x.c>\n \t</IFMODULE> \r\n",
        &[r#"<IfModule ["mod_x.c"]>"#, "</IFMODULE>"],
    );
}

#[test]
fn closer_inside_conditional_body_without_open_section_is_an_orphan() {
    // The body of a read-time section is built as a tree of its own, so a
    // closer there with no section open inside it matches nothing.
    assert_err(
        b"<Directory /a>\n<IfModule mod_x.c>\n</Directory>\n</IfModule>\n",
        3,
        1,
        "</Directory> without matching <Directory> section",
    );
    assert_err(
        b"<IfModule mod_x.c>\n<Directory /a>\n</IfModule>\n",
        3,
        1,
        "Expected </Directory> but saw </IfModule>",
    );
}

#[test]
fn opener_and_closer_on_one_line() {
    assert_err(
        b"<Directory /tmp>Require all granted</Directory>\n",
        1,
        1,
        "<Directory> was not closed.",
    );
}

#[test]
fn sections_nest() {
    let t = assert_outline(
        b"<VirtualHost *:80>\n  <Location /a>\n    <If \"-z %{X}\">\n      Require all denied\n    </If>\n  </Location>\n</VirtualHost>\n",
        &[
            r#"<VirtualHost ["*:80"]>"#,
            r#"  <Location ["/a"]>"#,
            r#"    <If ["-z %{X}"]>"#,
            r#"      Require ["all", "denied"]"#,
            "    </If>",
            "  </Location>",
            "</VirtualHost>",
        ],
    );
    assert_eq!(t.nodes.len(), 1);
}

#[test]
fn macro_bodies_are_text() {
    // Inside <Macro> only <Macro>/</Macro> count: a stray closer or an open
    // section is template text, checked only where the macro is used.
    let src = b"<Macro VHost $name>\n<VirtualHost *:80>\n  ServerName $name\n</Location>\n<Macro Inner>\n</Macro>\n</macro> # done\nUse VHost a\n";
    let t = assert_outline(
        src,
        &[
            r#"<Macro ["VHost", "$name"]>"#,
            r#"  <VirtualHost ["*:80"]>"#,
            r#"  ServerName ["$name"]"#,
            "  </Location>",
            r#"  <Macro ["Inner"]>"#,
            "  </Macro>",
            "</macro>",
            r#"Use ["VHost", "a"]"#,
        ],
    );
    assert_eq!(section(&t, 0).children.len(), 5);
    // A comment continued onto the closer swallows it, as mod_macro reads it.
    assert_err(
        b"<Macro M>\n# c \\\n</Macro>\n",
        1,
        1,
        "<Macro> was not closed (expected token not found: </Macro>)",
    );
}

#[test]
fn unclosed_macro_is_an_error_even_inside_ifmodule() {
    // mod_macro reads the body itself and fails at EOF wherever it is;
    // only httpd's own read-time sections may stay open.
    assert_err(
        b"<IfModule mod_macro.c>\n<Macro M>\nListen 80\n",
        2,
        1,
        "<Macro> was not closed (expected token not found: </Macro>)",
    );
}

#[test]
fn continuation_inside_closer_token() {
    // `<` backslash-newline `/Directory>` is `</Directory>` to httpd: a
    // closer, though its first physical line starts like an opener.
    let t = assert_outline(
        b"<Directory /a>\n<\\\n/Directory>\n",
        &[r#"<Directory ["/a"]>"#, "</Directory>"],
    );
    assert_eq!(
        section(&t, 0).close.as_ref().unwrap().raw(),
        b"<\\\n/Directory>\n"
    );
    assert_outline(
        b"<\\\nIfModule x>\n</IfModule>\n",
        &[r#"<IfModule ["x"]>"#, "</IfModule>"],
    );
}

#[test]
fn quoted_section_words() {
    // httpd decides on the first word after unquoting it.
    assert_outline(
        b"\"<Directory\" /tmp>\n'</Directory>'\n",
        &[r#"<Directory ["/tmp"]>"#, "</Directory>"],
    );
    // A read-time section ends only at its closer written plainly.
    assert_err(
        b"<IfModule x>\n\"</IfModule>\"\n",
        2,
        1,
        "</IfModule> without matching <IfModule> section",
    );
}

#[test]
fn sections_balance_per_file_so_eof_checks_everything() {
    assert_err(
        b"<Files a>\n<Files b>\n</Files>\n",
        1,
        1,
        "<Files> was not closed.",
    );
}

// ---------------------------------------------------------------------------
// Huge and deep input: an error or a tree, never a crash.

#[test]
fn deep_nesting_is_refused_without_overflow() {
    let depth = 100_000;
    let mut src = Vec::new();
    for _ in 0..depth {
        src.extend_from_slice(b"<Location /a>\n");
    }
    for _ in 0..depth {
        src.extend_from_slice(b"</Location>\n");
    }
    let e = err(&src);
    assert_eq!(e.line as usize, MAX_DEPTH + 1);
    assert!(e.message.contains("levels deep"), "{e}");
    // Same with read-time sections, which may stay open at EOF.
    let mut src = Vec::new();
    for _ in 0..depth {
        src.extend_from_slice(b"<IfModule x>\n");
    }
    assert_eq!(err(&src).line as usize, MAX_DEPTH + 1);
}

#[test]
fn deepest_allowed_tree_prints_and_drops() {
    let mut src = Vec::new();
    for _ in 0..MAX_DEPTH {
        src.extend_from_slice(b"<IfDefine X>\n");
    }
    src.extend_from_slice(b"Listen 80\n");
    for _ in 0..MAX_DEPTH {
        src.extend_from_slice(b"</IfDefine>\n");
    }
    let tree = ok(&src);
    // Printing, debugging, cloning, comparing and dropping all walk the
    // tree recursively; each must survive the deepest tree the parser builds.
    assert_eq!(tree.to_bytes(), src);
    let dbg = format!("{tree:?}");
    assert!(dbg.len() > src.len());
    let copy = tree.clone();
    assert_eq!(copy, tree);
    drop(copy);
    drop(tree);
    // One more level is refused.
    let deeper = [b"<IfDefine X>\n".as_slice(), &src].concat();
    assert!(parse(&deeper).is_err());
}

#[test]
fn ten_megabyte_line() {
    let mut src = b"Alias /a ".to_vec();
    src.resize(10 * 1024 * 1024, b'x');
    src.push(b'\n');
    let t = ok(&src);
    assert_eq!(all_lines(&t).len(), 1);
    assert_eq!(all_lines(&t)[0].args()[1].len(), 10 * 1024 * 1024 - 9);
    // Not UTF-8, all continuations, in a comment: still one line.
    let mut src = b"# \xff".to_vec();
    while src.len() < 10 * 1024 * 1024 {
        src.extend_from_slice(b"abc\\\n");
    }
    let t = ok(&src);
    assert_eq!(all_lines(&t).len(), 1);
    assert_eq!(all_lines(&t)[0].kind, LineKind::Comment);
}

#[test]
fn many_blank_lines_after_a_backslash_run() {
    // Every blank line eats one backslash of the joined buffer, so the
    // whole input is one logical line (apache-syntax.md §1).
    let n = 200_000;
    let mut src = b"Alias /a /b".to_vec();
    src.extend(std::iter::repeat_n(b'\\', n));
    src.extend(std::iter::repeat_n(b'\n', n));
    src.extend_from_slice(b"c\n");
    let t = ok(&src);
    assert_eq!(all_lines(&t).len(), 1);
    assert_eq!(all_lines(&t)[0].args(), [b"/a".to_vec(), b"/bc".to_vec()]);
}

#[test]
fn many_chained_continuations_through_blank_lines() {
    // `a\\` newline, blank line: each pair continues into the next, so the
    // file is one logical line spread over many grammar lines.
    let n = 100_000;
    let mut src = b"Alias".to_vec();
    for _ in 0..n {
        src.extend_from_slice(b" a\\\\\n\n");
    }
    src.extend_from_slice(b"\n");
    let t = ok(&src);
    assert_eq!(all_lines(&t).len(), 1);
    assert_eq!(all_lines(&t)[0].args().len(), n);
}

// ---------------------------------------------------------------------------
// peers.md §1: the inputs of Augeas's lenses/tests/test_httpd.aug

#[test]
fn augeas_01_quoted_values() {
    assert_outline(
        b"ServerRoot \"/etc/apache2\"\nServerRoot '/etc/apache2'\n",
        &[
            r#"ServerRoot ["/etc/apache2"]"#,
            r#"ServerRoot ["/etc/apache2"]"#,
        ],
    );
}

#[test]
fn augeas_02_escaped_quotes_and_percent_gt() {
    assert_outline(
        b"LogFormat \"%v:%p %h %l %u %t \\\"%r\\\" %>s %O\" vhost_combined\n",
        &[r#"LogFormat ["%v:%p %h %l %u %t \"%r\" %>s %O", "vhost_combined"]"#],
    );
}

#[test]
fn augeas_03_hash_inside_bare_args() {
    assert_outline(
        b"IndexIgnore .??* *~ *# RCS CVS *,v *,t \n",
        &[r##"IndexIgnore [".??*", "*~", "*#", "RCS", "CVS", "*,v", "*,t"]"##],
    );
}

#[test]
fn augeas_04_multi_line_directive() {
    let t = assert_outline(
        b"Options Indexes \\\nFollowSymLinks \\\n  MultiViews\nListen 80\n",
        &[
            r#"Options ["Indexes", "FollowSymLinks", "MultiViews"]"#,
            r#"Listen ["80"]"#,
        ],
    );
    assert_eq!(all_lines(&t)[0].newline_count(), 3);
    assert_eq!(all_lines(&t)[1].line, 4);
}

#[test]
fn augeas_05_comment_after_opener() {
    assert_outline(
        b"<IfDefine Foo> #\n</IfDefine>\n<a b> # a comment\n</a>\n",
        &[
            r#"<IfDefine ["Foo"]>"#,
            "</IfDefine>",
            r#"<a ["b"]>"#,
            "</a>",
        ],
    );
    // With the `>` glued to the name, httpd looks for it in the comment
    // (verified with `<Location> # c` on Apache 2.4).
    assert_err(
        b"<a> # a comment\n</a>\n",
        1,
        1,
        "<a> directive missing closing '>'",
    );
}

#[test]
fn augeas_06_quoted_value_over_continuation() {
    assert_outline(
        b"Single 'Foo\\\nbar'\nDouble \"Foo\\\nbar\"\n",
        &[r#"Single ["Foobar"]"#, r#"Double ["Foobar"]"#],
    );
}

#[test]
fn augeas_07_ifversion_operators() {
    assert_outline(
        b"<IfVersion = 2.1>\n<IfModule !proxy_ajp_module>\nInclude foo\n</IfModule>\n</IfVersion>\n<IfVersion >= 2.4>\n</IfVersion>\n",
        &[
            r#"<IfVersion ["=", "2.1"]>"#,
            r#"  <IfModule ["!proxy_ajp_module"]>"#,
            r#"    Include ["foo"]"#,
            "  </IfModule>",
            "</IfVersion>",
            r#"<IfVersion [">=", "2.4"]>"#,
            "</IfVersion>",
        ],
    );
}

#[test]
fn augeas_08_hash_comments() {
    let t = assert_outline(
        b"##\n## Comment\n#\n#\n\n",
        &["comment", "comment", "comment", "comment", "blank"],
    );
    assert_eq!(logical(&t)[1], "## Comment");
}

#[test]
fn augeas_09_comments_after_opener() {
    assert_outline(
        b"<IfModule mod_ssl.c>\n    # one\n    # two\n\tListen 443\n</IfModule>\n",
        &[
            r#"<IfModule ["mod_ssl.c"]>"#,
            "  comment",
            "  comment",
            r#"  Listen ["443"]"#,
            "</IfModule>",
        ],
    );
}

#[test]
fn augeas_10_rewrite_backslashes() {
    assert_outline(
        b"RewriteRule ^/(.*) http\\:\\/\\/example\\.com\\/$1 [L]\nRewriteRule \\.css\\.gz$ - [T=text/css]\n",
        &[
            r#"RewriteRule ["^/(.*)", "http\\:\\/\\/example\\.com\\/$1", "[L]"]"#,
            r#"RewriteRule ["\\.css\\.gz$", "-", "[T=text/css]"]"#,
        ],
    );
}

#[test]
fn augeas_11_closer_in_other_case() {
    assert_outline(
        b"<IfModule mod_ssl.c>\n</ifModule>\n",
        &[r#"<IfModule ["mod_ssl.c"]>"#, "</ifModule>"],
    );
}

#[test]
fn augeas_12_two_closers_on_one_line() {
    let t = assert_outline(
        b"<IfModule mod_ssl.c>\n<VirtualHost *:443>\n</VirtualHost> </IfModule>\n",
        &[
            r#"<IfModule ["mod_ssl.c"]>"#,
            r#"  <VirtualHost ["*:443"]>"#,
            "  </VirtualHost>",
            "(unclosed)",
        ],
    );
    assert_eq!(logical(&t)[2], "</VirtualHost> </IfModule>");
}

#[test]
fn augeas_13_sslrequire_word_list() {
    assert_outline(
        b"SSLRequire %{SSL_CLIENT_S_DN_CN} in {\"foo@bar.com\", bar@foo.com}\n",
        &[r#"SSLRequire ["%{SSL_CLIENT_S_DN_CN}", "in", "{\"foo@bar.com\",", "bar@foo.com}"]"#],
    );
}

#[test]
fn augeas_14_unterminated_quote_as_last_arg() {
    assert_outline(
        b"SSLCipherSuite \"EECDH+ECDSA+AESGCM\nErrorDocument 404 \"The requested URL was not found\n",
        &[
            r#"SSLCipherSuite ["EECDH+ECDSA+AESGCM"]"#,
            r#"ErrorDocument ["404", "The requested URL was not found"]"#,
        ],
    );
}

#[test]
fn augeas_15_quotes_inside_a_bare_arg() {
    assert_outline(
        b"WSGIDaemonProcess _graphite processes=5 threads=5 display-name='%{GROUP}' inactivity-timeout=120 user=_graphite\n",
        &[
            r#"WSGIDaemonProcess ["_graphite", "processes=5", "threads=5", "display-name='%{GROUP}'", "inactivity-timeout=120", "user=_graphite"]"#,
        ],
    );
}

#[test]
fn augeas_16_perl_block_is_text() {
    let t = assert_outline(
        b"<Perl>\n$x = 1 if $y < 2;\n</Location>\n</Perl>\n",
        &[
            "<Perl []>",
            r#"  $x ["=", "1", "if", "$y", "<", "2;"]"#,
            "  </Location>",
            "</Perl>",
        ],
    );
    assert_eq!(section(&t, 0).children.len(), 2);
}

#[test]
fn augeas_17_continuations_in_vhost_header() {
    assert_outline(
        b"<VirtualHost \\\n  127.0.0.1:80 \\\n  [::1]:7080 \\\n  >\n</VirtualHost>\n",
        &[
            r#"<VirtualHost ["127.0.0.1:80", "[::1]:7080"]>"#,
            "</VirtualHost>",
        ],
    );
    // With blank continuation lines in between (certbot#2731).
    let t = assert_outline(
        b"<VirtualHost \\\n\\\n  127.0.0.1:80 \\\n\\\n>\nServerName a\n</VirtualHost>\n",
        &[
            r#"<VirtualHost ["127.0.0.1:80"]>"#,
            r#"  ServerName ["a"]"#,
            "</VirtualHost>",
        ],
    );
    assert_eq!(section(&t, 0).children[0].first_line().line, 6);
}

#[test]
fn augeas_18_backslash_in_section_arg() {
    assert_outline(
        b"<FilesMatch \\.php$>\nSetHandler x\n</FilesMatch>\n",
        &[
            r#"<FilesMatch ["\\.php$"]>"#,
            r#"  SetHandler ["x"]"#,
            "</FilesMatch>",
        ],
    );
}

#[test]
fn augeas_19_escaped_spaces() {
    assert_outline(
        b"RewriteCond %{THE_REQUEST} ^[A-Z]{3,9}\\ /.+/trackback/?\\ HTTP/ [NC]\n",
        &[
            r#"RewriteCond ["%{THE_REQUEST}", "^[A-Z]{3,9}\\", "/.+/trackback/?\\", "HTTP/", "[NC]"]"#,
        ],
    );
    // Opener and closer on one line: httpd sees only the opener.
    assert_err(
        b"<FilesMatch \\ test\\.php$></FilesMatch>\n",
        1,
        1,
        "<FilesMatch> was not closed.",
    );
}

#[test]
fn augeas_20_comment_continued_onto_next_line() {
    let t = assert_outline(
        b"#ServerRoot \\\n  /var/www\nListen 80\n",
        &["comment", r#"Listen ["80"]"#],
    );
    assert_eq!(logical(&t)[0], "#ServerRoot   /var/www");
}

#[test]
fn augeas_21_empty_comments_with_continuations() {
    // `# \` then a blank line: the blank line is swallowed by the comment.
    let t = assert_outline(b"# \\\n\nListen 80\n", &["comment", r#"Listen ["80"]"#]);
    assert_eq!(all_lines(&t)[1].line, 3);
    let t = assert_outline(
        b"# \\\n\\\na \\\nb\nListen 80\n",
        &["comment", r#"Listen ["80"]"#],
    );
    assert_eq!(logical(&t)[0], "# a b");
    assert_eq!(all_lines(&t)[1].line, 5);
}

#[test]
fn augeas_22_comparison_glued_to_quotes() {
    assert_outline(
        b"RewriteCond ${movedPageMap:$1} >\"a\"\nRewriteCond ${movedPageMap:$1} >\"\"\n",
        &[
            r#"RewriteCond ["${movedPageMap:$1}", ">\"a\""]"#,
            r#"RewriteCond ["${movedPageMap:$1}", ">\"\""]"#,
        ],
    );
}

#[test]
fn augeas_23_quoted_args_without_space() {
    assert_outline(
        b"ProxyPassReverse \"/js\"\"http://127.0.0.1:8123/js\"\n",
        &[r#"ProxyPassReverse ["/js", "http://127.0.0.1:8123/js"]"#],
    );
}

#[test]
fn augeas_24_expr_with_quotes_inside() {
    assert_outline(
        b"RequestHeader set X-Forwarded-Proto https expr=(%{HTTP:CF-Visitor}='{\"scheme\":\"https\"}')\n",
        &[
            r#"RequestHeader ["set", "X-Forwarded-Proto", "https", "expr=(%{HTTP:CF-Visitor}='{\"scheme\":\"https\"}')"]"#,
        ],
    );
}

#[test]
fn augeas_25_comment_glued_to_gt() {
    assert_outline(
        b"<If cond>#\n</If>\n<If cond># \n</If>\n<If cond># text\n</If>\n",
        &[
            r#"<If ["cond"]>"#,
            "</If>",
            r#"<If ["cond"]>"#,
            "</If>",
            r#"<If ["cond"]>"#,
            "</If>",
        ],
    );
}
