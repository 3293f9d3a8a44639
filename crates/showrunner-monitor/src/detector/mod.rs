//! Online anomaly detectors.
