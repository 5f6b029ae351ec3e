//! A dense, row-major feature matrix with binary labels: what the families fit on and what
//! evaluation scores.

/// Feature rows and labels.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dataset {
    /// Features per row.
    pub n_features: usize,
    /// Row-major features, `len() * n_features` values (NaN = missing).
    pub x: Vec<f32>,
    /// Labels.
    pub y: Vec<bool>,
}

impl Dataset {
    /// An empty dataset of `n_features` columns.
    pub fn new(n_features: usize) -> Self {
        Self {
            n_features,
            x: Vec::new(),
            y: Vec::new(),
        }
    }

    /// A dataset of `rows` rows of zeros and `false` labels, to be filled with [`Dataset::set`]
    /// (for producers that compute rows out of order).
    pub fn with_rows(n_features: usize, rows: usize) -> Self {
        Self {
            n_features,
            x: vec![0.0; rows * n_features],
            y: vec![false; rows],
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.x[i * self.n_features..(i + 1) * self.n_features]
    }

    /// Append a row (must have `n_features` values).
    pub fn push(&mut self, row: &[f32], label: bool) {
        debug_assert_eq!(row.len(), self.n_features);
        self.x.extend_from_slice(row);
        self.y.push(label);
    }

    /// Overwrite row `i` (must have `n_features` values; `i < len()`).
    pub fn set(&mut self, i: usize, row: &[f32], label: bool) {
        debug_assert_eq!(row.len(), self.n_features);
        self.x[i * self.n_features..(i + 1) * self.n_features].copy_from_slice(row);
        self.y[i] = label;
    }

    /// Number of positive labels.
    pub fn positives(&self) -> usize {
        self.y.iter().filter(|&&y| y).count()
    }

    /// Column-major f64 copy (what forust fits on).
    pub fn column_major_f64(&self) -> Vec<f64> {
        let n = self.len();
        let mut out = vec![0.0; n * self.n_features];
        for (i, row) in self.x.chunks_exact(self.n_features).enumerate() {
            for (j, &v) in row.iter().enumerate() {
                out[j * n + i] = f64::from(v);
            }
        }
        out
    }
}
