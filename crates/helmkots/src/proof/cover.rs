//! Which configurations the proof renders: a t-way covering array over the Config items that
//! change values.
//!
//! Every combination of `t` items' values (t = 3 by default, `[proof] strength`) appears in
//! some chosen configuration, so an image that only appears when three parts are on together
//! (metrics + sidecar + TLS) is rendered. Every combination is taken instead when that is no
//! more configurations than the array.
//!
//! KOTS `when` hides items: a hidden item does not vary there (it keeps its default, which is
//! what the configuration gives Helm), so a configuration is *normalised* before it counts,
//! and a combination that no configuration can show (a child item on while its parent, which
//! hides it, is off) is not required.
//!
//! The configuration with every bool item on is always added: it deploys the most, so an
//! interaction of more than `t` parts is still rendered once.
//!
//! The array is built greedily and deterministically (AETG-style): start from the defaults;
//! while a combination is uncovered, seed a configuration with it (repairing it by flipping
//! one or two other items when `when` hides part of it), then give every other item the value
//! that covers the most uncovered combinations. Hand-written: no maintained crate builds
//! covering arrays with constraints.

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// One Config item that changes values: its name, the values it can take, its default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dimension {
    /// The item's name.
    pub name: String,
    /// Its values (`0`/`1` for a bool, the choices' names for a select).
    pub values: Vec<String>,
    /// The default, one of `values`.
    pub default: String,
}

/// A configuration: item name → value.
pub(crate) type Configuration = BTreeMap<String, String>;

/// Whether item `name` is shown in a configuration (its KOTS `when` and its group's).
pub(crate) type Visible<'a> = &'a dyn Fn(&str, &Configuration) -> bool;

/// The chosen configurations and what they cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cover {
    /// The configurations, the defaults first, each normalised.
    pub configurations: Vec<Configuration>,
    /// Every combination (exhaustive), or the strength of the array.
    pub exhaustive: bool,
    /// The strength asked for, capped at the number of items.
    pub strength: usize,
    /// How many configurations every combination would be (saturating).
    pub all_combinations: u64,
}

/// Beyond this many combinations, exhaustive is not even enumerated to compare.
const ENUMERATE_LIMIT: u64 = 1 << 14;

/// Chooses the configurations; see the module documentation.
pub(crate) fn cover(dimensions: &[Dimension], strength: usize, visible: Visible<'_>) -> Cover {
    let all_combinations = dimensions
        .iter()
        .fold(1u64, |product, dimension| product.saturating_mul(dimension.values.len() as u64));
    let strength = strength.clamp(1, dimensions.len().max(1));
    let mut space = Space::new(dimensions, visible);
    let mut array = space.covering_array(strength);
    // Every bool on (selects at their defaults): the configuration that deploys the most,
    // so an interaction of more than `strength` parts is still rendered once.
    let all_on: Point = space
        .dimensions
        .iter()
        .zip(&space.defaults)
        .map(|(dimension, &default)| {
            dimension
                .values
                .iter()
                .position(|v| v == "1")
                .filter(|_| dimension.values.len() == 2 && dimension.values[0] == "0")
                .unwrap_or(default)
        })
        .collect();
    let all_on = space.normalise(&all_on);
    if !array.contains(&all_on) {
        array.push(all_on);
    }
    if all_combinations <= ENUMERATE_LIMIT {
        let every = space.every_configuration();
        if every.len() <= array.len() {
            return Cover {
                configurations: space.named(&every),
                exhaustive: true,
                strength,
                all_combinations,
            };
        }
    }
    Cover { configurations: space.named(&array), exhaustive: false, strength, all_combinations }
}

/// A configuration as value indices, one per dimension.
type Point = Vec<usize>;

/// A combination of `t` items' values: (dimension, value index) pairs, dimensions ascending.
type Combination = Vec<(usize, usize)>;

struct Space<'a> {
    dimensions: &'a [Dimension],
    defaults: Point,
    visible: Visible<'a>,
    /// Normalised points, memoised: `when` is evaluated once a configuration.
    normalised: HashMap<Point, Point>,
    /// Every normalised configuration, once [`Space::search`] needed them.
    every: Option<Vec<Point>>,
}

impl<'a> Space<'a> {
    fn new(dimensions: &'a [Dimension], visible: Visible<'a>) -> Space<'a> {
        let defaults = dimensions
            .iter()
            .map(|dimension| {
                dimension.values.iter().position(|value| *value == dimension.default).unwrap_or(0)
            })
            .collect();
        Space { dimensions, defaults, visible, normalised: HashMap::new(), every: None }
    }

    fn configuration(&self, point: &[usize]) -> Configuration {
        self.dimensions
            .iter()
            .zip(point)
            .map(|(dimension, &index)| (dimension.name.clone(), dimension.values[index].clone()))
            .collect()
    }

    fn named(&self, points: &[Point]) -> Vec<Configuration> {
        points.iter().map(|point| self.configuration(point)).collect()
    }

    /// Hidden items back to their defaults, until nothing changes (hiding can cascade).
    fn normalise(&mut self, point: &[usize]) -> Point {
        if let Some(done) = self.normalised.get(point) {
            return done.clone();
        }
        let mut current = point.to_vec();
        for _ in 0..=self.dimensions.len() {
            let config = self.configuration(&current);
            let mut next = current.clone();
            for (index, dimension) in self.dimensions.iter().enumerate() {
                if !(self.visible)(&dimension.name, &config) {
                    next[index] = self.defaults[index];
                }
            }
            if next == current {
                break;
            }
            current = next;
        }
        self.normalised.insert(point.to_vec(), current.clone());
        current
    }

    /// Every configuration, normalised, without repeats, the defaults first.
    fn every_configuration(&mut self) -> Vec<Point> {
        let mut all: Vec<Point> = vec![Vec::new()];
        for dimension in self.dimensions {
            all = all
                .into_iter()
                .flat_map(|partial| {
                    (0..dimension.values.len()).map(move |index| {
                        let mut next = partial.clone();
                        next.push(index);
                        next
                    })
                })
                .collect();
        }
        let mut seen = BTreeSet::new();
        let mut points = vec![self.defaults.clone()];
        seen.insert(self.defaults.clone());
        for point in all {
            let point = self.normalise(&point);
            if seen.insert(point.clone()) {
                points.push(point);
            }
        }
        points
    }

    fn covering_array(&mut self, strength: usize) -> Vec<Point> {
        let defaults = self.normalise(&self.defaults.clone());
        let mut uncovered: BTreeSet<Combination> = combinations(self.dimensions, strength).collect();
        let mut chosen: Vec<Point> = Vec::new();
        let take = |point: Point, uncovered: &mut BTreeSet<Combination>, chosen: &mut Vec<Point>| {
            uncovered.retain(|combination| !covers(&point, combination));
            if !chosen.contains(&point) {
                chosen.push(point);
            }
        };
        take(defaults, &mut uncovered, &mut chosen);
        while let Some(combination) = uncovered.iter().next().cloned() {
            let Some(mut point) = self.seed(&combination).or_else(|| self.search(&combination)) else {
                // No configuration shows it: `when` hides part of it wherever the rest holds.
                uncovered.remove(&combination);
                continue;
            };
            let fixed: BTreeSet<usize> = combination.iter().map(|(dimension, _)| *dimension).collect();
            for dimension in 0..self.dimensions.len() {
                if fixed.contains(&dimension) {
                    continue;
                }
                let mut best = (count_covered(&point, &uncovered), point.clone());
                for value in 0..self.dimensions[dimension].values.len() {
                    let mut trial = point.clone();
                    trial[dimension] = value;
                    let trial = self.normalise(&trial);
                    if !covers(&trial, &combination) {
                        continue;
                    }
                    let score = count_covered(&trial, &uncovered);
                    if score > best.0 {
                        best = (score, trial);
                    }
                }
                point = best.1;
            }
            take(point, &mut uncovered, &mut chosen);
        }
        chosen
    }

    /// A normalised configuration that shows `combination`: the defaults with it applied,
    /// else with one or two other items changed as well (to show what `when` hides).
    fn seed(&mut self, combination: &Combination) -> Option<Point> {
        let mut base = self.defaults.clone();
        for &(dimension, value) in combination {
            base[dimension] = value;
        }
        let point = self.normalise(&base);
        if covers(&point, combination) {
            return Some(point);
        }
        let fixed: BTreeSet<usize> = combination.iter().map(|(dimension, _)| *dimension).collect();
        let others: Vec<(usize, usize)> = (0..self.dimensions.len())
            .filter(|dimension| !fixed.contains(dimension))
            .flat_map(|dimension| {
                (0..self.dimensions[dimension].values.len()).map(move |value| (dimension, value))
            })
            .filter(|&(dimension, value)| base[dimension] != value)
            .collect();
        for &(dimension, value) in &others {
            let mut trial = base.clone();
            trial[dimension] = value;
            let trial = self.normalise(&trial);
            if covers(&trial, combination) {
                return Some(trial);
            }
        }
        for (i, &(first, first_value)) in others.iter().enumerate() {
            for &(second, second_value) in &others[i + 1..] {
                if first == second {
                    continue;
                }
                let mut trial = base.clone();
                trial[first] = first_value;
                trial[second] = second_value;
                let trial = self.normalise(&trial);
                if covers(&trial, combination) {
                    return Some(trial);
                }
            }
        }
        None
    }
}

impl Space<'_> {
    /// The first configuration of all that shows `combination`, when there are few enough to
    /// look through (deep `when` chains need more than the two flips [`Space::seed`] tries).
    fn search(&mut self, combination: &Combination) -> Option<Point> {
        let all = self.dimensions.iter().fold(1u64, |p, d| p.saturating_mul(d.values.len() as u64));
        if all > ENUMERATE_LIMIT {
            return None;
        }
        if self.every.is_none() {
            self.every = Some(self.every_configuration());
        }
        self.every.as_ref()?.iter().find(|point| covers(point, combination)).cloned()
    }
}

fn covers(point: &[usize], combination: &Combination) -> bool {
    combination.iter().all(|&(dimension, value)| point[dimension] == value)
}

fn count_covered(point: &[usize], uncovered: &BTreeSet<Combination>) -> usize {
    uncovered.iter().filter(|combination| covers(point, combination)).count()
}

/// Every combination of `strength` dimensions' values, in a fixed order.
fn combinations(dimensions: &[Dimension], strength: usize) -> impl Iterator<Item = Combination> + '_ {
    subsets(dimensions.len(), strength).into_iter().flat_map(move |subset| {
        let mut combos: Vec<Combination> = vec![Vec::new()];
        for &dimension in &subset {
            combos = combos
                .into_iter()
                .flat_map(|partial| {
                    (0..dimensions[dimension].values.len()).map(move |value| {
                        let mut next = partial.clone();
                        next.push((dimension, value));
                        next
                    })
                })
                .collect();
        }
        combos
    })
}

/// Every `k`-subset of `0..n`, ascending.
fn subsets(n: usize, k: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    fn go(start: usize, n: usize, k: usize, current: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if current.len() == k {
            out.push(current.clone());
            return;
        }
        for next in start..n {
            current.push(next);
            go(next + 1, n, k, current, out);
            current.pop();
        }
    }
    go(0, n, k, &mut current, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bools(n: usize) -> Vec<Dimension> {
        (0..n)
            .map(|i| Dimension {
                name: format!("b{i:02}"),
                values: vec!["0".into(), "1".into()],
                default: "0".into(),
            })
            .collect()
    }

    fn always(_: &str, _: &Configuration) -> bool {
        true
    }

    /// Every combination of `strength` items that some normalised configuration shows.
    fn allowed(
        dimensions: &[Dimension],
        strength: usize,
        visible: Visible<'_>,
    ) -> BTreeSet<Vec<(String, String)>> {
        let mut space = Space::new(dimensions, visible);
        let every = space.every_configuration();
        let strength = strength.min(dimensions.len());
        let mut out = BTreeSet::new();
        for point in &every {
            for subset in subsets(dimensions.len(), strength) {
                out.insert(
                    subset
                        .iter()
                        .map(|&d| (dimensions[d].name.clone(), dimensions[d].values[point[d]].clone()))
                        .collect(),
                );
            }
        }
        out
    }

    fn assert_covers(dimensions: &[Dimension], strength: usize, visible: Visible<'_>) -> Cover {
        let cover = cover(dimensions, strength, visible);
        let shown: BTreeSet<Vec<(String, String)>> = cover
            .configurations
            .iter()
            .flat_map(|config| {
                subsets(dimensions.len(), strength.min(dimensions.len())).into_iter().map(move |subset| {
                    subset
                        .iter()
                        .map(|&d| (dimensions[d].name.clone(), config[&dimensions[d].name].clone()))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let missing: Vec<_> = allowed(dimensions, strength, visible).difference(&shown).cloned().collect();
        assert!(missing.is_empty(), "{} combination(s) not covered: {missing:?}", missing.len());
        // Only shown configurations: hidden items keep their defaults.
        let mut space = Space::new(dimensions, visible);
        for config in &cover.configurations {
            let point: Point = dimensions
                .iter()
                .map(|d| d.values.iter().position(|v| *v == config[&d.name]).unwrap())
                .collect();
            assert_eq!(space.normalise(&point), point, "{config:?} is not normalised");
        }
        cover
    }

    #[test]
    fn few_items_are_proved_exhaustively() {
        let cover = assert_covers(&bools(3), 3, &always);
        assert!(cover.exhaustive);
        assert_eq!(cover.configurations.len(), 8);
        assert_eq!(cover.configurations[0].values().filter(|v| *v == "1").count(), 0, "defaults first");
    }

    #[test]
    fn many_items_get_a_three_way_array_far_smaller_than_exhaustive() {
        let cover = assert_covers(&bools(12), 3, &always);
        assert!(!cover.exhaustive);
        assert_eq!(cover.all_combinations, 4096);
        assert!(cover.configurations.len() <= 40, "{} configurations", cover.configurations.len());
    }

    #[test]
    fn strength_two_is_smaller_than_strength_three() {
        let two = assert_covers(&bools(10), 2, &always);
        let three = assert_covers(&bools(10), 3, &always);
        assert!(two.configurations.len() < three.configurations.len());
    }

    #[test]
    fn a_hidden_item_does_not_vary() {
        // b01 is shown only when b00 is on.
        let dimensions = bools(4);
        let visible = |name: &str, config: &Configuration| name != "b01" || config["b00"] == "1";
        let cover = assert_covers(&dimensions, 3, &visible);
        assert!(cover.configurations.iter().all(|c| c["b00"] == "1" || c["b01"] == "0"));
        assert!(cover.configurations.iter().any(|c| c["b01"] == "1"), "the child is shown on somewhere");
    }

    /// A small deterministic generator, so the property test needs no extra crate.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self, below: usize) -> usize {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((self.0 >> 33) % below as u64) as usize
        }
    }

    #[test]
    fn random_item_sets_with_when_constraints_are_covered() {
        let mut random = Lcg(0x5eed);
        for case in 0..60 {
            let n = 2 + random.next(6);
            let dimensions: Vec<Dimension> = (0..n)
                .map(|i| {
                    let choices = if random.next(3) == 0 { 2 + random.next(3) } else { 2 };
                    let values: Vec<String> = (0..choices).map(|c| format!("v{c}")).collect();
                    let default = values[random.next(choices)].clone();
                    Dimension { name: format!("i{i}"), values, default }
                })
                .collect();
            // Some items are shown only when an earlier item has a given value (KOTS `when`).
            let parents: BTreeMap<String, (String, String)> = (1..n)
                .filter(|_| random.next(3) == 0)
                .collect::<Vec<_>>()
                .into_iter()
                .map(|i| {
                    let parent = random.next(i);
                    let value =
                        dimensions[parent].values[random.next(dimensions[parent].values.len())].clone();
                    (dimensions[i].name.clone(), (dimensions[parent].name.clone(), value))
                })
                .collect();
            let visible = |name: &str, config: &Configuration| match parents.get(name) {
                Some((parent, value)) => config.get(parent) == Some(value),
                None => true,
            };
            for strength in [2, 3] {
                let cover = assert_covers(&dimensions, strength, &visible);
                assert!(
                    cover.configurations.len() as u64 <= cover.all_combinations,
                    "case {case}: more configurations than combinations"
                );
            }
        }
    }
}
