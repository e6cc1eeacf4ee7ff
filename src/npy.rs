//! Reading and writing NumPy `.npy` arrays (through the `npyz` crate).
//!
//! The byte-level functions work everywhere, including the browser (strain
//! uploads); the file helpers exist only off wasm.

use std::io;

/// Errors reading or writing `.npy` data.
#[derive(Debug, thiserror::Error)]
pub enum NpyError {
    #[error("{source_name}: not a readable .npy array: {message}")]
    Format {
        source_name: String,
        message: String,
    },
    #[error("{source_name}: unsupported element type {dtype} (expected float or integer numbers)")]
    UnsupportedDtype { source_name: String, dtype: String },
    #[error("{source_name}: Fortran-ordered {ndim}-d arrays are not supported; save it C-ordered")]
    FortranOrder { source_name: String, ndim: usize },
    #[error("{source_name}: data length {len} does not match shape {shape:?}")]
    ShapeMismatch {
        source_name: String,
        len: usize,
        shape: Vec<u64>,
    },
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
}

/// An n-dimensional array of numbers converted to `f64`, C (row-major) order.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    pub shape: Vec<u64>,
    pub data: Vec<f64>,
}

fn format_error(source_name: &str, e: impl std::fmt::Display) -> NpyError {
    NpyError::Format {
        source_name: source_name.to_string(),
        message: e.to_string(),
    }
}

macro_rules! try_as_f64 {
    ($npy:ident, $name:expr, $max_len:expr, $($t:ty),+) => {{
        $(
            let $npy = match $npy.try_data::<$t>() {
                Ok(reader) => {
                    // The shape is the file's claim: never reserve more elements than there are bytes (found by
                    // fuzzing: a shape of 8 x 10^19 elements asked for an impossible allocation and panicked).
                    let mut out = Vec::with_capacity(reader.len().min($max_len) as usize);
                    for v in reader {
                        out.push(v.map_err(|e| format_error($name, e))? as f64);
                    }
                    return Ok(out);
                }
                Err(npy) => npy,
            };
        )+
        $npy
    }};
}

fn read_values(npy: npyz::NpyFile<&[u8]>, source_name: &str, max_len: u64) -> Result<Vec<f64>, NpyError> {
    let npy = try_as_f64!(
        npy,
        source_name,
        max_len,
        f64,
        f32,
        i64,
        i32,
        i16,
        i8,
        u64,
        u32,
        u16,
        u8
    );
    Err(NpyError::UnsupportedDtype {
        source_name: source_name.to_string(),
        dtype: npy.dtype().descr(),
    })
}

/// Parses `.npy` bytes holding a float or integer array. `source_name` (a file
/// name, or "upload") is used in error messages.
pub fn read_npy_bytes(bytes: &[u8], source_name: &str) -> Result<NpyArray, NpyError> {
    check_header_nesting(bytes, source_name)?;
    let npy = npyz::NpyFile::new(bytes).map_err(|e| format_error(source_name, e))?;
    let shape = npy.shape().to_vec();
    if npy.order() == npyz::Order::Fortran && shape.iter().filter(|&&d| d > 1).count() > 1 {
        return Err(NpyError::FortranOrder {
            source_name: source_name.to_string(),
            ndim: shape.len(),
        });
    }
    // Every element takes at least one byte, so the file's length bounds their number.
    let data = read_values(npy, source_name, bytes.len() as u64)?;
    let expected = shape.iter().try_fold(1u64, |n, &d| n.checked_mul(d)).unwrap_or(u64::MAX);
    if data.len() as u64 != expected {
        return Err(NpyError::ShapeMismatch {
            source_name: source_name.to_string(),
            len: data.len(),
            shape,
        });
    }
    Ok(NpyArray { shape, data })
}

/// Deepest bracket nesting accepted in a header: `{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }` is 2,
/// a structured dtype's `[('a', '<f4', (2,))]` inside it 4.
const MAX_HEADER_NESTING: usize = 4;

/// Refuse headers with deeply nested brackets before `npyz` parses them. Found by fuzzing
/// (fuzz/fuzz_targets/strain.rs): its Python-literal parser backtracks exponentially on them, so a 240-byte
/// header of `{{{{...` kept the parser (the page's worker, or the CLI) busy for longer than 30 s.
fn check_header_nesting(bytes: &[u8], source_name: &str) -> Result<(), NpyError> {
    let (start, len) = match bytes.get(6) {
        Some(1) if bytes.len() >= 10 => (10, u16::from_le_bytes([bytes[8], bytes[9]]) as usize),
        Some(2 | 3) if bytes.len() >= 12 => (12, u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize),
        _ => return Ok(()), // not a header we know: npyz gives the error
    };
    let header = &bytes[start.min(bytes.len())..start.saturating_add(len).min(bytes.len())];
    let mut depth = 0usize;
    for &b in header {
        match b {
            b'{' | b'[' | b'(' => depth += 1,
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth > MAX_HEADER_NESTING {
            return Err(format_error(source_name, format!("its header nests brackets deeper than {MAX_HEADER_NESTING} levels")));
        }
    }
    Ok(())
}

/// Encodes a C-ordered little-endian float32 array of the given shape.
pub fn write_npy_f32_bytes(shape: &[u64], data: &[f32]) -> Result<Vec<u8>, NpyError> {
    let expected: u64 = shape.iter().product();
    if data.len() as u64 != expected {
        return Err(NpyError::ShapeMismatch {
            source_name: "output".into(),
            len: data.len(),
            shape: shape.to_vec(),
        });
    }
    let mut out = Vec::with_capacity(128 + 4 * data.len());
    {
        use npyz::WriterBuilder;
        let mut writer = npyz::WriteOptions::new()
            .default_dtype()
            .shape(shape)
            .writer(&mut out)
            .begin_nd()
            .map_err(|e| format_error("output", e))?;
        writer
            .extend(data.iter().copied())
            .map_err(|e| format_error("output", e))?;
        writer.finish().map_err(|e| format_error("output", e))?;
    }
    Ok(out)
}

/// Reads a `.npy` file (any float or integer dtype) as `f64`.
#[cfg(not(target_arch = "wasm32"))]
pub fn read_npy_file(path: impl AsRef<std::path::Path>) -> Result<NpyArray, NpyError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| NpyError::Io {
        path: path.display().to_string(),
        source,
    })?;
    read_npy_bytes(&bytes, &path.display().to_string())
}

/// Writes a float32 `.npy` file.
#[cfg(not(target_arch = "wasm32"))]
pub fn write_npy_f32_file(
    path: impl AsRef<std::path::Path>,
    shape: &[u64],
    data: &[f32],
) -> Result<(), NpyError> {
    let path = path.as_ref();
    let bytes = write_npy_f32_bytes(shape, data)?;
    std::fs::write(path, bytes).map_err(|source| NpyError::Io {
        path: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    // In the browser (wasm-pack test), each #[test] below runs as a wasm_bindgen_test.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;

    #[test]
    fn round_trips_a_2d_float32_array() {
        let data: Vec<f32> = (0..6).map(|i| i as f32 * 0.5).collect();
        let bytes = write_npy_f32_bytes(&[2, 3], &data).unwrap();
        let back = read_npy_bytes(&bytes, "test").unwrap();
        assert_eq!(back.shape, vec![2, 3]);
        assert_eq!(
            back.data,
            data.iter().map(|&v| v as f64).collect::<Vec<_>>()
        );
    }

    #[test]
    fn refuses_deeply_nested_headers_quickly() {
        // The fuzzer's case: a header of nested braces made npyz's parser backtrack for more than 30 s.
        let header = format!("{{'descr': '<f4',{} 'fortran_order': True, 'shape': (2, 2,) }}", "{".repeat(100));
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        let e = read_npy_bytes(&bytes, "deep.npy").unwrap_err().to_string();
        assert!(e.contains("deep.npy") && e.contains("nests brackets"), "{e}");
    }

    #[test]
    fn refuses_a_huge_shape_without_allocating_for_it() {
        // Like the fuzzer's case: a shape of 8 x 10^19 elements over a few bytes of data once panicked with
        // "capacity overflow" (and its product overflows u64).
        let header = "{'descr': '<u4', 'fortran_order': False, 'shape': (8, 10000000000000000000), }";
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(&[0; 16]);
        assert!(read_npy_bytes(&bytes, "huge.npy").is_err());
        let header = "{'descr': '<u1', 'fortran_order': False, 'shape': (100000000000, 100000000000), }";
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(&[0; 16]);
        assert!(read_npy_bytes(&bytes, "huge.npy").is_err());
    }

    #[test]
    fn rejects_garbage_with_the_source_name() {
        let err = read_npy_bytes(b"not an npy file", "strain.npy").unwrap_err();
        assert!(err.to_string().contains("strain.npy"), "{err}");
    }

    #[test]
    fn rejects_a_shape_that_does_not_match_the_data() {
        assert!(write_npy_f32_bytes(&[2, 2], &[1.0, 2.0, 3.0]).is_err());
    }
}
