//! Scores NAB's published result files for this subset (Numenta HTM and Windowed Gaussian)
//! with our scorer and checks the figures in `nab-subset/ANCHORS.md` to 0.1. Reads
//! `../shared/data/nab-subset` relative to the workspace root; skips when it is absent.

use std::path::{Path, PathBuf};

use showrunner_monitor::nab::{self, ScoredFile};

fn corpus_root() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/nab-subset");
    root.join("labels/combined_windows.json")
        .exists()
        .then_some(root)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn score_published(root: &Path, detector: &str) -> Vec<(String, f64)> {
    let corpus = nab::load_corpus(&read(&root.join("labels/combined_windows.json")), |name| {
        std::fs::read_to_string(root.join("data").join(name))
    })
    .expect("corpus loads");
    let profiles = nab::parse_profiles_json("profiles", &read(&root.join("config/profiles.json")))
        .expect("profiles parse");
    assert_eq!(profiles, nab::Profile::published());
    let scores: Vec<Vec<f64>> = corpus
        .iter()
        .map(|file| {
            let path = root
                .join("results")
                .join(nab::result_path(detector, &file.name));
            let scores = nab::parse_result_scores(&file.name, &read(&path)).expect("scores");
            assert_eq!(scores.len(), file.data.values.len(), "{}", file.name);
            scores
        })
        .collect();
    let files: Vec<ScoredFile<'_>> = corpus
        .iter()
        .zip(&scores)
        .map(|(file, scores)| file.scored(scores))
        .collect();
    assert_eq!(files.len(), 18);
    profiles
        .iter()
        .map(|profile| {
            let result = nab::score_corpus(&files, profile);
            // The per-file breakdown at the chosen threshold adds up to the corpus score.
            let sum: f64 = result.per_file.iter().map(|file| file.raw).sum();
            assert!(
                (sum - result.raw).abs() < 1e-6,
                "{detector} {}",
                profile.name
            );
            (profile.name.clone(), result.normalised)
        })
        .collect()
}

#[test]
fn published_results_reproduce_the_anchor_table() {
    let Some(root) = corpus_root() else {
        eprintln!("note: ../shared/data/nab-subset is absent; skipping the NAB anchor check");
        return;
    };
    for (detector, expected) in [
        ("numenta", [61.3, 54.3, 66.2]),
        ("windowedGaussian", [12.1, 4.8, 16.0]),
    ] {
        let scores = score_published(&root, detector);
        let names: Vec<&str> = scores.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            names,
            ["standard", "reward_low_FP_rate", "reward_low_FN_rate"]
        );
        for ((profile, ours), published) in scores.iter().zip(expected) {
            eprintln!("{detector} {profile}: ours {ours:.3}, published {published}");
            assert!(
                (ours - published).abs() <= 0.1,
                "{detector} {profile}: ours {ours:.2}, published {published}"
            );
        }
    }
}
