//! Errors of the analyzer. Every error about the input carries the byte offset it concerns.

/// Why a binary could not be analysed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not a well-formed WebAssembly binary (bad header, truncated, bad encoding)
    /// or they break a validation rule (type mismatch, bad index...).
    #[error("invalid WebAssembly at byte offset {offset:#x} ({offset}): {message}")]
    Invalid {
        /// Byte offset of the problem in the input.
        offset: u64,
        /// What is wrong (from the validator; may quote names from the binary).
        message: String,
    },
    /// The input goes past one of wasmgate's documented resource caps.
    #[error("input too large at byte offset {offset:#x} ({offset}): {message}")]
    Limit {
        /// Byte offset where the cap was passed.
        offset: u64,
        /// Which cap.
        message: String,
    },
    /// The embedded capability table is broken (a build defect, never the input's fault).
    #[error("capability table: {message}")]
    CapabilityTable {
        /// What is wrong with the table.
        message: String,
    },
}

impl Error {
    /// Byte offset in the input the error points at, when it concerns the input.
    pub fn offset(&self) -> Option<u64> {
        match self {
            Error::Invalid { offset, .. } | Error::Limit { offset, .. } => Some(*offset),
            Error::CapabilityTable { .. } => None,
        }
    }

    pub(crate) fn from_wasm(e: wasmparser::BinaryReaderError) -> Error {
        Error::Invalid {
            offset: e.offset(),
            message: e.message().to_string(),
        }
    }
}

impl From<wasmparser::BinaryReaderError> for Error {
    fn from(e: wasmparser::BinaryReaderError) -> Self {
        Error::from_wasm(e)
    }
}
