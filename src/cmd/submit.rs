//! `submit` (being written).

use super::Ctx;
use crate::cli::SubmitOpts;
use crate::error::Result;
use crate::output::Out;

pub fn run(_ctx: &Ctx, _o: &SubmitOpts, _out: &mut Out) -> Result<()> {
    Err(crate::error::Error::other("not written yet"))
}
