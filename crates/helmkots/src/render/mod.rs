//! The Helm boundary: the one place that runs `helm template` ([`helm_template`], with its
//! cache), and the readers of what it renders.

pub mod helm_template;
pub(crate) mod rendered_images;
pub(crate) mod template_reach;
