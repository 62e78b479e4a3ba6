//! QR codes as module grids, for drawing on paper.

use qrcode::{Color, EcLevel, QrCode};

use crate::error::ApiError;

/// The dark modules of the QR code of `payload`, row by row, at error correction level Q
/// (a quarter of the code may be soiled or creased and it still reads).
pub fn modules(payload: &str) -> Result<Vec<Vec<bool>>, ApiError> {
    let code = QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::Q)
        .map_err(|e| ApiError::Internal(format!("QR: {e}")))?;
    let w = code.width();
    let colors = code.to_colors();
    Ok(colors
        .chunks(w)
        .map(|row| row.iter().map(|c| *c == Color::Dark).collect())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grid_is_square_with_finder_patterns() {
        let m = modules("YF-M:YF20260302-0001").expect("qr");
        let n = m.len();
        assert!(m.iter().all(|r| r.len() == n));
        // Finder pattern corners are dark, the module inside its white ring light.
        assert!(m[0][0] && m[0][n - 1] && m[n - 1][0]);
        assert!(!m[1][1] && m[2][2]);
    }
}
