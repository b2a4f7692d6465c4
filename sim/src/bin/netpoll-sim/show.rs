//! `netpoll-sim show`: a trace's text swimlane, or its SVG timeline, written row by row.

use crate::common::{load, shown, Exit};
use netpoll_sim::platform::values::renderer;
use std::io::{BufWriter, Write};
use std::path::Path;

pub fn run(file: &Path, svg: Option<&Path>, full: bool) -> Result<(), Exit> {
    let trace = load(file)?;
    let r = renderer();
    match svg {
        None => {
            let stdout = std::io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            r.write_text(&trace, !full, &mut out)
                .and_then(|()| out.flush())
                .map_err(|e| Exit {
                    code: 2,
                    message: format!("cannot write the swimlane: {e}"),
                })?;
        }
        Some(path) => {
            let cannot = |e: std::io::Error| Exit {
                code: 2,
                message: format!("cannot write {}: {e}", shown(path)),
            };
            let f = std::fs::File::create(path).map_err(cannot)?;
            let mut out = BufWriter::new(f);
            r.write_svg(&trace, &mut out).map_err(cannot)?;
            let f = out.into_inner().map_err(|e| cannot(e.into_error()))?;
            let bytes = f.metadata().map(|m| m.len()).unwrap_or(0);
            println!("wrote {} ({bytes} bytes)", shown(path));
        }
    }
    Ok(())
}
