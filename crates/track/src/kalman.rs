//! Box motion for tracking: DeepSORT's constant-velocity Kalman filter on (centre x, centre y,
//! aspect ratio w/h, height). Its noises are diagonal, so the 8-state filter splits exactly into
//! four independent (value, velocity) filters, one per coordinate, each in closed form.

use reid_modeling::BBox;

/// Position and velocity noise per unit of box height (DeepSORT's weights).
const STD_POSITION: f32 = 1.0 / 20.0;
const STD_VELOCITY: f32 = 1.0 / 160.0;
/// The aspect ratio's noises (absolute, as DeepSORT).
const STD_ASPECT: f32 = 1e-2;
const STD_ASPECT_VELOCITY: f32 = 1e-5;

/// One coordinate: value, velocity and their 2×2 covariance `[pp, pv, vv]`.
#[derive(Debug, Clone, Copy)]
struct Axis {
    x: f32,
    v: f32,
    p: [f32; 3],
}

impl Axis {
    fn new(x: f32, std_x: f32, std_v: f32) -> Self {
        Self {
            x,
            v: 0.0,
            p: [(2.0 * std_x).powi(2), 0.0, (10.0 * std_v).powi(2)],
        }
    }

    /// One time step: x += v, P = F P Fᵀ + Q.
    fn predict(&mut self, q_x: f32, q_v: f32) {
        self.x += self.v;
        let [pp, pv, vv] = self.p;
        self.p = [pp + 2.0 * pv + vv + q_x, pv + vv, vv + q_v];
    }

    /// Measurement `z` with variance `r`.
    fn update(&mut self, z: f32, r: f32) {
        let [pp, pv, vv] = self.p;
        let s = pp + r;
        let (kx, kv) = (pp / s, pv / s);
        let innovation = z - self.x;
        self.x += kx * innovation;
        self.v += kv * innovation;
        self.p = [(1.0 - kx) * pp, (1.0 - kx) * pv, vv - kv * pv];
    }
}

/// The motion state of one track.
#[derive(Debug, Clone)]
pub struct Motion {
    cx: Axis,
    cy: Axis,
    aspect: Axis,
    h: Axis,
}

fn measure(b: &BBox) -> [f32; 4] {
    let h = b.height().max(1.0);
    [(b.x1 + b.x2) / 2.0, (b.y1 + b.y2) / 2.0, b.width() / h, h]
}

impl Motion {
    pub fn new(b: &BBox) -> Self {
        let [cx, cy, a, h] = measure(b);
        let (sp, sv) = (STD_POSITION * h, STD_VELOCITY * h);
        Self {
            cx: Axis::new(cx, sp, sv),
            cy: Axis::new(cy, sp, sv),
            aspect: Axis::new(a, STD_ASPECT, STD_ASPECT_VELOCITY),
            h: Axis::new(h, sp, sv),
        }
    }

    /// Advances one frame.
    pub fn predict(&mut self) {
        let h = self.h.x.max(1.0);
        let (qp, qv) = ((STD_POSITION * h).powi(2), (STD_VELOCITY * h).powi(2));
        self.cx.predict(qp, qv);
        self.cy.predict(qp, qv);
        self.h.predict(qp, qv);
        self.aspect
            .predict(STD_ASPECT.powi(2), STD_ASPECT_VELOCITY.powi(2));
    }

    /// Corrects with an observed box.
    pub fn update(&mut self, b: &BBox) {
        let [cx, cy, a, h] = measure(b);
        let r = (STD_POSITION * self.h.x.max(1.0)).powi(2);
        self.cx.update(cx, r);
        self.cy.update(cy, r);
        self.h.update(h, r);
        self.aspect.update(a, STD_ASPECT.powi(2) * 10.0);
    }

    /// The predicted box.
    pub fn bbox(&self) -> BBox {
        let h = self.h.x.max(1.0);
        let w = self.aspect.x.max(0.05) * h;
        BBox {
            x1: self.cx.x - w / 2.0,
            y1: self.cy.x - h / 2.0,
            x2: self.cx.x + w / 2.0,
            y2: self.cy.x + h / 2.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(x: f32) -> BBox {
        BBox {
            x1: x,
            y1: 100.0,
            x2: x + 40.0,
            y2: 200.0,
        }
    }

    #[test]
    fn a_steadily_moving_box_is_predicted_ahead() {
        let mut m = Motion::new(&at(0.0));
        for step in 1..=20 {
            m.predict();
            m.update(&at(5.0 * step as f32));
        }
        m.predict();
        let b = m.bbox();
        // The next position is 105; the filter has learnt the 5 px/frame velocity.
        assert!((b.x1 - 105.0).abs() < 1.5, "{b:?}");
        assert!(
            (b.height() - 100.0).abs() < 1.0 && (b.width() - 40.0).abs() < 1.0,
            "{b:?}"
        );
        // Without measurements it keeps moving.
        m.predict();
        assert!((m.bbox().x1 - 110.0).abs() < 2.0);
    }

    #[test]
    fn a_scalar_update_matches_the_kalman_formula() {
        let mut a = Axis {
            x: 0.0,
            v: 1.0,
            p: [4.0, 1.0, 2.0],
        };
        a.update(2.0, 4.0);
        // K = P Hᵀ / (pp + r) = [4, 1] / 8.
        assert!((a.x - 1.0).abs() < 1e-6 && (a.v - 1.25).abs() < 1e-6);
        assert!((a.p[0] - 2.0).abs() < 1e-6 && (a.p[1] - 0.5).abs() < 1e-6);
        assert!((a.p[2] - 1.875).abs() < 1e-6);
    }
}
