//! The working form of one connected component: blocks renumbered `0..m`, adjacency in compressed rows, coordinates
//! centred on the component so that moment-of-inertia sums keep their precision in projected metres.

use std::f64::consts::TAU;

/// One connected component, renumbered. Memory is O(blocks + adjacencies).
#[derive(Debug)]
pub(crate) struct Graph {
    pub population: Vec<f64>,
    pub area: Vec<f64>,
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    /// Facility bitmask per block; empty when no service mask is required.
    pub services: Vec<u32>,
    offsets: Vec<u32>,
    targets: Vec<u32>,
    /// Mean block area (at least 1): squared distances are divided by it so growth scores are unit-free.
    pub scale: f64,
}

impl Graph {
    /// Builds the component made of `blocks` (global indices) with neighbour lists already symmetric and local.
    pub fn new(
        population: Vec<f64>,
        area: Vec<f64>,
        centroid: &[[f64; 2]],
        services: Vec<u32>,
        neighbours: &[Vec<u32>],
    ) -> Self {
        let m = population.len();
        let (mx, my) = centroid
            .iter()
            .fold((0.0, 0.0), |(sx, sy), c| (sx + c[0], sy + c[1]));
        let (mx, my) = (mx / m.max(1) as f64, my / m.max(1) as f64);
        let mut offsets = Vec::with_capacity(m + 1);
        let mut targets = Vec::new();
        offsets.push(0);
        for list in neighbours {
            targets.extend_from_slice(list);
            offsets.push(targets.len() as u32);
        }
        let scale = (area.iter().sum::<f64>() / m.max(1) as f64).max(1.0);
        Graph {
            population,
            area,
            x: centroid.iter().map(|c| c[0] - mx).collect(),
            y: centroid.iter().map(|c| c[1] - my).collect(),
            services,
            offsets,
            targets,
            scale,
        }
    }

    pub fn len(&self) -> usize {
        self.population.len()
    }

    pub fn neighbours(&self, b: u32) -> &[u32] {
        let b = b as usize;
        &self.targets[self.offsets[b] as usize..self.offsets[b + 1] as usize]
    }

    pub fn services_of(&self, b: u32) -> u32 {
        self.services.get(b as usize).copied().unwrap_or(0)
    }
}

/// The bounds every unit must meet.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    pub min_population: f64,
    pub min_area: f64,
    /// Facility types every unit must contain (0 = none).
    pub required: u32,
}

/// Running sums of a unit: population, area, and the area-weighted first and second moments of block centroids, so
/// that adding or removing a block and re-evaluating compactness are O(1) (parallel-axis theorem).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Acc {
    pub population: f64,
    pub area: f64,
    sx: f64,
    sy: f64,
    sxx: f64,
}

impl Acc {
    pub fn add(&mut self, g: &Graph, b: u32) {
        let (a, x, y) = (g.area[b as usize], g.x[b as usize], g.y[b as usize]);
        self.population += g.population[b as usize];
        self.area += a;
        self.sx += a * x;
        self.sy += a * y;
        self.sxx += a * (x * x + y * y);
    }

    pub fn remove(&mut self, g: &Graph, b: u32) {
        let (a, x, y) = (g.area[b as usize], g.x[b as usize], g.y[b as usize]);
        self.population -= g.population[b as usize];
        self.area -= a;
        self.sx -= a * x;
        self.sy -= a * y;
        self.sxx -= a * (x * x + y * y);
    }

    pub fn with(mut self, g: &Graph, b: u32) -> Self {
        self.add(g, b);
        self
    }

    pub fn without(mut self, g: &Graph, b: u32) -> Self {
        self.remove(g, b);
        self
    }

    pub fn merged(mut self, other: &Acc) -> Self {
        self.population += other.population;
        self.area += other.area;
        self.sx += other.sx;
        self.sy += other.sy;
        self.sxx += other.sxx;
        self
    }

    /// Area-weighted centroid, or `None` for a unit without area.
    pub fn centroid(&self) -> Option<(f64, f64)> {
        (self.area > 0.0).then(|| (self.sx / self.area, self.sy / self.area))
    }

    /// Normalised moment of inertia: Σ aᵢ|cᵢ − c|² / (A² / 2π); 1 for a disc, larger for less compact shapes.
    pub fn inertia(&self) -> f64 {
        if self.area <= 0.0 {
            return 0.0;
        }
        let moment = (self.sxx - (self.sx * self.sx + self.sy * self.sy) / self.area).max(0.0);
        moment * TAU / (self.area * self.area)
    }

    /// Population and area bounds (not services) are met.
    pub fn meets(&self, bounds: &Bounds) -> bool {
        crate::validate::min_population::reaches(self.population, bounds.min_population)
            && self.area >= bounds.min_area
    }
}
