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
    ($npy:ident, $name:expr, $($t:ty),+) => {{
        $(
            let $npy = match $npy.try_data::<$t>() {
                Ok(reader) => {
                    let mut out = Vec::with_capacity(reader.len() as usize);
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

fn read_values(npy: npyz::NpyFile<&[u8]>, source_name: &str) -> Result<Vec<f64>, NpyError> {
    let npy = try_as_f64!(
        npy,
        source_name,
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
    let npy = npyz::NpyFile::new(bytes).map_err(|e| format_error(source_name, e))?;
    let shape = npy.shape().to_vec();
    if npy.order() == npyz::Order::Fortran && shape.iter().filter(|&&d| d > 1).count() > 1 {
        return Err(NpyError::FortranOrder {
            source_name: source_name.to_string(),
            ndim: shape.len(),
        });
    }
    let data = read_values(npy, source_name)?;
    let expected: u64 = shape.iter().product();
    if data.len() as u64 != expected {
        return Err(NpyError::ShapeMismatch {
            source_name: source_name.to_string(),
            len: data.len(),
            shape,
        });
    }
    Ok(NpyArray { shape, data })
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
    fn rejects_garbage_with_the_source_name() {
        let err = read_npy_bytes(b"not an npy file", "strain.npy").unwrap_err();
        assert!(err.to_string().contains("strain.npy"), "{err}");
    }

    #[test]
    fn rejects_a_shape_that_does_not_match_the_data() {
        assert!(write_npy_f32_bytes(&[2, 2], &[1.0, 2.0, 3.0]).is_err());
    }
}
