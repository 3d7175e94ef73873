//! Inputs, outputs and failures shared by the commands: `-` for standard input and output,
//! output files written through a temporary file renamed into place, one-line errors.

use std::ffi::OsString;
use std::fs;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use haagenti::Format;

/// A failure to report: the file it concerns and what went wrong, printed on one line.
pub(crate) struct Failure {
    pub(crate) path: PathBuf,
    pub(crate) message: String,
}

pub(crate) fn fail(path: &Path, message: impl std::fmt::Display) -> Failure {
    Failure { path: path.to_path_buf(), message: message.to_string() }
}

pub(crate) fn is_stdio(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// The whole of a file (or standard input) in memory, for the commands whose formats need it.
pub(crate) fn read_input(path: &Path) -> Result<Vec<u8>, Failure> {
    let mut data = Vec::new();
    if is_stdio(path) {
        io::stdin().read_to_end(&mut data).map_err(|e| fail(path, e))?;
    } else {
        data = fs::read(path).map_err(|e| fail(path, e))?;
    }
    Ok(data)
}

/// A file (or standard input) to read incrementally.
pub(crate) fn open_input(path: &Path) -> Result<Box<dyn Read>, Failure> {
    if is_stdio(path) {
        Ok(Box::new(io::stdin().lock()))
    } else {
        Ok(Box::new(fs::File::open(path).map_err(|e| fail(path, e))?))
    }
}

/// The input's name without a codec suffix (`a.txt.zst` -> `a.txt`).
pub(crate) fn strip_suffix(path: &Path) -> Option<PathBuf> {
    let ext = path.extension()?.to_str()?;
    Format::ALL.iter().any(|f| f.extension() == ext).then(|| path.with_extension(""))
}

/// Reads every sample file named, walking directories (in name order).
pub(crate) fn read_samples(paths: &[PathBuf]) -> Result<Vec<Vec<u8>>, Failure> {
    fn walk(path: &Path, out: &mut Vec<Vec<u8>>) -> Result<(), Failure> {
        if path.is_dir() {
            let mut entries: Vec<PathBuf> =
                fs::read_dir(path).map_err(|e| fail(path, e))?.filter_map(|e| e.ok().map(|e| e.path())).collect();
            entries.sort();
            for e in entries {
                walk(&e, out)?;
            }
        } else {
            out.push(fs::read(path).map_err(|e| fail(path, e))?);
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        walk(p, &mut out)?;
    }
    Ok(out)
}

/// Where a command's output goes while it is written: standard output, or a temporary file
/// beside the target that [`Output::commit`] renames into place. Dropped without a commit
/// (on any failure), the temporary file is removed, so no partial output is left.
pub(crate) struct Output {
    target: PathBuf,
    tmp: Option<PathBuf>,
    writer: Box<dyn Write>,
}

/// Buffer of the output writer: large writes go straight through.
const OUTPUT_BUFFER: usize = 256 * 1024;

impl Output {
    /// Starts writing `target` (`-` for standard output); refuses an existing file unless `force`.
    pub(crate) fn create(target: &Path, force: bool) -> Result<Output, Failure> {
        if is_stdio(target) {
            let writer = Box::new(BufWriter::with_capacity(OUTPUT_BUFFER, io::stdout().lock()));
            return Ok(Output { target: target.to_path_buf(), tmp: None, writer });
        }
        if target.exists() && !force {
            return Err(fail(target, "already exists (use --force to overwrite)"));
        }
        let file_name = target.file_name().ok_or_else(|| fail(target, "not a file name"))?;
        let mut tmp_name = OsString::from(".");
        tmp_name.push(file_name);
        tmp_name.push(format!(".haagenti-{}.tmp", std::process::id()));
        let tmp = target.with_file_name(tmp_name);
        let file = fs::File::create(&tmp).map_err(|e| fail(target, e))?;
        let writer = Box::new(BufWriter::with_capacity(OUTPUT_BUFFER, file));
        Ok(Output { target: target.to_path_buf(), tmp: Some(tmp), writer })
    }

    /// The path being written, for messages.
    pub(crate) fn target(&self) -> &Path {
        &self.target
    }

    /// Flushes and, for a file, renames it into place.
    pub(crate) fn commit(mut self) -> Result<(), Failure> {
        self.writer.flush().map_err(|e| fail(&self.target, e))?;
        if let Some(tmp) = self.tmp.take()
            && let Err(e) = fs::rename(&tmp, &self.target)
        {
            let _ = fs::remove_file(&tmp);
            return Err(fail(&self.target, e));
        }
        Ok(())
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.writer.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        if let Some(tmp) = &self.tmp {
            let _ = fs::remove_file(tmp);
        }
    }
}

/// Writes `data` to `path` at once (see [`Output`]).
pub(crate) fn write_output(path: &Path, data: &[u8], force: bool) -> Result<(), Failure> {
    let mut out = Output::create(path, force)?;
    out.write_all(data).map_err(|e| fail(path, e))?;
    out.commit()
}
