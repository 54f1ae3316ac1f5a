//! Tools of this area (being written).

use super::Tool;

pub(super) static TOOLS: &[Tool] = &[];
