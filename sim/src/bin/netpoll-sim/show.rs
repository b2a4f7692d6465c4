//! `netpoll-sim show`: a trace's text swimlane, or its SVG timeline.

use crate::common::{load, Exit};
use netpoll_sim::platform::values::renderer;
use std::path::Path;

pub fn run(file: &Path, svg: Option<&Path>, full: bool) -> Result<(), Exit> {
    let trace = load(file)?;
    let r = renderer();
    match svg {
        None if full => print!("{}", r.text(&trace)),
        None => print!("{}", r.text_compact(&trace)),
        Some(out) => {
            let doc = r.svg(&trace);
            std::fs::write(out, &doc).map_err(|e| Exit {
                code: 2,
                message: format!("cannot write {}: {e}", out.display()),
            })?;
            println!("wrote {} ({} bytes)", out.display(), doc.len());
        }
    }
    Ok(())
}
