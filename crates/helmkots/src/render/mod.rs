//! TODO
pub mod helm_template;
pub(crate) mod rendered_images;
pub(crate) mod template_reach;
