use super::*;

const SPORT: &[&str] = &[
    "striker",
    "goal",
    "league",
    "coach",
    "match",
    "season",
    "referee",
    "penalty",
    "champions",
    "stadium",
    "midfielder",
    "derby",
];
const MONEY: &[&str] = &[
    "shares",
    "profit",
    "market",
    "investors",
    "bank",
    "earnings",
    "inflation",
    "bonds",
    "merger",
    "dividend",
    "stocks",
    "quarter",
];

/// Deterministic four-word texts from a vocabulary.
fn texts(words: &[&str], n: usize, salt: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            (0..4)
                .map(|j| words[(i * 7 + j * 5 + salt) % words.len()])
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn trained() -> Model {
    let (sport, money) = (texts(SPORT, 60, 0), texts(MONEY, 30, 3));
    let mut ex: Vec<Example<'_>> = Vec::new();
    for t in &sport {
        ex.push(Example {
            title: t,
            summary: "",
            label: 0,
            also: &[],
        });
    }
    for t in &money {
        ex.push(Example {
            title: t,
            summary: "report",
            label: 1,
            also: &[],
        });
    }
    let labels = vec!["sports".to_string(), "business".to_string()];
    Model::train(&labels, &ex, &TrainOptions::default())
        .unwrap()
        .0
}

#[test]
fn features_count_words_pairs_and_title_words() {
    let f = features("Goal goal", "late goal", DEFAULT_BITS);
    let total: f32 = f.all.iter().map(|(_, c)| c).sum();
    // words: goal ×3, late, and the title's two again = 6; pairs: (goal goal), (late goal) = 2.
    assert_eq!(total, 8.0);
    assert_eq!(f.words.iter().map(|(_, c)| c).sum::<f32>(), 6.0);
    assert!(f.all.windows(2).all(|w| w[0].0 < w[1].0), "sorted, merged");
    // Case and one-letter words do not count; the possessive ends the word.
    assert_eq!(features("GOAL's a", "", 18), features("goal", "", 18));
}

#[test]
fn it_learns_two_topics_with_calibrated_probabilities() {
    let m = trained();
    let p = m.predict(
        "Striker scores in the derby",
        "The coach praised the referee.",
    );
    assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4, "{p:?}");
    assert!(p[0] > 0.8, "{p:?}");
    let p = m.predict(
        "Bank profit beats forecasts",
        "Investors cheered the dividend.",
    );
    assert!(p[1] > 0.8, "{p:?}");
    // Words it never saw: no confident answer either way (class balancing: 60 vs 30 examples).
    let p = m.predict("Parliament meets on Tuesday", "");
    assert!(p[0] < 0.8 && p[1] < 0.8, "{p:?}");
}

#[test]
fn a_model_round_trips_through_bytes_and_rejects_damage() {
    let m = trained();
    let bytes = m.to_bytes();
    let back = Model::from_bytes(&bytes).unwrap();
    assert_eq!(back, m);
    assert_eq!(trained().to_bytes(), bytes, "training is deterministic");
    assert!(Model::from_bytes(&bytes[..bytes.len() - 1]).is_err());
    assert!(Model::from_bytes(b"not a model at all").is_err());
    let mut extra = bytes.clone();
    extra.push(0);
    assert!(Model::from_bytes(&extra).is_err());
}

#[test]
fn training_needs_two_labels_with_examples() {
    let labels = vec!["a".to_string(), "b".to_string()];
    let ex = [Example {
        title: "x y",
        summary: "",
        label: 0,
        also: &[],
    }];
    assert_eq!(
        Model::train(&labels, &ex, &TrainOptions::default()).unwrap_err(),
        LearnError::TooFewLabels
    );
    let bad = [Example {
        title: "x y",
        summary: "",
        label: 5,
        also: &[],
    }];
    assert!(matches!(
        Model::train(&labels, &bad, &TrainOptions::default()),
        Err(LearnError::BadExamples(_))
    ));
    assert!(Model::train(&labels, &[], &TrainOptions::default()).is_err());
}

#[test]
fn naive_bayes_baseline_learns_too() {
    let (sport, money) = (texts(SPORT, 40, 0), texts(MONEY, 40, 1));
    let ex: Vec<Example<'_>> = sport
        .iter()
        .map(|t| Example {
            title: t,
            summary: "",
            label: 0,
            also: &[],
        })
        .chain(money.iter().map(|t| Example {
            title: t,
            summary: "",
            label: 1,
            also: &[],
        }))
        .collect();
    let nb = NaiveBayes::train(2, &ex);
    assert_eq!(nb.predict("penalty in the derby", ""), 0);
    assert_eq!(nb.predict("bonds and stocks", ""), 1);
}
