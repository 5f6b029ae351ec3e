//! The promotion gate: a newly trained version (the challenger) against the version that is
//! `CURRENT` (the champion), on the challenger's test attempts after the champion's training
//! cutoff.
//!
//! Those rows are out of time for both models: the challenger was neither fitted nor calibrated
//! on its test slice, and the champion's history ended before them. (With `--family auto` the
//! challenger's family was *selected* on the whole test slice, these rows included: a minimum
//! over three families of very different quality, which favours the challenger slightly; pin
//! `--family` for a comparison without it.) Both score the
//! rows built by this run's replay, which are exactly the features the server would have given
//! the champion with every outcome reported live, so the figures compare the models and nothing
//! else. Rows are mapped into the champion's feature schema by name (a person attribute it lacks
//! is missing, a categorical level it never saw is missing), so a new attribute column or a new
//! category does not make the versions incomparable.

use contactscore_models::Target;
use contactscore_models::artifact::registry::CURRENT;
use contactscore_models::artifact::{
    ChampionComparison, ComparisonResult, Registry, ServingSettings,
};
use contactscore_models::family::Dataset;
use contactscore_models::features::{AttrKind, BASE_FEATURES, FeatureSchema};
use contactscore_models::metrics::{ECE_BINS, binary_metrics};
use contactscore_models::model::ResponseModel;

use crate::Result;
use crate::config::Gate;
use crate::timefmt::rfc3339;

/// What the challenger is judged on.
pub struct Challenger<'a> {
    /// The new model.
    pub model: &'a ResponseModel,
    /// Its target (the champion must predict the same thing).
    pub target: Target,
    /// Its test slice.
    pub test: &'a Dataset,
    /// The attempt instant of each test row (unix seconds), row for row.
    pub test_times: &'a [i64],
    /// The normalisation and zone settings its rows were built with.
    pub serving: &'a ServingSettings,
}

/// Compare `challenger` with the registry's `CURRENT` version; `None` when nothing is promoted
/// yet. Whatever prevents a fair comparison — a champion that cannot be read, another target,
/// other normalisation or zone settings, too few fresh rows — is "not compared" with the reason:
/// the new version is still published, and the gate does not promote over what it could not
/// measure.
pub fn compare(
    registry: &Registry,
    challenger: &Challenger<'_>,
    gate: &Gate,
) -> Result<Option<ChampionComparison>> {
    let not = |champion: String, after: Option<String>, reason: String| {
        Ok(Some(ChampionComparison {
            champion,
            after,
            tolerance: gate.tolerance,
            result: ComparisonResult::NotCompared { reason },
        }))
    };
    let version = match registry.current() {
        Ok(None) => return Ok(None),
        Ok(Some(v)) => v,
        Err(e) => return not(CURRENT.into(), None, format!("CURRENT cannot be read: {e}")),
    };
    let (manifest, champion) = match registry.load_model(Some(&version)) {
        Ok(loaded) => loaded,
        Err(e) => return not(version, None, format!("the champion cannot be loaded: {e}")),
    };
    let after = Some(manifest.window.end.clone());
    let Ok(cutoff) = manifest.window.end.parse::<jiff::Timestamp>() else {
        let reason = format!(
            "the champion's training cutoff {} is not an RFC 3339 instant",
            contactscore_models::quote(&manifest.window.end)
        );
        return not(version, after, reason);
    };
    let cutoff = cutoff.as_second();
    if manifest.target != challenger.target {
        let reason = format!(
            "the champion predicts {}, the new version {}",
            manifest.target.as_str(),
            challenger.target.as_str()
        );
        return not(version, after, reason);
    }
    // The rows were built with this run's settings; the champion serves with its own.
    if manifest.serving != *challenger.serving {
        let (a, b) = (&manifest.serving, challenger.serving);
        let reason = format!(
            "the champion reads numbers and zones with default_region {} / default_timezone {}, \
             the new version with {} / {}",
            a.default_region, a.default_timezone, b.default_region, b.default_timezone
        );
        return not(version, after, reason);
    }
    let map = match ColumnMap::new(&challenger.model.schema, &champion.schema) {
        Ok(map) => map,
        Err(reason) => return not(version, after, reason),
    };
    let test = challenger.test;
    debug_assert_eq!(challenger.test_times.len(), test.len());
    let fresh: Vec<usize> = (0..test.len())
        .filter(|&i| challenger.test_times.get(i).is_some_and(|&t| t > cutoff))
        .collect();
    let positives = fresh.iter().filter(|&&i| test.y[i]).count();
    if fresh.len() < gate.min_rows || positives == 0 || positives == fresh.len() {
        let reason = format!(
            "{} test attempts after the champion's cutoff ({positives} positive); at least {} \
             with both outcomes are needed (config champion_min_rows)",
            fresh.len(),
            gate.min_rows
        );
        return not(version, after, reason);
    }
    let labels: Vec<bool> = fresh.iter().map(|&i| test.y[i]).collect();
    let ours: Vec<f64> = fresh
        .iter()
        .map(|&i| challenger.model.predict(test.row(i)))
        .collect();
    let mut row = Vec::with_capacity(champion.schema.len());
    let theirs: Vec<f64> = fresh
        .iter()
        .map(|&i| {
            map.apply(test.row(i), &mut row);
            champion.predict(&row)
        })
        .collect();
    Ok(Some(ChampionComparison {
        champion: version,
        after: Some(rfc3339(cutoff)),
        tolerance: gate.tolerance,
        result: ComparisonResult::Compared {
            challenger: binary_metrics(&ours, &labels, ECE_BINS),
            champion: binary_metrics(&theirs, &labels, ECE_BINS),
        },
    }))
}

/// One line for the command line: the comparison's figures and the decision.
pub fn describe(c: &ChampionComparison, promoted: bool) -> String {
    let decision = if promoted { "promoted" } else { "not promoted" };
    match &c.result {
        ComparisonResult::Compared {
            challenger,
            champion,
        } => format!(
            "champion {}: test log loss {:.4}, new version {:.4}, on {} attempts after {}; {decision}",
            c.champion,
            champion.log_loss,
            challenger.log_loss,
            challenger.n,
            c.after.as_deref().unwrap_or("its cutoff")
        ),
        ComparisonResult::NotCompared { reason } => {
            format!(
                "champion {}: not compared ({reason}); {decision}",
                c.champion
            )
        }
    }
}

/// Where each feature of the champion's schema comes from in a challenger row.
#[derive(Debug)]
struct ColumnMap(Vec<Source>);

#[derive(Debug)]
enum Source {
    /// The challenger's column `i`, as is.
    Copy(usize),
    /// The challenger's categorical column `i`: its level index `k` is the champion's
    /// `levels[k]` (NaN when the champion never saw that level).
    Levels(usize, Vec<f32>),
    /// A column the challenger lacks.
    Missing,
}

impl ColumnMap {
    /// Map `from` rows into `to`'s layout; the error says why they cannot be (built-in features
    /// of another feature version).
    fn new(from: &FeatureSchema, to: &FeatureSchema) -> std::result::Result<Self, String> {
        if from.version != to.version {
            return Err(format!(
                "feature version {} against the new version's {}",
                to.version, from.version
            ));
        }
        let base = BASE_FEATURES.len();
        let mut sources: Vec<Source> = (0..base).map(Source::Copy).collect();
        for spec in &to.attributes {
            let found = from
                .attributes
                .iter()
                .position(|a| a.name == spec.name)
                .map(|i| (base + i, &from.attributes[i].kind));
            sources.push(match (found, &spec.kind) {
                (None, _) => Source::Missing,
                (Some((i, AttrKind::Numeric)), AttrKind::Numeric) => Source::Copy(i),
                (
                    Some((i, AttrKind::Categorical { levels: ours })),
                    AttrKind::Categorical { levels },
                ) => {
                    let remap = ours
                        .iter()
                        .map(|l| levels.binary_search(l).map_or(f32::NAN, |k| k as f32))
                        .collect();
                    Source::Levels(i, remap)
                }
                // The column changed kind: its values mean something else now.
                (Some(_), AttrKind::Numeric | AttrKind::Categorical { .. }) => Source::Missing,
            });
        }
        Ok(Self(sources))
    }

    /// Write `row` (challenger layout) into `out` in the champion's layout.
    fn apply(&self, row: &[f32], out: &mut Vec<f32>) {
        out.clear();
        out.extend(self.0.iter().map(|s| {
            match s {
                Source::Copy(i) => row.get(*i).copied().unwrap_or(f32::NAN),
                Source::Levels(i, remap) => row
                    .get(*i)
                    .filter(|v| v.is_finite() && **v >= 0.0)
                    .and_then(|&v| remap.get(v as usize))
                    .copied()
                    .unwrap_or(f32::NAN),
                Source::Missing => f32::NAN,
            }
        }));
    }
}

#[cfg(test)]
mod tests {
    use contactscore_models::features::AttrSpec;

    use super::*;

    fn schema(attrs: Vec<AttrSpec>) -> FeatureSchema {
        FeatureSchema::new(attrs)
    }

    fn cat(name: &str, levels: &[&str]) -> AttrSpec {
        AttrSpec {
            name: name.into(),
            kind: AttrKind::Categorical {
                levels: levels.iter().map(|l| (*l).to_owned()).collect(),
            },
        }
    }

    fn num(name: &str) -> AttrSpec {
        AttrSpec {
            name: name.into(),
            kind: AttrKind::Numeric,
        }
    }

    #[test]
    fn attributes_are_mapped_by_name_and_level() {
        let base = BASE_FEATURES.len();
        // The challenger has a new column and a new level; the champion has a column it lacks.
        let from = schema(vec![
            num("age"),
            cat("segment", &["gold", "new", "silver"]),
            num("score"),
        ]);
        let to = schema(vec![
            cat("segment", &["gold", "silver"]),
            num("age"),
            num("gone"),
        ]);
        let map = ColumnMap::new(&from, &to).expect("comparable");
        let mut row: Vec<f32> = (0..base).map(|i| i as f32).collect();
        row.extend([41.0, 2.0, 7.5]); // age 41, segment "silver", score 7.5
        let mut out = Vec::new();
        map.apply(&row, &mut out);
        assert_eq!(out.len(), to.len());
        assert_eq!(&out[..base], &row[..base]);
        assert_eq!(out[base], 1.0, "silver is level 1 for the champion");
        assert_eq!(out[base + 1], 41.0);
        assert!(
            out[base + 2].is_nan(),
            "a column the challenger lacks is missing"
        );
        row[base + 1] = 1.0; // "new": unknown to the champion
        map.apply(&row, &mut out);
        assert!(out[base].is_nan());
        row[base + 1] = f32::NAN;
        map.apply(&row, &mut out);
        assert!(out[base].is_nan());
    }

    #[test]
    fn another_feature_version_is_not_comparable() {
        let from = schema(vec![]);
        let mut to = schema(vec![]);
        to.version += 1;
        let err = ColumnMap::new(&from, &to).expect_err("not comparable");
        assert!(err.contains("feature version"), "{err}");
    }
}
