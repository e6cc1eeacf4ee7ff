//! `glitchscope classify` (placeholder until preprocessing lands).
use clap::Args;
#[derive(Args)]
pub struct ClassifyArgs {}
pub fn run(_: ClassifyArgs) -> anyhow::Result<()> { anyhow::bail!("not yet") }
