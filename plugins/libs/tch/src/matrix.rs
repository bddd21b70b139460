//! `Matrix` (the ABI's row-major f32 batch) to and from `Tensor`, with shape checks.

use crate::error::TchContext;
use tch::{Device, Kind, Tensor};
use xnas_core::{Matrix, PluginError, PluginResult};

/// Checks that `m` is well formed and `rows × cols` (either may be `None` = any).
pub fn check_shape(
    m: &Matrix,
    rows: Option<usize>,
    cols: Option<usize>,
    what: &str,
) -> PluginResult<()> {
    let (r, c) = (m.rows as usize, m.cols as usize);
    if r.checked_mul(c) != Some(m.data.len()) {
        return Err(PluginError::data(format!(
            "{what}: a {r}×{c} matrix must hold {} values, it holds {}",
            r.saturating_mul(c),
            m.data.len()
        )));
    }
    for (axis, want, got) in [("rows", rows, r), ("columns", cols, c)] {
        if let Some(want) = want.filter(|&w| w != got) {
            return Err(PluginError::other(format!(
                "{what}: expected {axis} = {want}, got a {r}×{c} matrix"
            )));
        }
    }
    Ok(())
}

/// A new `rows × cols` f32 tensor on `device` holding a copy of `m` (a leaf, no gradient).
pub fn to_tensor(m: &Matrix, device: Device) -> PluginResult<Tensor> {
    crate::device::init();
    check_shape(m, None, None, "matrix to tensor")?;
    Tensor::f_from_slice(m.data.as_slice())
        .and_then(|t| t.f_reshape([m.rows as i64, m.cols as i64]))
        .and_then(|t| t.f_to_device(device))
        .context("matrix to tensor")
}

/// A copy of a 2-D tensor as a `Matrix` (converted to f32 on the CPU; the graph is not kept).
pub fn to_matrix(t: &Tensor) -> PluginResult<Matrix> {
    let size = t.size();
    let [rows, cols] = size[..] else {
        return Err(PluginError::other(format!(
            "tensor to matrix: expected a 2-D tensor, got shape {size:?}"
        )));
    };
    let (rows, cols) = (rows as usize, cols as usize);
    let flat = t
        .f_detach()
        .and_then(|t| t.f_to_device(Device::Cpu))
        .and_then(|t| t.f_to_kind(Kind::Float))
        .and_then(|t| t.f_contiguous())
        .context("tensor to matrix")?;
    let mut data = vec![0f32; rows * cols];
    flat.f_copy_data(&mut data, rows * cols)
        .context("tensor to matrix")?;
    Ok(Matrix::new(rows, cols, data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use xnas_core::ErrorKind;

    #[test]
    fn round_trip_keeps_values_and_row_major_order() {
        let m = Matrix::new(2, 3, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let t = to_tensor(&m, Device::Cpu).unwrap();
        assert_eq!(t.size(), vec![2, 3]);
        // Row 1, column 0 is the fourth value in row-major order.
        assert_eq!(t.double_value(&[1, 0]), 4.0);
        assert_eq!(to_matrix(&t).unwrap(), m);
    }

    #[test]
    fn empty_batches_convert() {
        let m = Matrix::zeros(0, 4);
        let t = to_tensor(&m, Device::Cpu).unwrap();
        assert_eq!(t.size(), vec![0, 4]);
        assert_eq!(to_matrix(&t).unwrap(), m);
    }

    #[test]
    fn malformed_and_mismatched_shapes_are_clear_errors() {
        let bad = Matrix {
            rows: 2,
            cols: 2,
            data: vec![1.0; 3].into(),
        };
        let e = to_tensor(&bad, Device::Cpu).unwrap_err();
        assert_eq!(e.kind, ErrorKind::DATA);
        assert!(
            e.message()
                .contains("2×2 matrix must hold 4 values, it holds 3"),
            "{e}"
        );

        let m = Matrix::zeros(2, 3);
        let e = check_shape(&m, None, Some(4), "head forward").unwrap_err();
        assert_eq!(
            e.message(),
            "head forward: expected columns = 4, got a 2×3 matrix"
        );
        let e = check_shape(&m, Some(1), None, "head backward").unwrap_err();
        assert_eq!(
            e.message(),
            "head backward: expected rows = 1, got a 2×3 matrix"
        );
        check_shape(&m, Some(2), Some(3), "ok").unwrap();

        let e = to_matrix(&Tensor::from_slice(&[1f32, 2.0])).unwrap_err();
        assert!(e.message().contains("expected a 2-D tensor"), "{e}");
    }
}
