//! `api` (being written).

use super::Ctx;
use crate::cli::ApiOpts;
use crate::error::Result;
use crate::output::Out;

pub fn run(_ctx: &Ctx, _o: &ApiOpts, _out: &mut Out) -> Result<()> {
    Err(crate::error::Error::other("not written yet"))
}
