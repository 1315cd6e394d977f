//! Motion programs of the one-person actions: each maps action progress `u` ∈ [0, 1] to a
//! pose. `u` below 0 or above 1 never reaches them (the scene clamps it), so the pose at 0
//! is what the performer does before the action and the pose at 1 after it.
//!
//! The programs describe the action the way a person would explain it ("bring the hand to
//! the mouth, tip the head back, hold, lower the hand"); sizes come from the performer and
//! variety from the [`Cast`]: the hand used, the amplitude, the number of repetitions, the
//! variant and small target offsets.

use std::f64::consts::TAU;

use super::actions::{mark, Cast};
use super::body::Side;
use super::math::{envelope, keys, smooth, v3, V3};
use super::pose::Pose;

/// Moves the palm of `side` from where it is towards a trunk-frame `target` by weight `w`,
/// with the elbow pointing towards `pole` (trunk frame).
fn reach(p: &mut Pose, side: Side, target: V3, pole: V3, w: f64) {
    let h = p.hand(side);
    h.trunk = h.trunk.lerp(target, w);
    h.pole = h.pole.lerp(pole, w);
}

/// Same, with a body-frame target (floor, partner).
fn reach_body(p: &mut Pose, side: Side, target: V3, w: f64) {
    let h = p.hand(side);
    h.body = target;
    h.w_body = w;
}

/// A 0 → 1 → 0 oscillation at `cycles` repetitions over [a, b] of progress, faded in and
/// out so the hands start and end at rest.
fn repeat(u: f64, a: f64, b: f64, cycles: f64) -> f64 {
    let x = ((u - a) / (b - a)).clamp(0.0, 1.0);
    0.5 - 0.5 * (TAU * cycles * x).cos()
}

/// A001: cup to the mouth (or, variant, a bottle held with both hands), head back while
/// drinking, down again.
pub fn drink(c: &Cast, u: f64) -> Pose {
    let s = c.me();
    let mut p = Pose::rest(s);
    let k = c.side.sign();
    let e = envelope(u, 0.05, 0.35, 0.65, 0.95);
    let target = mark::mouth(s) + v3(k * 0.03, 0.0, 0.0) + c.jit[0] * 0.4;
    reach(&mut p, c.side, target, v3(k * 0.6, -1.0, -0.3), e);
    p.hand(c.side).wrist = 0.1 + 0.5 * e;
    if c.variant >= 0.7 {
        let under = target + v3(-k * 0.05, -0.07, 0.02);
        reach(&mut p, c.side.other(), under, v3(-k * 0.6, -1.0, -0.3), e);
    }
    let sip = envelope(u, 0.3, 0.42, 0.6, 0.72);
    p.head_pitch -= 0.28 * c.amp * sip;
    p.lean -= 0.05 * sip;
    p
}

/// A006: bend or squat down, take something from the floor, straighten up holding it.
pub fn pick_up(c: &Cast, u: f64) -> Pose {
    let s = c.me();
    let mut p = Pose::rest(s);
    let k = c.side.sign();
    let down = envelope(u, 0.1, 0.42, 0.52, 0.85);
    if c.variant < 0.5 {
        // Stoop: bend the back, knees only a little.
        p.lean += 1.05 * c.amp.min(1.1) * down;
        p.bend += 0.3 * down;
        p.pelvis = v3(0.0, -0.22, -0.12) * down;
    } else {
        // Squat: knees deep, back less bent.
        p.lean += 0.55 * down;
        p.pelvis = v3(0.0, -0.42 * c.amp.min(1.1), -0.12) * down;
    }
    p.head_pitch += 0.3 * down;
    let floor = v3(k * 0.15, 0.06, 0.42) + v3(c.jit[0].x, 0.0, c.jit[0].z);
    reach_body(&mut p, c.side, floor, envelope(u, 0.2, 0.42, 0.5, 0.72));
    let hold = smooth((u - 0.55) / 0.25);
    let carried = mark::stomach(s) + v3(k * 0.1, 0.05, 0.12);
    reach(&mut p, c.side, carried, v3(k * 0.5, -1.0, -0.3), hold);
    // The free hand steadies itself on the knee.
    let other = c.side.other();
    let knee = v3(-k * 0.12, s.ankle + s.shin + 0.05, 0.25);
    reach_body(&mut p, other, knee, 0.5 * down);
    p
}

/// A007: wind the arm back over the shoulder, step in and throw, follow through.
pub fn throw(c: &Cast, u: f64) -> Pose {
    let s = c.me();
    let mut p = Pose::rest(s);
    let k = c.side.sign();
    let a = c.amp;
    let sh = s.shoulder_half;
    let (rest, rest_pole) = (p.hand(c.side).trunk, p.hand(c.side).pole);
    let (hand, pole) = if c.variant < 0.65 {
        // Overhand: wind up over the shoulder, release high in front.
        let hand = keys(
            u,
            &[
                (0.0, rest),
                (0.3, v3(k * (sh + 0.12), 0.22 * a, -0.22 * a)),
                (0.45, v3(k * (sh + 0.1), 0.26 * a, -0.26 * a)),
                (0.58, v3(k * 0.12, 0.15 * a, 0.6)),
                (0.7, v3(-k * 0.1, -0.3, 0.4)),
                (1.0, rest),
            ],
        );
        let pole = keys(
            u,
            &[
                (0.0, rest_pole),
                (0.35, v3(k * 0.6, 0.3, -0.6)),
                (0.6, v3(k * 0.5, -0.6, -0.2)),
                (1.0, rest_pole),
            ],
        );
        (hand, pole)
    } else {
        // Underhand: swing back low behind the hip, release forward at waist height.
        let hand = keys(
            u,
            &[
                (0.0, rest),
                (0.35, v3(k * (sh + 0.08), -0.5, -0.3 * a)),
                (0.55, v3(k * 0.1, -0.15, 0.55)),
                (0.68, v3(k * 0.08, 0.12 * a, 0.45)),
                (1.0, rest),
            ],
        );
        let pole = keys(
            u,
            &[
                (0.0, rest_pole),
                (0.4, v3(k * 0.3, -0.2, -1.0)),
                (1.0, rest_pole),
            ],
        );
        (hand, pole)
    };
    let h = p.hand(c.side);
    h.trunk = hand;
    h.pole = pole;
    p.twist = keys(
        u,
        &[
            (0.0, 0.0),
            (0.4, k * 0.35 * a),
            (0.62, -k * 0.3 * a),
            (1.0, 0.0),
        ],
    );
    p.lean += keys(u, &[(0.0, 0.0), (0.4, -0.1), (0.62, 0.25 * a), (1.0, 0.0)]);
    // Opposite foot steps forward and stays; the pelvis follows half way.
    let step = smooth((u - 0.35) / 0.2) * 0.25 * a;
    p.foot(c.side.other()).offset.z += step;
    p.pelvis.z += 0.5 * step;
    // Free arm reaches forward for balance during the wind-up.
    let other = c.side.other();
    let fwd = envelope(u, 0.2, 0.4, 0.55, 0.8);
    reach(
        &mut p,
        other,
        v3(-k * 0.2, -0.1, 0.35),
        v3(-k * 0.5, -1.0, -0.3),
        fwd,
    );
    p
}

/// A008: lower onto a chair behind, hands end on the thighs.
pub fn sit_down(c: &Cast, u: f64) -> Pose {
    let s = c.me();
    let mut p = Pose::rest(s);
    let d = smooth((u - 0.15) / 0.6);
    let seat = 0.42 + 0.08 * c.variant;
    p.pelvis = v3(0.0, -(s.pelvis_height() - seat - 0.06) * d, -0.24 * d);
    p.lean += 0.5 * c.amp * envelope(u, 0.1, 0.45, 0.5, 0.9) + 0.06 * d;
    p.head_pitch += 0.1 * d;
    // Half of the people rest their hands on the thighs, the others keep their arms.
    let hands = if c.variant < 0.5 { 1.0 } else { 0.0 };
    for side in [Side::Left, Side::Right] {
        p.foot(side).offset.z = 0.06 * d;
        let thigh = v3(side.sign() * 0.13, seat + 0.12, 0.12);
        reach_body(&mut p, side, thigh, hands * smooth((u - 0.45) / 0.45));
    }
    p
}

/// A009: the exact time reversal of sitting down (the pair differs only in direction).
pub fn stand_up(c: &Cast, u: f64) -> Pose {
    sit_down(c, 1.0 - u)
}

/// A010: hands in front of the chest, repeated claps.
pub fn clap(c: &Cast, u: f64) -> Pose {
    let s = c.me();
    let mut p = Pose::rest(s);
    let e = envelope(u, 0.0, 0.18, 0.82, 1.0);
    let cycles = c.cycles.round().max(2.0) + 1.0;
    let open = 1.0 - repeat(u, 0.18, 0.82, cycles - 0.5);
    let sep = 0.015 + 0.14 * c.amp * open;
    // People clap anywhere from the belly to the face.
    let height = (c.variant - 0.4) * 0.3;
    let centre = v3(0.0, -0.07 * s.height + height, 0.36) + c.jit[0] * 0.5;
    for side in [Side::Left, Side::Right] {
        let k = side.sign();
        let t = centre + v3(k * sep * 0.5, 0.0, 0.0);
        reach(&mut p, side, t, v3(k * 0.35, -1.0, -0.3), e);
        p.hand(side).wrist = -0.1;
    }
    p
}

/// A023: raise one hand beside the head (variants: high above it, or both hands) and wave
/// the forearm side to side.
pub fn wave(c: &Cast, u: f64) -> Pose {
    let s = c.me();
    let mut p = Pose::rest(s);
    let e = envelope(u, 0.0, 0.2, 0.8, 1.0);
    let phase = ((u - 0.2) / 0.6).clamp(0.0, 1.0) * c.cycles;
    let sway = (TAU * phase).sin() * 0.12 * c.amp * e;
    let high = if (0.2..0.5).contains(&c.variant) {
        0.2
    } else {
        0.0
    };
    let sides: &[Side] = if c.variant < 0.2 {
        &[Side::Left, Side::Right]
    } else {
        std::slice::from_ref(&c.side)
    };
    for &side in sides {
        let k = side.sign();
        let t =
            v3(k * (s.shoulder_half + 0.1) + sway, 0.28 + high, 0.12) + c.jit[side.index()] * 0.5;
        reach(&mut p, side, t, v3(k * 0.7, -1.0, 0.1), e);
        p.hand(side).wrist = 0.3 * (TAU * phase).sin() * e;
    }
    p.head_yaw += c.side.sign() * 0.1 * e;
    p
}

/// A024: swing one leg back, kick forward, put it down; the arms counter-swing.
pub fn kick(c: &Cast, u: f64) -> Pose {
    let s = c.me();
    let mut p = Pose::rest(s);
    let k = c.side.sign();
    let a = c.amp;
    let leg = keys(
        u,
        &[
            (0.0, V3::ZERO),
            (0.25, v3(0.0, 0.12, -0.22)),
            (0.42, v3(-k * 0.03, 0.38 * a, 0.5 * a)),
            (0.6, v3(0.0, 0.1, 0.15)),
            (0.8, V3::ZERO),
        ],
    );
    let f = p.foot(c.side);
    f.offset = leg;
    f.toe = -0.5 * envelope(u, 0.3, 0.42, 0.45, 0.6);
    p.lean -= 0.18 * envelope(u, 0.3, 0.42, 0.45, 0.7);
    p.pelvis += v3(-k * 0.04, -0.03, 0.0) * envelope(u, 0.1, 0.25, 0.6, 0.85);
    let swing = envelope(u, 0.25, 0.42, 0.5, 0.8);
    let sh = s.shoulder_half;
    reach(
        &mut p,
        c.side.other(),
        v3(-k * 0.2, -0.15, 0.3),
        v3(-k * 0.5, -1.0, -0.3),
        swing,
    );
    reach(
        &mut p,
        c.side,
        v3(k * (sh + 0.15), -0.3, -0.2),
        v3(k * 0.5, -0.5, -1.0),
        swing,
    );
    p
}

/// A026: stand on one foot (the other lifted behind) and hop a few times.
pub fn hop(c: &Cast, u: f64) -> Pose {
    let s = c.me();
    let mut p = Pose::rest(s);
    let k = c.side.sign();
    let e = envelope(u, 0.0, 0.15, 0.85, 1.0);
    p.foot(c.side).offset = v3(0.0, 0.22, -0.12) * e;
    p.pelvis.x -= k * 0.05 * e;
    let phase = ((u - 0.15) / 0.7).clamp(0.0, 1.0) * c.cycles.round().max(2.0);
    let wave = (TAU * phase).sin();
    let lift = if wave > 0.0 {
        0.11 * c.amp * wave
    } else {
        0.04 * wave
    };
    p.pelvis.y += lift * e;
    // The support foot leaves the floor only while the pelvis is above standing height.
    p.foot(c.side.other()).offset.y = (lift - 0.015).max(0.0) * e;
    for side in [Side::Left, Side::Right] {
        let t = v3(side.sign() * (s.shoulder_half + 0.2), -0.3, 0.1);
        reach(&mut p, side, t, v3(side.sign() * 0.5, -0.4, -1.0), 0.7 * e);
    }
    p
}

/// A027: crouch with the arms back, jump with the arms up, land and straighten.
pub fn jump(c: &Cast, u: f64) -> Pose {
    let s = c.me();
    let mut p = Pose::rest(s);
    let a = c.amp;
    let y = keys(
        u,
        &[
            (0.0, 0.0),
            (0.25, -0.16 * a),
            (0.38, 0.28 * a),
            (0.48, 0.0),
            (0.58, -0.14 * a),
            (0.8, 0.0),
        ],
    );
    p.pelvis.y = y;
    p.lean += keys(
        u,
        &[
            (0.0, 0.0),
            (0.25, 0.35),
            (0.38, 0.0),
            (0.58, 0.3),
            (0.8, 0.0),
        ],
    );
    // Most people swing their arms; some keep them close.
    let swing = if c.variant < 0.3 { 0.25 } else { 1.0 };
    for side in [Side::Left, Side::Right] {
        let k = side.sign();
        // Airborne: the feet leave the floor with the pelvis, knees slightly tucked.
        p.foot(side).offset.y = (y - 0.015).max(0.0) * 0.9;
        let sh = s.shoulder_half;
        let rest = p.hand(side).trunk;
        let t = keys(
            u,
            &[
                (0.0, rest),
                (0.25, v3(k * (sh + 0.05), -0.35, -0.25)),
                (0.38, v3(k * (sh + 0.05), 0.45 * a, 0.15)),
                (0.58, v3(k * 0.2, -0.2, 0.3)),
                (0.85, rest),
            ],
        );
        p.hand(side).trunk = rest.lerp(t, swing);
    }
    p
}

/// A031: extend the arm forward and point, hold, lower.
pub fn point(c: &Cast, u: f64) -> Pose {
    let s = c.me();
    let mut p = Pose::rest(s);
    let k = c.side.sign();
    let e = envelope(u, 0.1, 0.35, 0.75, 0.95);
    let t = v3(k * 0.18, 0.12, s.arm_reach() * 0.95) + c.jit[0];
    reach(&mut p, c.side, t, v3(k * 0.5, -1.0, 0.0), e);
    p.hand(c.side).wrist = -0.1 * e;
    p.head_yaw += k * 0.15 * e;
    p
}

/// A035: a bow from the hips, or (variant) two or three nods of the head.
pub fn bow(c: &Cast, u: f64) -> Pose {
    let s = c.me();
    let mut p = Pose::rest(s);
    if c.variant < 0.5 {
        let e = envelope(u, 0.1, 0.4, 0.55, 0.9);
        p.lean += 0.6 * c.amp * e;
        p.head_pitch += 0.25 * e;
        p.pelvis.z -= 0.06 * e;
    } else {
        p.head_pitch += 0.35 * c.amp * repeat(u, 0.1, 0.9, c.cycles.round().clamp(2.0, 3.0));
        p.lean += 0.08 * envelope(u, 0.1, 0.2, 0.8, 0.9);
    }
    p
}

/// A038: a crisp salute, flat hand at the brow with the elbow raised sideways.
pub fn salute(c: &Cast, u: f64) -> Pose {
    let s = c.me();
    let mut p = Pose::rest(s);
    let k = c.side.sign();
    let e = envelope(u, 0.15, 0.3, 0.7, 0.85);
    let brow = v3(k * 0.07, s.neck + s.head + 0.05, 0.1) + c.jit[0] * 0.3;
    reach(&mut p, c.side, brow, v3(k * 1.0, 0.15, -0.1), e);
    p.hand(c.side).wrist = -0.25 * e;
    p.head_pitch -= 0.05 * e;
    p
}

/// A043: stagger, knees give way, hands break the fall, end lying face down, the body
/// turned anywhere between a forward and a sideways fall; or (variant) sit down hard and
/// topple onto the back.
pub fn fall(c: &Cast, u: f64) -> Pose {
    if c.variant >= 0.75 {
        return fall_back(c, u);
    }
    let s = c.me();
    let mut p = Pose::rest(s);
    let ph = s.pelvis_height();
    p.turn = (c.variant / 0.75 - 0.5) * 2.2 * smooth((u - 0.15) / 0.5);
    p.pelvis = keys(
        u,
        &[
            (0.0, V3::ZERO),
            (0.15, v3(0.05 * (c.variant - 0.5), -0.03, 0.03)),
            (0.5, v3(0.0, -(ph - 0.42), 0.05)),
            (0.8, v3(0.0, -(ph - 0.17), 0.25)),
        ],
    );
    p.lean = keys(
        u,
        &[
            (0.0, s.stoop),
            (0.15, 0.15),
            (0.5, 0.8 * c.amp.min(1.1)),
            (0.8, 1.45),
        ],
    );
    p.head_pitch = keys(u, &[(0.0, 0.05), (0.5, 0.1), (0.8, -0.35)]);
    let w = keys(u, &[(0.0, 0.0), (0.3, 0.0), (0.5, 1.0)]);
    for side in [Side::Left, Side::Right] {
        let k = side.sign();
        let hand = keys(
            u,
            &[
                (0.3, v3(k * 0.22, 0.4, 0.6)),
                (0.5, v3(k * 0.22, 0.05, 0.6)),
                (0.8, v3(k * 0.3, 0.05, 0.95)),
            ],
        );
        reach_body(&mut p, side, hand + c.jit[side.index()] * 0.5, w);
        let f = p.foot(side);
        f.offset = keys(
            u,
            &[
                (0.15, V3::ZERO),
                (0.5, v3(0.0, 0.0, -0.35)),
                (0.8, v3(0.0, 0.0, -0.55)),
            ],
        );
        f.pole = keys(
            u,
            &[
                (0.15, f.pole),
                (0.5, v3(k * 0.1, -0.5, 1.0)),
                (0.8, v3(k * 0.1, -1.0, 0.2)),
            ],
        );
        f.toe = keys(u, &[(0.3, 0.0), (0.8, -1.2)]);
    }
    p
}

/// The backward fall: buttocks to the floor, hands behind, lying on the back.
fn fall_back(c: &Cast, u: f64) -> Pose {
    let s = c.me();
    let mut p = Pose::rest(s);
    let ph = s.pelvis_height();
    p.turn = (c.variant - 0.875) * 2.0 * smooth((u - 0.15) / 0.5);
    p.pelvis = keys(
        u,
        &[
            (0.0, V3::ZERO),
            (0.15, v3(0.0, -0.05, -0.03)),
            (0.5, v3(0.0, -(ph - 0.16), -0.35)),
            (0.8, v3(0.0, -(ph - 0.12), -0.45)),
        ],
    );
    p.lean = keys(
        u,
        &[
            (0.0, s.stoop),
            (0.15, 0.2),
            (0.5, 0.1),
            (0.8, -1.35 * c.amp.min(1.1)),
        ],
    );
    p.head_pitch = keys(u, &[(0.0, 0.05), (0.5, 0.3), (0.8, 0.4)]);
    let w = keys(
        u,
        &[(0.0, 0.0), (0.3, 0.0), (0.5, 1.0), (0.7, 1.0), (0.85, 0.0)],
    );
    for side in [Side::Left, Side::Right] {
        let k = side.sign();
        // Hands catch the fall behind the hips, then the arms lie beside the body.
        let hand = v3(k * 0.3, 0.05, -0.55) + c.jit[side.index()] * 0.5;
        reach_body(&mut p, side, hand, w);
        let lying = v3(k * (s.shoulder_half + 0.1), -0.45, 0.0);
        let h = p.hand(side);
        h.trunk = h.trunk.lerp(lying, smooth((u - 0.6) / 0.2));
        let f = p.foot(side);
        f.offset = keys(
            u,
            &[
                (0.15, V3::ZERO),
                (0.5, v3(0.0, 0.0, 0.25)),
                (0.8, v3(0.0, 0.0, 0.35)),
            ],
        );
        f.pole = keys(u, &[(0.15, f.pole), (0.5, v3(k * 0.2, 1.0, 0.6))]);
    }
    p
}

/// A044: one palm to the forehead (or both to the temples), head bowed, a little rubbing.
pub fn touch_head(c: &Cast, u: f64) -> Pose {
    let s = c.me();
    let mut p = Pose::rest(s);
    let k = c.side.sign();
    let e = envelope(u, 0.05, 0.3, 0.75, 0.95);
    let rub = v3(
        (TAU * 3.0 * u).sin() * 0.015,
        (TAU * 3.0 * u).cos() * 0.01,
        0.0,
    ) * e;
    if c.variant < 0.65 {
        let t = mark::forehead(s) + v3(k * 0.03, 0.0, 0.0) + c.jit[0] * 0.4 + rub;
        reach(&mut p, c.side, t, v3(k * 1.0, -0.45, -0.1), e);
    } else {
        for side in [Side::Left, Side::Right] {
            let t = mark::temple(s, side) + c.jit[side.index()] * 0.3 + rub;
            reach(&mut p, side, t, v3(side.sign() * 1.0, -0.3, -0.1), e);
        }
    }
    p.head_pitch += 0.18 * c.amp * e;
    p.lean += 0.08 * e;
    p
}

/// A045: a palm pressed on the chest (or, variant, the other on the stomach), hunched.
pub fn touch_chest(c: &Cast, u: f64) -> Pose {
    let s = c.me();
    let mut p = Pose::rest(s);
    let k = c.side.sign();
    let e = envelope(u, 0.05, 0.3, 0.75, 0.95);
    let t = mark::chest(s) + c.jit[0] * 0.4;
    reach(&mut p, c.side, t, v3(k * 0.6, -1.0, -0.2), e);
    if c.variant >= 0.6 {
        let other = c.side.other();
        let t2 = mark::stomach(s) + c.jit[1] * 0.4;
        reach(&mut p, other, t2, v3(-k * 0.6, -1.0, -0.2), e);
    }
    p.lean += 0.25 * c.amp * e;
    p.bend += 0.1 * e;
    p.head_pitch += 0.2 * e;
    p.pelvis.y -= 0.03 * e;
    p
}

#[cfg(test)]
mod tests {
    use super::super::body::{joint as j, Subject};
    use super::super::pose::forward;
    use super::*;

    fn cast(s: &Subject, variant: f64) -> Cast<'_> {
        Cast {
            who: [s, s],
            gap: 1.1,
            side: Side::Right,
            amp: 1.0,
            cycles: 3.0,
            variant,
            jit: [V3::ZERO; 4],
        }
    }

    #[test]
    fn contact_actions_bring_the_palm_where_they_say() {
        let s = Subject::new(2, 0, 3);
        let c = cast(&s, 0.0);
        let head = forward(&s, &touch_head(&c, 0.5)).pos;
        assert!(
            (head[j::HAND_R] - head[j::HEAD]).norm() < 0.16,
            "palm near the head"
        );
        let chest = forward(&s, &touch_chest(&c, 0.5)).pos;
        assert!(chest[j::HAND_R].y < chest[j::SPINE_SHOULDER].y);
        assert!(chest[j::HAND_R].y > chest[j::SPINE_MID].y - 0.05);
        let drink = forward(&s, &drink(&c, 0.5)).pos;
        assert!((drink[j::HAND_R] - drink[j::HEAD]).norm() < 0.2);
    }

    #[test]
    fn standing_up_reverses_sitting_down() {
        let s = Subject::new(2, 0, 4);
        let c = cast(&s, 0.5);
        // Quarters are exact in binary, so 1 − u is exact and the poses are identical.
        for u in [0.0, 0.25, 0.5, 0.75, 1.0] {
            assert_eq!(sit_down(&c, u), stand_up(&c, 1.0 - u));
        }
        let seated = forward(&s, &sit_down(&c, 1.0)).pos;
        let standing = forward(&s, &sit_down(&c, 0.0)).pos;
        assert!(standing[j::SPINE_BASE].y - seated[j::SPINE_BASE].y > 0.3);
        // Feet stay on the floor, knees come up.
        assert!((seated[j::ANKLE_L].y - standing[j::ANKLE_L].y).abs() < 0.02);
        assert!(seated[j::KNEE_L].z > standing[j::KNEE_L].z + 0.15);
    }

    #[test]
    fn jump_leaves_the_floor_and_fall_ends_on_it() {
        let s = Subject::new(2, 0, 5);
        let c = cast(&s, 0.5);
        let air = forward(&s, &jump(&c, 0.38)).pos;
        assert!(air[j::FOOT_L].y > 0.15, "{:?}", air[j::FOOT_L]);
        for variant in [0.5, 0.9] {
            let lying = forward(&s, &fall(&cast(&s, variant), 1.0)).pos;
            assert!(lying[j::HEAD].y < 0.6, "{variant}: {:?}", lying[j::HEAD]);
            assert!(lying[j::SPINE_BASE].y < 0.3);
        }
    }

    #[test]
    fn every_program_starts_and_ends_near_rest() {
        let s = Subject::new(2, 0, 6);
        let c = cast(&s, 0.3);
        let rest = forward(&s, &Pose::rest(&s)).pos;
        let progs: [fn(&Cast, f64) -> Pose; 12] = [
            drink, pick_up, throw, clap, wave, kick, hop, jump, point, bow, salute, touch_head,
        ];
        for (i, f) in progs.iter().enumerate() {
            // pick up (program 1) ends holding the object in front of the waist.
            let ends = if i == 1 { &[0.0][..] } else { &[0.0, 1.0][..] };
            for &u in ends {
                let b = forward(&s, &f(&c, u)).pos;
                let worst = (0..j::COUNT)
                    .map(|i| (b[i] - rest[i]).norm())
                    .fold(0.0, f64::max);
                assert!(worst < 0.35, "program {i} at {u}: {worst}");
            }
        }
    }
}
