//! `scan`

use super::Ctx;
use crate::cli::ScanOpts;
use crate::error::Result;
use crate::output::Out;

pub fn run(_ctx: &Ctx, _o: &ScanOpts, _out: &mut Out) -> Result<()> {
    Err(crate::error::Error::other("not yet"))
}
