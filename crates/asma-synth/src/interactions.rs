//! Motion programs of the two-person actions. Person 0 (the performer named in the file)
//! acts, person 1 (the partner) reacts or cooperates. Each pose is in its owner's body
//! frame; the two stand `gap` apart facing each other, so a point of the partner's body is
//! brought into the actor's frame with [`from_partner`]. Contacts (fist on face, hands on
//! chest, hands meeting) are aimed at where the other body actually is, whatever the two
//! people's sizes.

use std::f64::consts::TAU;

use super::actions::{from_partner, mark, Cast};
use super::body::{Side, Subject};
use super::math::{envelope, keys, smooth, v3, V3};
use super::motions;
use super::pose::Pose;

/// Standing body-frame position of a trunk-frame landmark (no lean).
fn standing(s: &Subject, trunk_point: V3) -> V3 {
    v3(0.0, s.shoulder_height(), 0.0) + trunk_point
}

/// Palm of `side` towards a body-frame `target`, elbow towards `pole` (trunk frame).
fn reach_body(p: &mut Pose, side: Side, target: V3, pole: V3, w: f64) {
    let h = p.hand(side);
    h.body = target;
    h.w_body = w;
    h.pole = h.pole.lerp(pole, w);
}

/// Moves a person (pelvis and both feet) `d` metres forward; feet arrive one after the
/// other between progress `a` and `b`, like a step.
fn walk(p: &mut Pose, d: f64, u: f64, a: f64, b: f64, lead: Side) {
    let mid = 0.5 * (a + b);
    p.pelvis.z += d * smooth((u - a) / (b - a));
    p.foot(lead).offset.z += d * smooth((u - a) / (mid - a));
    p.foot(lead).offset.y += 0.05 * envelope(u, a, 0.5 * (a + mid), 0.5 * (a + mid), mid);
    p.foot(lead.other()).offset.z += d * smooth((u - mid) / (b - mid));
    p.foot(lead.other()).offset.y += 0.05 * envelope(u, mid, 0.5 * (mid + b), 0.5 * (mid + b), b);
}

/// A050: step in, strike the partner's face with a punch or (variant) a slap; the partner
/// recoils, turns the head away and raises the hands.
pub fn punch(c: &Cast, u: f64) -> [Pose; 2] {
    let (me, you) = (c.me(), c.partner());
    let mut a = Pose::rest(me);
    let mut b = Pose::rest(you);
    let k = c.side.sign();
    let slap = c.variant >= 0.6;
    // Step in until the fist can reach the face.
    let close_in = (c.gap - 0.2 - 0.85 * me.arm_reach()).clamp(0.05, 0.6);
    walk(&mut a, close_in, u, 0.1, 0.35, c.side.other());
    let face = from_partner(
        standing(you, v3(0.0, you.neck + 0.5 * you.head, 0.08)),
        c.gap,
    );
    let face = face + c.jit[0] * 0.3;
    let guard = v3(k * 0.12, 0.05, 0.22);
    let wind = if slap {
        v3(k * (me.shoulder_half + 0.3), 0.15, 0.0)
    } else {
        guard
    };
    let rest = a.hand(c.side).trunk;
    a.hand(c.side).trunk = keys(
        u,
        &[
            (0.0, rest),
            (0.3, guard),
            (0.4, wind),
            (0.65, guard),
            (0.9, rest),
        ],
    );
    let pole = if slap {
        v3(k, 0.2, -0.3)
    } else {
        v3(k * 0.6, -1.0, -0.2)
    };
    let hit = envelope(u, 0.38, 0.5, 0.52, 0.65);
    reach_body(
        &mut a,
        c.side,
        face + v3(-k * 0.06 * f64::from(slap), 0.0, 0.0),
        pole,
        hit,
    );
    a.hand(c.side).wrist = if slap { -0.2 } else { 0.6 };
    a.twist = keys(
        u,
        &[
            (0.0, 0.0),
            (0.4, k * 0.3),
            (0.5, -k * 0.35 * c.amp),
            (0.8, 0.0),
        ],
    );
    a.lean += 0.2 * hit;
    // The partner reacts just after the impact.
    let r = envelope(u, 0.48, 0.58, 0.75, 0.95);
    b.lean -= 0.2 * c.amp * r;
    b.head_pitch -= 0.3 * r;
    b.head_yaw += if slap { k * 0.5 * r } else { 0.0 };
    walk(&mut b, -0.12 * r.min(1.0), u, 0.5, 0.7, Side::Right);
    for side in [Side::Left, Side::Right] {
        let t = v3(side.sign() * 0.1, 0.12, 0.25);
        let h = b.hand(side);
        h.trunk = h.trunk.lerp(t, envelope(u, 0.5, 0.6, 0.75, 0.95));
    }
    [a, b]
}

/// A051: step in and kick the partner's shin or belly; the partner doubles over and steps
/// back.
pub fn kick_other(c: &Cast, u: f64) -> [Pose; 2] {
    let mut a = motions::kick(c, u);
    let shift = 0.15 * c.amp * envelope(u, 0.05, 0.25, 0.8, 1.0);
    a.pelvis.z += shift;
    for f in &mut a.feet {
        f.offset.z += shift;
    }
    let you = c.partner();
    let mut b = Pose::rest(you);
    let r = envelope(u, 0.42, 0.52, 0.7, 0.95);
    b.lean += 0.4 * c.amp * r;
    b.head_pitch += 0.2 * r;
    b.pelvis.z -= 0.15 * r;
    for side in [Side::Left, Side::Right] {
        let t = mark::stomach(you) + v3(side.sign() * 0.06, 0.0, 0.05);
        let h = b.hand(side);
        h.trunk = h.trunk.lerp(t, r);
    }
    [a, b]
}

/// A052: both hands on the partner's chest, push through; the partner staggers back.
pub fn push(c: &Cast, u: f64) -> [Pose; 2] {
    let (me, you) = (c.me(), c.partner());
    let mut a = Pose::rest(me);
    let mut b = Pose::rest(you);
    let chest = from_partner(standing(you, mark::chest(you)), c.gap) + c.jit[0] * 0.3;
    let through = 0.25 * c.amp * smooth((u - 0.4) / 0.2);
    let contact = envelope(u, 0.2, 0.4, 0.6, 0.85);
    for side in [Side::Left, Side::Right] {
        let t = chest + v3(side.sign() * 0.13, 0.0, -0.03 + through);
        reach_body(&mut a, side, t, v3(side.sign() * 0.6, -1.0, -0.3), contact);
        a.hand(side).wrist = -0.6 * contact;
    }
    // Step in until the hands can reach the chest, then a push-through step.
    let close_in = (c.gap - 0.13 - 0.8 * me.arm_reach()).clamp(0.0, 0.6);
    walk(&mut a, close_in, u, 0.05, 0.3, c.side.other());
    walk(&mut a, 0.15 * c.amp, u, 0.38, 0.6, c.side.other());
    a.lean += 0.2 * envelope(u, 0.3, 0.45, 0.6, 0.8);
    // The partner is driven back by the push and keeps the distance.
    let back = 0.35 * c.amp * smooth((u - 0.42) / 0.25);
    b.pelvis.z -= back;
    b.lean += keys(u, &[(0.4, 0.0), (0.5, -0.15), (0.7, 0.1), (0.9, 0.0)]);
    let lead = if c.variant < 0.5 {
        Side::Left
    } else {
        Side::Right
    };
    b.foot(lead).offset.z -= back * smooth((u - 0.45) / 0.12);
    b.foot(lead.other()).offset.z -= back * smooth((u - 0.55) / 0.12);
    for side in [Side::Left, Side::Right] {
        let t = v3(side.sign() * (you.shoulder_half + 0.25), -0.2, 0.05);
        let h = b.hand(side);
        h.trunk = h.trunk.lerp(t, envelope(u, 0.45, 0.55, 0.7, 0.9));
    }
    [a, b]
}

/// A055: walk towards each other, arms around the partner's back (one over the shoulders,
/// one under the arms), rock a little, let go and step back half way.
pub fn hug(c: &Cast, u: f64) -> [Pose; 2] {
    let who = [c.me(), c.partner()];
    let m = ((c.gap - 0.32) * 0.5).max(0.0);
    // On release each steps back half of the way it came.
    let back = 0.5 * m * smooth((u - 0.8) / 0.15);
    let wrap = envelope(u, 0.25, 0.42, 0.72, 0.85);
    let open = envelope(u, 0.1, 0.25, 0.4, 0.5);
    let high = if c.variant < 0.5 { 0 } else { 1 };
    let mut poses = [Pose::rest(who[0]), Pose::rest(who[1])];
    for (i, p) in poses.iter_mut().enumerate() {
        let (s, o) = (who[i], who[1 - i]);
        let lead = if i == 0 { c.side } else { Side::Right };
        walk(p, m, u, 0.05, 0.35, lead);
        p.pelvis.z -= back;
        for f in &mut p.feet {
            f.offset.z -= back;
        }
        let y = if i == high {
            o.shoulder_height() - 0.04
        } else {
            s.shoulder_height() - 0.28
        };
        let back_z = c.gap - m + 0.1;
        for side in [Side::Left, Side::Right] {
            let k = side.sign();
            let wide = v3(k * (s.shoulder_half + 0.3), 0.0, 0.25);
            let h = p.hand(side);
            h.trunk = h.trunk.lerp(wide, open);
            let t = v3(k * 0.12, y, back_z) + c.jit[i * 2 + side.index()] * 0.3;
            reach_body(p, side, t, v3(k, -0.2, -0.3), wrap);
        }
        p.lean += 0.1 * wrap;
        p.head_yaw += 0.4 * wrap * if i == 0 { 1.0 } else { -1.0 };
        p.pelvis.x += 0.03 * (TAU * 1.5 * u).sin() * wrap;
    }
    poses
}

/// A056: hand an object over: the actor holds it out half way, the partner takes it and
/// brings it back to the waist.
pub fn give(c: &Cast, u: f64) -> [Pose; 2] {
    let (me, you) = (c.me(), c.partner());
    let mut a = Pose::rest(me);
    let mut b = Pose::rest(you);
    let y = 0.5 * (me.pelvis_height() + you.pelvis_height()) + 0.12 + c.jit[0].y * 0.5;
    let meet = v3(c.side.sign() * 0.04, y, 0.5 * c.gap);
    let ka = c.side.sign();
    let carry = mark::stomach(me) + v3(ka * 0.1, 0.05, 0.12);
    let rest = a.hand(c.side).trunk;
    a.hand(c.side).trunk = rest.lerp(carry, 1.0 - smooth((u - 0.3) / 0.2));
    reach_body(
        &mut a,
        c.side,
        meet,
        v3(ka * 0.5, -1.0, -0.2),
        envelope(u, 0.15, 0.4, 0.58, 0.8),
    );
    let lean = 0.15 * (c.gap - 1.0).max(0.0) / 0.3;
    a.lean += lean * envelope(u, 0.2, 0.4, 0.58, 0.8);
    let bs = you.dominant;
    let kb = bs.sign();
    reach_body(
        &mut b,
        bs,
        from_partner(meet, c.gap),
        v3(kb * 0.5, -1.0, -0.2),
        envelope(u, 0.3, 0.45, 0.58, 0.8),
    );
    let taken = mark::stomach(you) + v3(kb * 0.1, 0.05, 0.12);
    let h = b.hand(bs);
    h.trunk = h.trunk.lerp(taken, smooth((u - 0.55) / 0.25));
    b.lean += lean * envelope(u, 0.3, 0.45, 0.58, 0.8);
    [a, b]
}

/// A058: step towards each other, right hands meet half way, shake, let go, step back.
pub fn handshake(c: &Cast, u: f64) -> [Pose; 2] {
    let who = [c.me(), c.partner()];
    let m = ((c.gap - 0.8) * 0.5).max(0.0);
    let y0 = 0.5 * (who[0].pelvis_height() + who[1].pelvis_height()) + 0.08 + c.jit[0].y * 0.5;
    let phase = ((u - 0.42) / 0.28).clamp(0.0, 1.0) * c.cycles.round().clamp(2.0, 4.0);
    let grip = envelope(u, 0.2, 0.4, 0.72, 0.9);
    let pump = 0.04 * c.amp * (TAU * phase).sin() * grip;
    // Meeting point in person 0's frame; the palms touch at the mid-line.
    let meet = v3(-0.03, y0 + pump, 0.5 * c.gap);
    let mut poses = [Pose::rest(who[0]), Pose::rest(who[1])];
    for (i, p) in poses.iter_mut().enumerate() {
        let step = m * (smooth((u - 0.05) / 0.25) - smooth((u - 0.8) / 0.18));
        p.pelvis.z += step;
        p.foot(Side::Right).offset.z += step;
        p.foot(Side::Left).offset.z += step * 0.5;
        let t = if i == 0 {
            meet
        } else {
            from_partner(meet, c.gap)
        };
        reach_body(p, Side::Right, t, v3(-0.5, -1.0, -0.2), grip);
        p.hand(Side::Right).wrist = -0.2 * grip;
        p.lean += 0.06 * grip;
    }
    poses
}

#[cfg(test)]
mod tests {
    use super::super::body::joint as j;
    use super::super::pose::forward;
    use super::*;

    fn cast<'a>(a: &'a Subject, b: &'a Subject, variant: f64) -> Cast<'a> {
        Cast {
            who: [a, b],
            gap: 1.2,
            side: Side::Right,
            amp: 1.0,
            cycles: 3.0,
            variant,
            jit: [V3::ZERO; 4],
        }
    }

    /// Person 1's joint in person 0's frame.
    fn theirs(p: V3, gap: f64) -> V3 {
        from_partner(p, gap)
    }

    #[test]
    fn handshake_hands_meet_and_hug_arms_reach_the_back() {
        let (a, b) = (Subject::new(1, 0, 1), Subject::new(1, 1, 1));
        let c = cast(&a, &b, 0.3);
        let [pa, pb] = handshake(&c, 0.5);
        let (fa, fb) = (forward(&a, &pa).pos, forward(&b, &pb).pos);
        let d = (fa[j::HAND_R] - theirs(fb[j::HAND_R], c.gap)).norm();
        assert!(d < 0.1, "hands {d} apart");
        let [ha, hb] = hug(&c, 0.6);
        let (fa, fb) = (forward(&a, &ha).pos, forward(&b, &hb).pos);
        let their_back = theirs(fb[j::SPINE_MID], c.gap).z;
        assert!(
            fa[j::HAND_L].z > their_back - 0.15,
            "{} {their_back}",
            fa[j::HAND_L].z
        );
    }

    #[test]
    fn punch_reaches_the_face_and_push_moves_the_partner_back() {
        let (a, b) = (Subject::new(1, 0, 2), Subject::new(1, 1, 2));
        let c = cast(&a, &b, 0.1);
        let [pa, pb] = punch(&c, 0.51);
        let (fa, fb) = (forward(&a, &pa).pos, forward(&b, &pb).pos);
        let d = (fa[j::HAND_R] - theirs(fb[j::HEAD], c.gap)).norm();
        assert!(d < 0.25, "fist {d} from the face");
        let [_, before] = push(&c, 0.3);
        let [_, after] = push(&c, 1.0);
        assert!(before.pelvis.z - after.pelvis.z > 0.25);
    }
}
