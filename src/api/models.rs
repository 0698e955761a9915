//! Payload types: what The Racing API sends, accepted leniently (filled in by issue 3).
