//! A blend: the weighted sum of other models' scores, each standardised per user (mean 0,
//! standard deviation 1 over the catalog) so that models with different score scales mix.

/// Standardises `scores` in place over its finite entries.
pub fn standardise(scores: &mut [f32]) {
    let (mut n, mut sum, mut sq) = (0f64, 0f64, 0f64);
    for &s in scores.iter().filter(|s| s.is_finite()) {
        n += 1.0;
        sum += s as f64;
        sq += (s as f64) * (s as f64);
    }
    if n == 0.0 {
        return;
    }
    let mean = sum / n;
    let sd = ((sq / n) - mean * mean).max(0.0).sqrt();
    let sd = if sd > 0.0 { sd } else { 1.0 };
    for s in scores.iter_mut() {
        *s = ((*s as f64 - mean) / sd) as f32;
    }
}
