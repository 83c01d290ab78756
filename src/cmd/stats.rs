//! `stats`

use super::Ctx;
use crate::cli::StatsOpts;
use crate::error::Result;
use crate::output::Out;

pub fn run(_ctx: &Ctx, _o: &StatsOpts, _out: &mut Out) -> Result<()> {
    Err(crate::error::Error::other("not yet"))
}
