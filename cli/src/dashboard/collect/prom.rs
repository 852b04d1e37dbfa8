//! The Prometheus text format, as much of it as a dashboard needs: samples with labels.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Every sample of an exposition; lines that do not parse are skipped.
pub fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(sample)
        .collect()
}

fn sample(line: &str) -> Option<Sample> {
    let (name, rest) = match line.find(['{', ' ']) {
        Some(i) => line.split_at(i),
        None => return None,
    };
    let (labels, rest) = if let Some(inner) = rest.strip_prefix('{') {
        let (labels, len) = labels(inner)?;
        (labels, &inner[len..])
    } else {
        (BTreeMap::new(), rest)
    };
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// Labels up to the closing brace, and how many bytes they took (brace included).
fn labels(text: &str) -> Option<(BTreeMap<String, String>, usize)> {
    let mut out = BTreeMap::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    loop {
        while i < bytes.len() && (bytes[i] == b',' || bytes[i] == b' ') {
            i += 1;
        }
        if bytes.get(i) == Some(&b'}') {
            return Some((out, i + 1));
        }
        let eq = i + text[i..].find('=')?;
        let key = text[i..eq].trim().to_owned();
        if bytes.get(eq + 1) != Some(&b'"') {
            return None;
        }
        let mut value = String::new();
        let mut j = eq + 2;
        loop {
            match bytes.get(j)? {
                b'\\' => {
                    match bytes.get(j + 1)? {
                        b'n' => value.push('\n'),
                        c => value.push(*c as char),
                    }
                    j += 2;
                }
                b'"' => break,
                _ => {
                    let ch = text[j..].chars().next()?;
                    value.push(ch);
                    j += ch.len_utf8();
                }
            }
        }
        out.insert(key, value);
        i = j + 1;
    }
}

/// The `q` quantile (0–1) of a histogram from its cumulative buckets (`le`, count), by linear
/// interpolation inside the bucket, as PromQL's `histogram_quantile`.
pub fn quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut prev = (0.0, 0.0);
    for &(le, count) in buckets {
        if count >= rank {
            if le.is_infinite() {
                return Some(prev.0);
            }
            let in_bucket = count - prev.1;
            let frac = if in_bucket > 0.0 {
                (rank - prev.1) / in_bucket
            } else {
                1.0
            };
            return Some(prev.0 + (le - prev.0) * frac);
        }
        prev = (le, count);
    }
    Some(prev.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_with_and_without_labels() {
        let text = "# HELP x y\n# TYPE http_requests counter\n\
            http_requests_total{method=\"GET\",route=\"/products/{id}\",status=\"200\"} 12\n\
            up 1\n\
            weird{a=\"q\\\"uote\"} 3.5 1700000000\n\
            broken{a=1} 2\n";
        let s = parse(text);
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].labels["route"], "/products/{id}");
        assert_eq!(s[0].value, 12.0);
        assert_eq!(s[1].name, "up");
        assert_eq!(s[2].labels["a"], "q\"uote");
    }

    #[test]
    fn quantiles_interpolate_inside_the_bucket() {
        let b = [(0.1, 50.0), (0.2, 100.0), (f64::INFINITY, 100.0)];
        assert!((quantile(0.5, &b).unwrap() - 0.1).abs() < 1e-9);
        assert!((quantile(0.75, &b).unwrap() - 0.15).abs() < 1e-9);
        assert_eq!(quantile(0.5, &[(0.1, 0.0)]), None);
    }
}
