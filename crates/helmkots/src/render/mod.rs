//! TODO
pub mod helm_template;
pub mod rendered_images;
pub mod template_reach;
