//! Renderers. (Stub: being written.)
