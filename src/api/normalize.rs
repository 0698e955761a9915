//! API payloads to typed `model` rows under ../shared/SCHEMA.md's rules (filled in by issue 3).
