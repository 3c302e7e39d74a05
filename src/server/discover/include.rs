//! `Include` and `IncludeOptional`: one file, a directory, or a wildcard
//! pattern, matched per path component as httpd's fnmatch walk does; the
//! files one Include names are read and parsed in parallel.

use super::*;

impl Walker<'_> {
    pub(super) fn include(
        &mut self,
        id: FileId,
        ev: &Event,
        words: &[Vec<u8>],
        optional: bool,
    ) -> Result<(), Fail> {
        let name = if optional {
            "IncludeOptional"
        } else {
            "Include"
        };
        let [arg] = words else {
            return Err(Fail::Here(format!(
                "{name} takes one argument, Name(s) of the config file(s) to be included"
            )));
        };
        let path = sfs::merge(&self.server_root, &sfs::path_from_bytes(arg));
        let mut found = Vec::new();
        let r = if sfs::has_wildcard(path.as_os_str().as_bytes()) {
            let parts: Vec<OsString> = path
                .components()
                .skip(1)
                .map(|c| c.as_os_str().to_os_string())
                .collect();
            self.fnmatch_walk(PathBuf::from("/"), &parts, optional, &mut found)
        } else {
            self.nofnmatch(&path, 0, optional, &mut found, &mut Vec::new())
        };
        r.map_err(Fail::Here)?;
        if let Some(dir) = &self.opts.confine {
            let (inside, outside): (Vec<PathBuf>, Vec<PathBuf>) = found
                .into_iter()
                .partition(|p| self.fs.real(p).is_ok_and(|r| r.starts_with(dir)));
            if let Some(first) = outside.first() {
                let msg = format!(
                    "{} file(s) outside {} not read, e.g. {} (a copy of another machine's tree? name its root with --root)",
                    outside.len(),
                    dir.display(),
                    first.display()
                );
                self.warn(id, ev, msg);
            }
            found = inside;
        }

        // Read and parse the new files together, then admit and walk them
        // one by one, so ids follow the order httpd first reads files in.
        let fresh: Vec<Result<Loaded, String>> =
            found.par_iter().map(|p| self.load_one(p)).collect();
        let mut ids = Vec::with_capacity(fresh.len());
        for l in fresh {
            let fid = self.admit(l.map_err(Fail::Here)?)?;
            ids.push(fid);
            // Reading a file again from inside itself never ends; httpd
            // gives up at depth 128 with this message, so do it now.
            if self.stack.contains(&fid) || self.stack.len() >= MAX_INCLUDE_DEPTH {
                return Err(Fail::Here(format!(
                    "Exceeded maximum include depth of {MAX_INCLUDE_DEPTH}, There appears to be a recursion."
                )));
            }
            self.reads.push(Read {
                depth: self.stack.len(),
                file: fid,
            });
            self.stack.push(fid);
            let r = self.walk(fid);
            self.stack.pop();
            r?;
        }
        // A file whose Includes resolve differently at its second inclusion
        // keeps the first reading: the model maps a directive to one list.
        self.includes.entry((id, ev.path.clone())).or_insert(ids);
        Ok(())
    }

    /// httpd's process_resource_config_nofnmatch: a directory means every
    /// entry below it, dotfiles too, sorted; a symlink to a directory is
    /// followed, so a loop is caught by the directories being read.
    fn nofnmatch(
        &self,
        path: &Path,
        depth: usize,
        optional: bool,
        out: &mut Vec<PathBuf>,
        dirs: &mut Vec<(u64, u64)>,
    ) -> Result<(), String> {
        match self.fs.metadata(path) {
            Ok(m) if m.is_dir() => {
                if depth + 1 > MAX_DIR_DEPTH {
                    return Err(format!(
                        "Directory {} exceeds the maximum include directory nesting level of {MAX_DIR_DEPTH}. You have probably a recursion somewhere.",
                        path.display()
                    ));
                }
                let key = sfs::dir_identity(&m);
                if dirs.contains(&key) {
                    return Err(format!(
                        "Could not open config directory {}: Too many levels of symbolic links (it leads back to a directory being included)",
                        path.display()
                    ));
                }
                let mut entries = self.fs.read_dir(path).map_err(|e| {
                    format!(
                        "Could not open config directory {}: {}",
                        path.display(),
                        sfs::strip_os_error(&e)
                    )
                })?;
                entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                dirs.push(key);
                for (name, _) in entries {
                    self.nofnmatch(&path.join(name), depth + 1, optional, out, dirs)?;
                }
                dirs.pop();
                Ok(())
            }
            Ok(_) => {
                out.push(path.to_path_buf());
                Ok(())
            }
            Err(_) if optional => Ok(()),
            Err(e) => Err(format!(
                "Could not open configuration file {}: {}",
                path.display(),
                sfs::strip_os_error(&e)
            )),
        }
    }

    /// httpd's process_resource_config_fnmatch, one component at a time: a
    /// wildcard in a directory component matches directories only (not
    /// symlinks to them, as d_type reports them); no match is an error for
    /// Include, as is a directory that cannot be read (IncludeOptional
    /// forgives only a missing one).
    fn fnmatch_walk(
        &self,
        base: PathBuf,
        parts: &[OsString],
        optional: bool,
        out: &mut Vec<PathBuf>,
    ) -> Result<(), String> {
        let Some((first, rest)) = parts.split_first() else {
            return self.nofnmatch(&base, 0, optional, out, &mut Vec::new());
        };
        let pat = first.as_bytes();
        if !sfs::has_wildcard(pat) {
            let p = base.join(first);
            return if rest.is_empty() {
                self.nofnmatch(&p, 0, optional, out, &mut Vec::new())
            } else {
                self.fnmatch_walk(p, rest, optional, out)
            };
        }
        let entries = match self.fs.read_dir(&base) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && optional => return Ok(()),
            Err(e) => {
                return Err(format!(
                    "Could not open config directory {}: {}",
                    base.display(),
                    sfs::strip_os_error(&e)
                ))
            }
        };
        let mut matches: Vec<OsString> = entries
            .into_iter()
            .filter(|(name, is_dir)| {
                sfs::fnmatch(pat, name.as_bytes()) && (rest.is_empty() || *is_dir)
            })
            .map(|(name, _)| name)
            .collect();
        if matches.is_empty() {
            if optional {
                return Ok(());
            }
            return Err(format!(
                "No matches for the wildcard '{}' in '{}', failing",
                first.to_string_lossy(),
                base.display()
            ));
        }
        matches.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for m in matches {
            let p = base.join(m);
            if rest.is_empty() {
                self.nofnmatch(&p, 0, optional, out, &mut Vec::new())?;
            } else {
                self.fnmatch_walk(p, rest, optional, out)?;
            }
        }
        Ok(())
    }
}
