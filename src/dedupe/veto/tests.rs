use super::*;

fn v(a: &str, b: &str) -> Option<VetoKind> {
    veto(&TitleFeatures::of(a), &TitleFeatures::of(b), VetoRules::ALL).map(|v| v.kind)
}

#[test]
fn different_places_people_and_days_are_vetoed() {
    assert_eq!(
        v(
            "Strong earthquake strikes off coast of Ecuador",
            "Strong earthquake strikes off coast of Indonesia"
        ),
        Some(VetoKind::Places)
    );
    assert_eq!(
        v(
            "Senator Warren backs the new tariff bill",
            "Senator Cruz backs the new tariff bill"
        ),
        Some(VetoKind::Names)
    );
    assert_eq!(
        v("How the Dow fared Monday", "How the Dow fared Friday"),
        Some(VetoKind::Calendar)
    );
    assert_eq!(
        v(
            "Ferry carrying 300 sinks off the coast",
            "Ferry carrying 45 sinks off the coast"
        ),
        Some(VetoKind::Numbers)
    );
}

#[test]
fn paraphrases_of_one_event_pass() {
    // A demonym and its country, an acronym and its words, a name only one side gives.
    assert_eq!(
        v(
            "Ecuadorian quake kills dozens",
            "Quake in Ecuador kills dozens"
        ),
        None
    );
    assert_eq!(
        v(
            "GM recalls more cars over ignition switch",
            "General Motors recalls more cars over ignition switch"
        ),
        None
    );
    assert_eq!(
        v(
            "Fed's Plosser sees high bar for change in tapering",
            "Fed official sees high bar for change in tapering"
        ),
        None
    );
    // An updated toll that repeats the earlier figure is the same event.
    assert_eq!(
        v(
            "Bus crash kills 9, 12 injured",
            "Bus crash toll rises to 14, 12 injured"
        ),
        None
    );
    // Title Case capitals are not names.
    assert_eq!(
        v(
            "Apple Unveils Faster Chips At Annual Event",
            "Apple unveils faster chips at annual event"
        ),
        None
    );
}

#[test]
fn title_case_headlines_name_what_sentence_case_ones_taught() {
    let (a, b) = (
        "Senator Warren Backs New Tariff Bill",
        "Senator Cruz Backs New Tariff Bill",
    );
    // Title Case alone: capitals say nothing.
    assert_eq!(v(a, b), None);
    let mut names = NameLexicon::default();
    for t in [
        "Tariff bill wins backing of Warren and Cruz",
        "What Warren said about the budget",
        "The senate vote is a win for Cruz",
        "Markets shrug as the senate votes",
    ] {
        names.learn(t);
    }
    // Title Case headlines teach nothing; a word seen in lower case is no name.
    names.learn("Senator Warren Backs New Tariff Bill");
    assert!(names.is_name("warren") && names.is_name("cruz"));
    assert!(!names.is_name("senate") && !names.is_name("backs"));
    let f = |t| TitleFeatures::with_names(t, &names);
    assert_eq!(
        veto(&f(a), &f(b), VetoRules::ALL).map(|v| v.kind),
        Some(VetoKind::Names)
    );
}

#[test]
fn figures_keep_their_decimal_point() {
    let f = TitleFeatures::of("Magnitude 6.1 quake; 1,600 homes hit");
    assert_eq!(f.numbers, vec!["6.1".to_string(), "1600".to_string()]);
}
