//! The feature schema: names, order and missing-value fills of the feature vector, and the person
//! attribute columns appended to it. A model records the schema it was trained on; loading it into
//! code with a different schema is refused rather than silently mis-scored.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Version of the feature code. Bump it whenever `vector.rs` changes what a feature means.
/// 2: the number's metadata validity and type, and its latest carrier validation.
pub const FEATURE_VERSION: u32 = 2;

/// Prior engaged rate used to smooth per-entity rates inside the features.
pub const RATE_PRIOR: f32 = 0.1;

/// A built-in feature: its name and the value linear models use when it is missing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeatureDef {
    /// Feature name.
    pub name: &'static str,
    /// Fill for missing values in linear models ("days since" = long ago; rates = the prior).
    pub fill: f32,
}

const fn f(name: &'static str, fill: f32) -> FeatureDef {
    FeatureDef { name, fill }
}

/// Built-in features, in vector order.
pub const BASE_FEATURES: &[FeatureDef] = &[
    f("ch_voice", 0.0),
    f("ch_sms", 0.0),
    f("ch_whatsapp", 0.0),
    f("ch_rcs", 0.0),
    f("ch_email", 0.0),
    f("local_hour", 12.0),
    f("local_weekday", 3.0),
    f("is_weekend", 0.0),
    f("block_00_03", 0.0),
    f("block_03_06", 0.0),
    f("block_06_09", 0.0),
    f("block_09_12", 0.0),
    f("block_12_15", 0.0),
    f("block_15_18", 0.0),
    f("block_18_21", 0.0),
    f("block_21_24", 0.0),
    f("pcc_attempts_3d", 0.0),
    f("pcc_attempts_30d", 0.0),
    f("pcc_attempts_180d", 0.0),
    f("pcc_engaged_3d", 0.0),
    f("pcc_engaged_30d", 0.0),
    f("pcc_engaged_180d", 0.0),
    f("pcc_engaged_rate_30d", RATE_PRIOR),
    f("pcc_days_since_attempt", 365.0),
    f("pcc_days_since_engaged", 365.0),
    f("pcc_consecutive_failures", 0.0),
    f("pcc_invalid_count", 0.0),
    f("pcc_days_since_invalid", 365.0),
    f("pcc_opted_out", 0.0),
    f("pc_attempts_3d", 0.0),
    f("pc_attempts_30d", 0.0),
    f("pc_attempts_180d", 0.0),
    f("pc_reached_3d", 0.0),
    f("pc_reached_30d", 0.0),
    f("pc_reached_180d", 0.0),
    f("pc_engaged_3d", 0.0),
    f("pc_engaged_30d", 0.0),
    f("pc_engaged_180d", 0.0),
    f("pc_engaged_rate_180d", RATE_PRIOR),
    f("pc_days_since_engaged", 365.0),
    f("pc_days_since_reached", 365.0),
    f("pc_consecutive_failures", 0.0),
    f("pc_wrong_party", 0.0),
    f("pc_age_days", 0.0),
    f("pc_is_new", 0.0),
    f("pc_share_engaged", 0.0),
    f("pc_channel_listed", 0.5),
    f("p_attempts_3d", 0.0),
    f("p_attempts_30d", 0.0),
    f("p_attempts_180d", 0.0),
    f("p_engaged_3d", 0.0),
    f("p_engaged_30d", 0.0),
    f("p_engaged_180d", 0.0),
    f("p_reached_rate_30d", 2.0 * RATE_PRIOR),
    f("p_days_since_attempt", 365.0),
    f("p_days_since_engaged", 365.0),
    f("p_attempts_24h", 0.0),
    f("p_attempts_7d", 0.0),
    f("p_contacts_known", 1.0),
    f("p_contacts_alive", 1.0),
    f("ph_bucket_attempts", 0.0),
    f("ph_bucket_engaged", 0.0),
    f("ph_block_attempts", 0.0),
    f("ph_block_engaged", 0.0),
    f("ph_block_rate", RATE_PRIOR),
    f("ph_bucket_rate", RATE_PRIOR),
    f("number_valid", 1.0),
    f("nt_mobile", 0.0),
    f("nt_fixed_line", 0.0),
    f("nt_fixed_line_or_mobile", 0.0),
    f("nt_voip", 0.0),
    f("nt_toll_free", 0.0),
    f("nt_premium", 0.0),
    f("nt_other", 0.0),
    f("val_status", 0.0),
    f("val_days_since", 365.0),
    f("val_line_mobile", 0.0),
    f("val_line_landline", 0.0),
    f("val_line_voip", 0.0),
    f("val_ported", 0.0),
];

/// How a person attribute is encoded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum AttrKind {
    /// Used as is.
    Numeric,
    /// Encoded as the index of its level in `levels` (sorted).
    Categorical {
        /// The known levels.
        levels: Vec<String>,
    },
}

/// A person attribute column appended to the features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttrSpec {
    /// Column name in the persons file.
    pub name: String,
    /// Encoding.
    #[serde(flatten)]
    pub kind: AttrKind,
}

impl AttrSpec {
    /// Encode a raw value (empty = missing). An unknown category is missing (NaN).
    pub fn encode(&self, raw: &str) -> f32 {
        let raw = raw.trim();
        if raw.is_empty() {
            return f32::NAN;
        }
        match &self.kind {
            AttrKind::Numeric => raw.parse::<f32>().unwrap_or(f32::NAN),
            AttrKind::Categorical { levels } => levels
                .binary_search_by(|l| l.as_str().cmp(raw))
                .map_or(f32::NAN, |i| i as f32),
        }
    }
}

/// The full feature schema of a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSchema {
    /// [`FEATURE_VERSION`] at training time.
    pub version: u32,
    /// All feature names, built-in then `attr_<name>`.
    pub names: Vec<String>,
    /// The person attributes appended after the built-in features.
    pub attributes: Vec<AttrSpec>,
}

impl FeatureSchema {
    /// The schema of this build with the given person attributes.
    pub fn new(attributes: Vec<AttrSpec>) -> Self {
        let mut names: Vec<String> = BASE_FEATURES.iter().map(|d| d.name.to_owned()).collect();
        names.extend(attributes.iter().map(|a| format!("attr_{}", a.name)));
        Self {
            version: FEATURE_VERSION,
            names,
            attributes,
        }
    }

    /// Number of features.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether the schema is empty (never, for a real schema).
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Index of feature `name`.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// Fill values for linear models, in vector order (attributes fill with 0).
    pub fn fills(&self) -> Vec<f32> {
        let mut v: Vec<f32> = BASE_FEATURES.iter().map(|d| d.fill).collect();
        v.resize(self.len(), 0.0);
        v
    }

    /// A short fingerprint of the schema, recorded in manifests.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.version.to_le_bytes());
        for n in &self.names {
            h.update(n.as_bytes());
            h.update([0]);
        }
        h.finalize()
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Whether a model trained with `self` can be scored by this build.
    pub fn check_compatible(&self) -> Result<(), String> {
        let current = FeatureSchema::new(self.attributes.clone());
        if self.version != current.version {
            return Err(format!(
                "feature version {} does not match this build's {}; retrain the model",
                self.version, current.version
            ));
        }
        if self.names != current.names {
            return Err("feature names differ from this build's; retrain the model".into());
        }
        Ok(())
    }
}
