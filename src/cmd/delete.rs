//! `delete` (being written).

use super::Ctx;
use crate::cli::DeleteOpts;
use crate::error::Result;
use crate::output::Out;

pub fn run(_ctx: &Ctx, _o: &DeleteOpts, _out: &mut Out) -> Result<()> {
    Err(crate::error::Error::other("not written yet"))
}
